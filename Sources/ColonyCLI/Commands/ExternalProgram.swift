import ColonyKernel
import ColonyWork
import Foundation
import Synchronization

/// Runs a reference program for a benchmark and captures what it prints.
enum ExternalProgram {
    /// The first of `candidates` (names looked up in PATH, or absolute paths) that exists and is executable.
    static func find(_ candidates: [String]) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for candidate in candidates {
            if candidate.hasPrefix("/") {
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                continue
            }
            for folder in path.split(separator: ":") {
                let full = "\(folder)/\(candidate)"
                if FileManager.default.isExecutableFile(atPath: full) { return full }
            }
        }
        return nil
    }

    /// Runs `executable` with `arguments` and `input` on standard input; returns its status and outputs.
    static func run(_ executable: String, _ arguments: [String], input: String = "") throws -> (
        status: Int32, output: String, error: String
    ) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a chatty program cannot block on a full pipe.
        let errorData = Mutex<Data>(Data())
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            let data = stderr.fileHandleForReading.readDataToEndOfFile()
            errorData.withLock { $0 = data }
        }
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: output, as: UTF8.self),
            String(decoding: errorData.withLock { $0 }, as: UTF8.self)
        )
    }
}

/// A benchmark that could not produce a trustworthy figure: a reference failed, or results disagree.
struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A job computed through the engine for a benchmark: outputs kept in memory, then assembled.
enum BenchmarkRun {
    /// Seconds the engine took on `cores` cores (assembly not counted), and the assembled summary.
    static func timed(_ job: PreparedJob, cores: Int) throws -> (seconds: Double, summary: KernelSummary) {
        var configuration = EngineConfiguration()
        configuration.cores = cores
        // The reference runs at normal priority; so must we, or any other load on the machine skews the ratio.
        configuration.lowPriority = false
        let engine = try WorkerEngine(configuration: configuration)
        var result: EngineResult?
        let elapsed = ContinuousClock().measure {
            result = engine.run(kernel: job.kernel, units: job.units, store: MemoryUnitStore())
        }
        guard let result, result.isComplete else {
            throw result?.failure ?? BenchmarkError("the run did not complete")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "colony-bench-\(getpid())-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let summary = try job.kernel.assemble(result.outputs.map { $0! }, parameters: job.spec.parameters, into: scratch)
        return (elapsed.seconds, summary)
    }
}
