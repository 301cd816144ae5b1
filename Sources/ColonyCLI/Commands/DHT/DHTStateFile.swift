import ColonyCore
import ColonyDHT
import ColonyKernel
import Foundation

/// DATA-DIR/dht/state.json: what a running `colony dht serve` shows of itself, for `colony dht stats` and for
/// programs (the libtorrent interop test reads its `nodes`).
enum DHTStateFile {
    /// The file's name in the node's state folder.
    static let name = "state.json"

    /// Writes the node's ID, endpoint, table, storage and counters into `folder`.
    static func write(_ node: LiveDHTNode, to folder: URL) throws {
        let endpoint = node.endpoint
        let state = node.withNode { dht, _ in (json(dht, endpoint: endpoint.description), []) }
        try AtomicFile.createFolder(folder)
        try AtomicFile.write(
            Data((JSONText.serialize(state, pretty: true) + "\n").utf8), to: folder.appendingPathComponent(name))
    }

    private static func json(_ node: DHTNode, endpoint: String) -> JSONValue {
        let stats = node.statistics
        let nodes = node.table.nodes.sorted { node.id.isCloser($0.id, than: $1.id) }
        return .object([
            "id": .string(node.id.hex), "endpoint": .string(endpoint),
            "pid": .int(Int(ProcessInfo.processInfo.processIdentifier)), "updated": .string(Format.utcTimestamp()),
            "readOnly": .bool(node.configuration.readOnly), "tableSize": .int(node.table.count),
            "buckets": .int(node.table.bucketCount), "items": .int(node.storage.itemCount),
            "peers": .int(node.storage.peerCount),
            "externalAddress": node.externalAddress.map { .string($0.description) } ?? .null,
            "queriesReceived": .object(stats.queriesReceived.mapValues { .int($0) }),
            "errorsSent": .object(Dictionary(uniqueKeysWithValues: stats.errorsSent.map { (String($0.key), JSONValue.int($0.value)) })),
            "queriesSent": .int(stats.queriesSent), "responsesReceived": .int(stats.responsesReceived),
            "timeouts": .int(stats.timeouts), "malformed": .int(stats.malformed), "unmatched": .int(stats.unmatched),
            "nodes": .array(nodes.map { .object(["id": .string($0.id.hex), "endpoint": .string($0.endpoint.description)]) }),
        ])
    }
}
