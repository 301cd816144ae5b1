import Foundation
import Testing

/// Isolation in a real swarm: `colony worker` processes given a job whose kernel traps on half its units keep
/// running, record an error for each trapping unit, and every other unit is validated by a quorum.
extension BlobSwarmTests {
    @Test func workersSurviveAHundredTrappingUnitsAndEveryOtherUnitIsValidated() throws {
        let colony = try #require(colonyExecutable())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-trap-swarm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let processes = Processes()
        func directory(_ name: String) -> String { folder.appendingPathComponent(name).path }
        let network = "test-" + UUID().uuidString.prefix(8).lowercased()
        var environment = ProcessInfo.processInfo.environment
        environment["COLONY_TEST_KERNELS"] = "1"

        let (node, nodeOutput) = try start(
            colony, ["node", "--host", "127.0.0.1", "--port", "0", "--network", network, "--json", "--data-dir", directory("node")],
            environment: environment)
        processes.running.append(node)
        processes.outputs.append(nodeOutput)
        let line = try #require(firstLine(of: nodeOutput))
        let listening = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let seed = try #require(listening["endpoint"] as? String)

        // Two workers on distinct /24s, so their agreeing results make a quorum; each unit gets one attempt from each.
        var workers: [Process] = []
        for index in 0..<2 {
            let (worker, output) = try start(
                colony, ["worker", "--cores", "1", "--kernels", "test-trap", "--host", "127.0.\(21 + index).1", "--bootstrap", seed,
                         "--network", network, "--json", "--data-dir", directory("worker\(index)")],
                environment: environment)
            processes.running.append(worker)
            processes.outputs.append(output)
            workers.append(worker)
            #expect(firstLine(of: output) != nil)
        }

        let spec = folder.appendingPathComponent("trap.json")
        try Data(
            #"{"kernel": "test-trap", "title": "traps on even units", "parameters": {"count": 200, "trapEvery": 2}, "redundancy": {"replicas": 2, "quorum": 2, "maxAttempts": 2}, "leaseSeconds": 60}"#
                .utf8
        ).write(to: spec)
        let (published, publishText) = try run(
            colony, ["publish", spec.path, "--host", "127.0.0.1", "--bootstrap", seed, "--network", network, "--json", "--data-dir", directory("publisher")],
            environment: environment)
        #expect(published == 0, "\(publishText)")
        let publishLine = try #require(publishText.split(separator: "\n").last(where: { $0.hasPrefix("{") }))
        let job = try #require((try JSONSerialization.jsonObject(with: Data(publishLine.utf8)) as? [String: Any])?["job"] as? String)

        let (_, statusText) = try run(
            colony, ["status", job, "--watch", "--timeout", "600", "--host", "127.0.0.1", "--bootstrap", seed, "--network", network, "--json",
                     "--data-dir", directory("watcher")],
            environment: environment)
        let statusLine = try #require(statusText.split(separator: "\n").last(where: { $0.hasPrefix("{") }), "\(statusText)")
        let status = try #require(try JSONSerialization.jsonObject(with: Data(statusLine.utf8)) as? [String: Any])
        #expect(status["units"] as? Int == 200)
        #expect(status["validated"] as? Int == 100, "\(statusLine)")
        #expect(status["failed"] as? Int == 100, "\(statusLine)")
        // Both workers went through 100 traps each and are still running.
        #expect(workers.allSatisfy { $0.isRunning })
    }
}
