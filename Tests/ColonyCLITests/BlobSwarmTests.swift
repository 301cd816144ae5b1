import Foundation
import Testing

/// `colony blob` across real processes on 127.0.0.1: a blob outlives the peer that put it.
@Suite(.serialized) struct BlobSwarmTests {
    final class Processes {
        var running: [Process] = []
        /// Kept open so that a serving process never writes into a closed pipe.
        var outputs: [FileHandle] = []
        deinit { stop() }

        /// Ends every process still running (SIGTERM, as Ctrl-C would) and waits until each has exited, up to 10 s
        /// before SIGKILL. A test removes its folder after this: a worker stopped after it writes its DHT table into
        /// its data directory as it exits, and made the folder again (`colony-worker-*` folders left in the
        /// temporary directory by every `swift test`).
        func stop() {
            let live = running.filter(\.isRunning)
            for process in live { process.terminate() }
            let exited = DispatchGroup()
            for process in live {
                exited.enter()
                DispatchQueue.global().async {
                    process.waitUntilExit()
                    exited.leave()
                }
            }
            guard exited.wait(timeout: .now() + 10) == .timedOut else { return }
            for process in live where process.isRunning { kill(process.processIdentifier, SIGKILL) }
            exited.wait()
        }

        /// `stop`, then removes `folder`, the processes' data directories.
        func stop(removing folder: URL) {
            stop()
            try? FileManager.default.removeItem(at: folder)
        }
    }

    /// Starts `colony` with its standard output on a pipe, read by `firstLine(of:)`.
    func start(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> (Process, FileHandle) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        return (process, pipe.fileHandleForReading)
    }

    func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The first line the process writes: read on a helper thread (reads block) and awaited for at most
    /// `seconds`; nil when the process ends or stays silent.
    func firstLine(of output: FileHandle, seconds: Double = 60) -> String? {
        final class Line: @unchecked Sendable { var text: String? }
        let line = Line()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var bytes: [UInt8] = []
            while true {
                let data = output.readData(ofLength: 1)
                guard let byte = data.first, byte != UInt8(ascii: "\n") else { break }
                bytes.append(byte)
            }
            line.text = bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return line.text
    }

    @Test func aBlobOutlivesItsPublisherKilledWithSignal9() throws {
        let colony = try #require(colonyExecutable())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-blob-swarm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let processes = Processes()
        defer { processes.stop(removing: folder) }
        // Three holders; the first listens on a port the others join through.
        var endpoints: [String] = []
        for index in 0..<3 {
            var arguments = ["dht", "serve", "--host", "127.0.0.1", "--port", "0", "--json", "--data-dir", folder.appendingPathComponent("n\(index)").path]
            if let first = endpoints.first { arguments += ["--bootstrap", first] }
            let (process, output) = try start(colony, arguments)
            processes.running.append(process)
            processes.outputs.append(output)
            let line = try #require(firstLine(of: output))
            let listening = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            endpoints.append(try #require(listening["endpoint"] as? String))
        }
        // A 5 MiB file put by a peer that keeps serving, then dies without warning.
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(5 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let input = folder.appendingPathComponent("input.bin")
        try Data(bytes).write(to: input)
        let (publisher, putOutput) = try start(
            colony, ["blob", "put", input.path, "--serve", "--bootstrap", endpoints[0], "--replicas", "2", "--json",
                     "--data-dir", folder.appendingPathComponent("a").path])
        processes.running.append(publisher)
        let putLine = try #require(firstLine(of: putOutput))
        let put = try #require(try JSONSerialization.jsonObject(with: Data(putLine.utf8)) as? [String: Any])
        let root = try #require(put["root"] as? String)
        #expect((put["holders"] as? [String])?.count ?? 0 >= 2)
        kill(publisher.processIdentifier, SIGKILL)
        publisher.waitUntilExit()

        let output = folder.appendingPathComponent("output.bin")
        let (status, text) = try run(
            colony, ["blob", "get", root, "-o", output.path, "--bootstrap", endpoints[1], "--json",
                     "--data-dir", folder.appendingPathComponent("d").path])
        #expect(status == 0, "\(text)")
        #expect(try Data(contentsOf: output) == Data(bytes))

        // Bad hashes are refused before anything touches the disk or the network.
        for bad in ["../../etc/passwd", String(repeating: "z", count: 64), "ab/cd"] {
            let (code, message) = try run(colony, ["blob", "get", bad, "-o", output.path, "--bootstrap", endpoints[0]])
            #expect(code == 2)
            #expect(message.contains("is not 64 hex digits"))
        }
        for process in processes.running where process.isRunning { process.interrupt() }
        for process in processes.running { process.waitUntilExit() }
    }
}
