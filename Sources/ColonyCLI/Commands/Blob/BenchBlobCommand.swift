import ColonyBlobs
import ColonyCore
import ColonyKernel
import ColonyNet
import Foundation

/// `colony bench blob`: blob transfer between two peers over loopback TCP against a bare loopback socket copy.
enum BenchBlobCommand: Command {
    static let description = CommandDescription(
        name: "blob",
        abstract: "Move a blob between two peers over loopback TCP, against a bare socket copy",
        discussion: """
            Writes SIZE random bytes to a file and puts it in peer A's store (not timed). Then, timed: peer B \
            fetches it from A over a real loopback TCP connection, every chunk read and verified by A, sent, \
            verified by B and written to B's store. In the same run the same number of bytes goes through a \
            bare loopback socket (send, receive, discard). Prints both rates, their ratio, and how far peak \
            memory rose above idle during the transfer. It also measures SHA-256 on one core and prints the \
            verification ceiling: the rate at which all cores could do nothing but hash every byte twice (once \
            by each peer), as a ratio of the bare copy; no verified transfer on this machine can beat it.
            """,
        options: [
            .value("size", "BYTES", help: "Blob size: a number with an optional KiB, MiB or GiB (default: 256MiB)."),
            .value("rounds", "N", help: "Rounds; each rate is the best (default: 3)."),
            .json,
        ],
        examples: ["swift run -c release colony bench blob", "colony bench blob --size 1GiB --json"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let size = try Format.byteSize(arguments.value("size") ?? "256MiB", option: "--size")
        let rounds = try arguments.int("rounds", in: 1...20) ?? 3
        let console = environment.console
        let json = arguments.flag("json")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-bench-blob-\(UUID().uuidString)")
        try AtomicFile.createFolder(folder)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("input.bin")
        try writeRandomFile(file, size: size)
        let source = try BlobStore(folder: folder.appendingPathComponent("a"))
        let manifest = try source.put(file: file)
        try? FileManager.default.removeItem(at: file)
        let server = BlobServer(store: source, host: "127.0.0.1", port: 0)
        try server.start()
        defer { server.stop() }

        var bestBlob = 0.0
        var bestBare = 0.0
        var peakAboveIdle = 0.0
        for round in 0..<rounds {
            let destination = try BlobStore(folder: folder.appendingPathComponent("b\(round)"))
            let fetcher = BlobFetcher(store: destination)
            let idle = ProcessMemory.residentMiB
            ProcessMemory.resetPeak()
            let started = Date()
            _ = try fetcher.fetch(manifest.id, from: [server.endpoint])
            let seconds = Date().timeIntervalSince(started)
            peakAboveIdle = max(peakAboveIdle, ProcessMemory.peakMiB - idle)
            bestBlob = max(bestBlob, Double(size) / seconds)
            try? FileManager.default.removeItem(at: folder.appendingPathComponent("b\(round)"))
            bestBare = max(bestBare, try LoopbackCopy.measure(bytes: size))
            if !json { console.note("round \(round + 1): blob \(format(Double(size) / seconds)), bare \(format(bestBare)) best so far") }
        }
        let ratio = bestBlob / bestBare
        let hashRate = sha256BytesPerSecond()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let ceiling = hashRate * Double(cores) / 2
        if json {
            console.printJSON(.object([
                "bytes": .int(size), "chunks": .int(manifest.chunkHashes.count), "rounds": .int(rounds),
                "blobBytesPerSecond": .double(bestBlob), "bareBytesPerSecond": .double(bestBare), "ratio": .double(ratio),
                "peakMemoryAboveIdleMiB": .double(peakAboveIdle), "sha256BytesPerSecondPerCore": .double(hashRate),
                "cores": .int(cores), "verificationCeilingBytesPerSecond": .double(ceiling),
                "verificationCeilingRatio": .double(ceiling / bestBare),
            ]))
        } else {
            console.print("blob transfer  \(format(bestBlob))  (\(manifest.chunkHashes.count) chunks, each verified by both peers)")
            console.print("bare loopback  \(format(bestBare))")
            console.print(String(format: "ratio          %.2f", ratio))
            console.print(String(format: "peak memory    %.1f MiB above idle", peakAboveIdle))
            console.print(
                "SHA-256        \(format(hashRate)) on one core; hashing every byte twice on \(cores) cores caps a "
                    + "verified transfer at \(format(ceiling)), "
                    + String(format: "ratio %.2f", ceiling / bestBare))
        }
        return ExitStatus.success
    }

    private static func format(_ bytesPerSecond: Double) -> String {
        String(format: "%.0f MiB/s", bytesPerSecond / 1_048_576)
    }

    /// SHA-256 bytes per second on one core, hashing a 1 MiB buffer (the chunk size) for about half a second.
    private static func sha256BytesPerSecond() -> Double {
        let chunk = [UInt8](repeating: 0x5A, count: 1 << 20)
        var hashed = 0
        var sink: UInt8 = 0
        let started = Date()
        while Date().timeIntervalSince(started) < 0.5 {
            sink ^= SHA256.hash(chunk).bytes[0]
            hashed += chunk.count
        }
        let seconds = Date().timeIntervalSince(started)
        // Keeps the digests alive so the loop cannot be optimised away.
        if sink == 0 && hashed < 0 { print(sink) }
        return Double(hashed) / seconds
    }

    /// Random bytes from a fast seeded generator (the bench needs incompressible bytes, not secrecy).
    private static func writeRandomFile(_ url: URL, size: Int) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw FileSystemError(path: url.path, action: "create", code: errno)
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var generator = SeededGenerator(seed: 0xB10B)
        var left = size
        var buffer = [UInt64](repeating: 0, count: 1 << 17)
        while left > 0 {
            for index in buffer.indices { buffer[index] = generator.next() }
            let count = min(left, buffer.count * 8)
            try buffer.withUnsafeBytes { try handle.write(contentsOf: Data($0.prefix(count))) }
            left -= count
        }
    }
}
