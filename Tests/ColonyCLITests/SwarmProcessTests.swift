import Foundation
import Testing

/// A job across real processes on loopback: one `colony node`, three `colony worker`s (each on its own 127.0.N.1),
/// one `colony publish`, then `colony status` and `colony results` from peers that took no part.
extension BlobSwarmTests {
    @Test func aJobIsComputedByWorkerProcessesAndReverifiedByAnOutsider() throws {
        let colony = try #require(colonyExecutable())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-job-swarm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let processes = Processes()
        defer { processes.stop(removing: folder) }
        func directory(_ name: String) -> String { folder.appendingPathComponent(name).path }
        // A network of its own: peers of other tests on this machine hear each other on the LAN (BEP 14).
        let network = "test-" + UUID().uuidString.prefix(8).lowercased()

        let (node, nodeOutput) = try start(colony, ["node", "--host", "127.0.0.1", "--port", "0", "--network", network, "--json", "--data-dir", directory("node")])
        processes.running.append(node)
        processes.outputs.append(nodeOutput)
        let line = try #require(firstLine(of: nodeOutput))
        let listening = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let seed = try #require(listening["endpoint"] as? String)

        // Each worker on a loopback network of its own: agreeing replicas count only from distinct /24s.
        for index in 0..<3 {
            let (worker, output) = try start(
                colony, ["worker", "--cores", "1", "--kernels", "mersenne", "--host", "127.0.\(11 + index).1", "--bootstrap", seed, "--network", network, "--json",
                         "--data-dir", directory("worker\(index)")])
            processes.running.append(worker)
            processes.outputs.append(output)
            #expect(firstLine(of: output) != nil)
        }

        let spec = folder.appendingPathComponent("mersenne-2000.json")
        try Data(
            #"{"kernel": "mersenne", "title": "Mersenne exponents below 2,000", "parameters": {"below": 2000, "exponentsPerUnit": 25}, "redundancy": {"replicas": 2, "quorum": 2, "maxAttempts": 10}, "leaseSeconds": 30}"#
                .utf8
        ).write(to: spec)
        let (published, publishText) = try run(
            colony, ["publish", spec.path, "--host", "127.0.0.1", "--bootstrap", seed, "--network", network, "--json", "--data-dir", directory("publisher")])
        #expect(published == 0, "\(publishText)")
        let job = try #require(try lastJSONObject(in: publishText)["job"] as? String)

        // `status --watch` returns once every unit is decided.
        let (watched, statusText) = try run(
            colony, ["status", job, "--watch", "--timeout", "300", "--host", "127.0.0.1", "--bootstrap", seed, "--network", network, "--json", "--data-dir", directory("watcher")])
        #expect(watched == 0, "\(statusText)")

        let out = folder.appendingPathComponent("out")
        let (status, text) = try run(
            colony, ["results", job, "--out", out.path, "--host", "127.0.0.1", "--bootstrap", seed, "--network", network, "--json", "--data-dir", directory("outsider")])
        #expect(status == 0, "\(text)")
        let results = try lastJSONObject(in: text)
        let summary = try #require(results["summary"] as? [String: Any])
        #expect(summary["exponents"] as? [Int] == [2, 3, 5, 7, 13, 17, 19, 31, 61, 89, 107, 127, 521, 607, 1279])
        #expect(results["badSignatures"] as? Int == 0)
        #expect((results["validated"] as? Int) == (results["units"] as? Int))

        // Credit (issue 14): two outsiders recompute every worker's credit from the records on their own, and agree
        // to the unit; between them the workers hold every validated replica.
        func credit(_ name: String, _ which: [String]) throws -> [[String: Any]] {
            let (status, text) = try run(
                colony, ["credit"] + which + ["--facts", "--host", "127.0.0.1", "--bootstrap", seed, "--network", network, "--json", "--data-dir", directory(name)])
            #expect(status == 0, "\(text)")
            return try #require(try lastJSONObject(in: text)["workers"] as? [[String: Any]])
        }
        let first = try credit("auditor1", [job])
        let second = try credit("auditor2", [job])
        #expect(NSArray(array: first).isEqual(to: second))
        // Given only a worker's key, the custodians that leased to it say where its evidence is (DHT, then
        // co_evidence): the same figures, found without naming the job.
        let someone = try #require(first.first)
        let key = try #require(someone["worker"] as? String)
        let found = try credit("auditor3", ["--worker", key])
        #expect(found.count == 1)
        #expect(NSDictionary(dictionary: try #require(found.first)).isEqual(to: someone))
        let units = try #require(results["units"] as? Int)
        // Replicas 2, quorum 2: each validated unit credits at least two workers one unit each.
        #expect(first.compactMap { $0["valid"] as? Int }.reduce(0, +) >= 2 * units)
        // Credit in the kernel's own unit: Lucas–Lehmer iterations, never added to another kernel's.
        #expect(first.allSatisfy { ($0["credit"] as? [String: Double])?.keys.sorted() ?? [] == ["Lucas–Lehmer iterations"] })
        #expect(first.allSatisfy { ($0["invalid"] as? Int) == 0 })

        // A job ID that is not one is a usage error.
        let (bad, badText) = try run(colony, ["results", "../x", "--bootstrap", seed, "--data-dir", directory("outsider")])
        #expect(bad == 2, "\(badText)")
    }
}
