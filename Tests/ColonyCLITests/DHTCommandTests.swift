import ColonyDHT
import ColonyNet
import Foundation
import Testing

/// `colony dht` against a few real nodes on 127.0.0.1.
@Suite(.serialized) struct DHTCommandTests {
    /// Three nodes on loopback, joined to one another.
    static func swarm() throws -> [LiveDHTNode] {
        var nodes: [LiveDHTNode] = []
        for _ in 0..<3 {
            let node = try LiveDHTNode(udp: UDPConfiguration(host: "127.0.0.1", port: 0), stateFolder: nil)
            try node.start()
            if let first = nodes.first { node.join([first.endpoint], timeout: 10) }
            nodes.append(node)
        }
        return nodes
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func putThenGetImmutableAndMutable() throws {
        let nodes = try Self.swarm()
        defer { nodes.forEach { $0.stop() } }
        let bootstrap = nodes[1].endpoint.description

        let put = CLIHarness()
        defer { put.cleanUp() }
        #expect(put.run("dht", "put", "--bootstrap", bootstrap, "Hello World!", "--json") == 0, "\(put.error)")
        let stored = try json(put.output)
        // BEP 44's immutable test vector: the target of "12:Hello World!".
        #expect(stored["target"] as? String == "e5f96f6f38320f0f33959cb4d3d656452117aadb")
        #expect((stored["stored"] as? Int ?? 0) >= 1)

        let get = CLIHarness()
        defer { get.cleanUp() }
        #expect(get.run("dht", "get", "--bootstrap", nodes[2].endpoint.description, "e5f96f6f38320f0f33959cb4d3d656452117aadb") == 0)
        #expect(get.output == "Hello World!\n")

        #expect(put.run("dht", "put", "--bootstrap", bootstrap, "--mutable", "--salt", "s", "--seq", "4", "v4", "--json") == 0)
        let mutable = try json(String(put.output.split(separator: "\n").last!))
        let key = try #require(mutable["publicKey"] as? String)
        let read = CLIHarness()
        defer { read.cleanUp() }
        #expect(read.run("dht", "get", "--bootstrap", bootstrap, key, "--salt", "s", "--json") == 0)
        let value = try json(read.output)
        #expect(value["value"] as? String == "v4")
        #expect(value["seq"] as? Int == 4)
        // Without the salt it is another target, which nobody holds.
        #expect(read.run("dht", "get", "--bootstrap", bootstrap, key, "--timeout", "10") == 1)
    }

    @Test func pingFindNodeAndBadInput() throws {
        let nodes = try Self.swarm()
        defer { nodes.forEach { $0.stop() } }
        let cli = CLIHarness()
        defer { cli.cleanUp() }
        #expect(cli.run("dht", "ping", nodes[0].endpoint.description, "--json") == 0)
        #expect(try json(cli.output)["id"] as? String == nodes[0].id.hex)

        let find = CLIHarness()
        defer { find.cleanUp() }
        #expect(find.run("dht", "find-node", "--bootstrap", nodes[0].endpoint.description, nodes[2].id.hex, "--json") == 0)
        let found = try json(find.output)
        let first = try #require((found["nodes"] as? [[String: Any]])?.first)
        #expect(first["id"] as? String == nodes[2].id.hex)
        #expect(first["colony"] as? Bool == true)

        let bad = CLIHarness()
        defer { bad.cleanUp() }
        #expect(bad.run("dht", "get", "xyz") == 2)
        #expect(bad.error.contains("TARGET 'xyz' is neither 40 hex digits"))
        #expect(bad.run("dht", "get", "e5f96f6f38320f0f33959cb4d3d656452117aadb") == 2)
        #expect(bad.error.contains("no node to join through: pass --bootstrap HOST:PORT"))
        #expect(bad.run("dht", "put", "--bootstrap", "nowhere", "x") == 2)
        #expect(bad.error.contains("--bootstrap 'nowhere' is not HOST:PORT"))
        #expect(bad.run("dht", "put", "--salt", "s", "--bootstrap", "127.0.0.1:1", "x") == 2)
        #expect(bad.run("dht", "put", "--bootstrap", "127.0.0.1:1", String(repeating: "x", count: 1000)) == 2)
        #expect(bad.error.contains("BEP 44 allows at most 1000"))
    }
}
