import Foundation
import Testing

/// Issue 12: a worker whose bootstrap is dead idled forever without a word. It says so, tries again with backoff,
/// and joins once the bootstrap node is up.
@Suite(.serialized) struct JoinRetryTests {
    @Test func aWorkerWhoseBootstrapIsDownSaysSoAndJoinsOnceItIsUp() throws {
        let colony = try #require(colonyExecutable())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-join-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let support = BlobSwarmTests()
        // A port nothing listens on: a node's, stopped.
        let (probe, probeOutput) = try support.start(
            colony, ["dht", "serve", "--host", "127.0.0.1", "--port", "0", "--json", "--data-dir", folder.appendingPathComponent("n").path])
        let line = try #require(support.firstLine(of: probeOutput))
        let endpoint = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["endpoint"] as? String)
        probe.terminate()
        probe.waitUntilExit()
        let port = try #require(endpoint.split(separator: ":").last.map(String.init))

        let worker = Process()
        worker.executableURL = colony
        worker.arguments = [
            "worker", "--host", "127.0.0.1", "--port", "0", "--no-local-discovery", "--bootstrap", endpoint, "--data-dir", folder.appendingPathComponent("w").path,
        ]
        let errors = Pipe()
        worker.standardError = errors
        worker.standardOutput = FileHandle.nullDevice
        try worker.run()
        let lines = LineCollector(errors.fileHandleForReading)
        defer {
            if worker.isRunning {
                worker.interrupt()
                worker.waitUntilExit()
            }
        }
        #expect(lines.wait(for: "trying again in", seconds: 90), "\(lines.text)")
        // The bootstrap node comes up on its port; the worker joins on its next try.
        let (node, _) = try support.start(
            colony, ["dht", "serve", "--host", "127.0.0.1", "--port", port, "--json", "--data-dir", folder.appendingPathComponent("n").path])
        defer {
            node.terminate()
            node.waitUntilExit()
        }
        #expect(lines.wait(for: "joined the swarm", seconds: 90), "\(lines.text)")
    }
}

/// Everything a process writes to a pipe, read on a thread of its own.
final class LineCollector: @unchecked Sendable {
    private let condition = NSCondition()
    private var collected = ""

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                condition.withLock { collected += String(decoding: data, as: UTF8.self) }
                condition.broadcast()
            }
        }
    }

    var text: String { condition.withLock { collected } }

    /// Waits until the text contains `needle`, for at most `seconds`.
    func wait(for needle: String, seconds: Double) -> Bool {
        let deadline = Date() + seconds
        return condition.withLock {
            while !collected.contains(needle) {
                if !condition.wait(until: deadline) { return collected.contains(needle) }
            }
            return true
        }
    }
}
