import Foundation
import Testing

/// Ctrl-C on a real `colony run` process, then the same command again.
@Suite struct InterruptTests {
    struct Report: Decodable {
        var interrupted: Bool
        var finished: Int?
        var checkpointed: Int?
        var computed: Int
        var reused: Int
        var resumed: Int
        var summary: [String: Double]?
    }

    @Test func ctrlCSavesCheckpointsAndTheSameCommandResumesToTheSameResult() throws {
        let colony = try #require(colonyExecutable(), "the colony executable is built next to the tests")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-sigint-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let spec = folder.appendingPathComponent("pi.json")
        try Data(#"{"kernel": "montecarlo-pi", "parameters": {"samples": 64000000, "samplesPerUnit": 2000000, "seed": 7}}"#.utf8)
            .write(to: spec)
        let arguments = [
            "run", spec.path, "--data-dir", folder.appendingPathComponent("data").path, "--out",
            folder.appendingPathComponent("out").path, "--json", "--verbose", "--cores", "2",
        ]

        // First run: interrupt it once a unit has finished and another has started after it.
        let first = Process()
        first.executableURL = colony
        first.arguments = arguments
        let firstOutput = Pipe()
        let firstErrors = Pipe()
        first.standardOutput = firstOutput
        first.standardError = firstErrors
        try first.run()
        var log = ""
        let reader = firstErrors.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            log += String(decoding: chunk, as: UTF8.self)
            let lines = log.components(separatedBy: "\n")
            if let finish = lines.firstIndex(where: { $0.contains(" finished (") }),
                lines[(finish + 1)...].contains(where: { $0.hasSuffix(" started") })
            {
                first.interrupt()
                break
            }
        }
        log += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
        first.waitUntilExit()
        #expect(first.terminationStatus == 130, "\(log)")
        #expect(log.contains("Interrupted: "))
        let stopped = try JSONDecoder().decode(Report.self, from: firstOutput.fileHandleForReading.readDataToEndOfFile())
        #expect(stopped.interrupted)
        #expect((stopped.finished ?? 0) >= 1)

        // Second run: the same command finishes, reusing what the first one saved.
        let second = Process()
        second.executableURL = colony
        second.arguments = arguments
        let secondOutput = Pipe()
        second.standardOutput = secondOutput
        second.standardError = FileHandle.nullDevice
        try second.run()
        let resumedData = secondOutput.fileHandleForReading.readDataToEndOfFile()
        second.waitUntilExit()
        #expect(second.terminationStatus == 0)
        let resumed = try JSONDecoder().decode(Report.self, from: resumedData)
        #expect(!resumed.interrupted)
        #expect(resumed.reused == stopped.finished)
        #expect(resumed.resumed == stopped.checkpointed)
        #expect(resumed.reused + resumed.computed == 32)

        // And the result is the one an uninterrupted run gives.
        let fresh = CLIHarness()
        defer { fresh.cleanUp() }
        #expect(fresh.run("run", spec.path, "--out", fresh.folder.appendingPathComponent("o").path, "--json") == 0)
        let reference = try JSONDecoder().decode(Report.self, from: Data(fresh.output.utf8))
        #expect(resumed.summary == reference.summary)
        #expect(resumed.summary?["inside"] != nil)
    }
}
