import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Kernels in child processes (issue 13, Isolation and Checkpoints on disk), through the real `colony` binary with
/// the misbehaving test kernels registered (`COLONY_TEST_KERNELS=1`).
@Suite(.serialized) struct IsolationTests {
    struct Report: Decodable {
        struct Failure: Decodable {
            var unit: Int
            var reason: String
        }
        var computed: Int
        var resumed: Int
        var reused: Int
        var isolated: Bool
        var failed: Int
        var failures: [Failure]?
        var summary: [String: Int]?
    }

    /// A scratch folder with a data directory, and the built binary to run in it.
    struct Scratch {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "colony-isolation-\(UUID().uuidString)")
        let colony: URL

        init() throws {
            colony = try #require(colonyExecutable(), "the colony executable is built next to the tests")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }

        func spec(_ name: String, _ text: String) throws -> String {
            let url = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            return url.path
        }

        func process(_ arguments: [String], data: String = "data", executable: URL? = nil) -> (Process, Pipe) {
            let process = Process()
            process.executableURL = executable ?? colony
            let dataDirectory =
                arguments.first == "run" ? ["--data-dir", folder.appendingPathComponent(data).path] : []
            process.arguments = arguments + ["--json"] + dataDirectory
            var environment = ProcessInfo.processInfo.environment
            environment["COLONY_TEST_KERNELS"] = "1"
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            return (process, output)
        }

        /// Runs `colony ARGUMENTS --json` to the end: its exit status and report.
        func run(_ arguments: [String], data: String = "data", executable: URL? = nil) throws -> (
            status: Int32, report: Report
        ) {
            let (process, output) = process(arguments, data: data, executable: executable)
            try process.run()
            let bytes = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let report = try JSONDecoder().decode(Report.self, from: bytes)
            return (process.terminationStatus, report)
        }

        /// The folder of the one run kept in the data directory.
        func runFolder(data: String = "data") throws -> URL {
            let runs = folder.appendingPathComponent(data).appendingPathComponent("runs")
            let names = try FileManager.default.contentsOfDirectory(atPath: runs.path)
            return runs.appendingPathComponent(try #require(names.first))
        }

        func cleanUp() { try? FileManager.default.removeItem(at: folder) }
    }

    @Test func aWorkerSurvivesAHundredTrappingUnitsAndEveryOtherUnitHasItsOutput() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let spec = try scratch.spec(
            "trap.json", #"{"kernel": "test-trap", "parameters": {"count": 200, "trapEvery": 2}}"#)
        let (status, report) = try scratch.run(["run", spec, "--keep-going", "--cores", "2"])
        #expect(status == 1)
        #expect(report.isolated)
        #expect(report.failed == 100)
        #expect(report.computed == 100)
        let failures = report.failures ?? []
        #expect(Set(failures.map(\.unit)) == Set(stride(from: 0, to: 200, by: 2)))
        #expect(
            failures.allSatisfy { $0.reason.contains("kernel host died: signal") }, "\(failures.first?.reason ?? "")")
        // Every unit that does not trap has its output stored: the square of its index.
        let folder = try scratch.runFolder()
        for unit in stride(from: 1, to: 200, by: 2) {
            let file = folder.appendingPathComponent("unit-" + String(format: "%06d", unit) + ".out")
            let output = try String(decoding: Data(contentsOf: file), as: UTF8.self)
            #expect(output == "\(unit * unit)", "unit \(unit)")
        }
    }

    @Test func aCustomWorkerIsolatesItsKernelsWithNothingMoreFromItsAuthor() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let customWorker = scratch.colony.deletingLastPathComponent().appendingPathComponent("custom-worker")
        try #require(FileManager.default.isExecutableFile(atPath: customWorker.path), "custom-worker is built beside colony")
        let spec = try scratch.spec("trap.json", #"{"kernel": "test-trap", "parameters": {"count": 10, "trapEvery": 2}}"#)
        let (status, report) = try scratch.run(["run", spec, "--keep-going"], executable: customWorker)
        #expect(status == 1)
        #expect(report.isolated)
        #expect(report.computed == 5)
        #expect(report.failed == 5)
    }

    @Test func aUnitOverItsMemoryLimitIsEndedAtTheLimitAndOneUnderItFinishes() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let hog = try scratch.spec("hog.json", #"{"kernel": "test-hog", "parameters": {"megabytes": 4096}}"#)
        let (status, report) = try scratch.run(["run", hog, "--memory-limit", "256"])
        #expect(status == 1)
        let reason = try #require(report.failures?.first?.reason)
        #expect(reason.contains("kernel host died"), "\(reason)")
        // Peak resident memory counts the shared libraries too, which RLIMIT_DATA does not: a few tens of MiB over.
        let peak = try #require(Self.peakMegabytes(in: reason), "\(reason)")
        #expect(peak >= 128 && peak <= 256 + 64, "\(reason)")
        #expect(reason.contains("of a 256 MiB limit"))

        let small = try scratch.spec("small.json", #"{"kernel": "test-hog", "parameters": {"megabytes": 64}}"#)
        let (smallStatus, smallReport) = try scratch.run(["run", small, "--memory-limit", "256"], data: "data-small")
        #expect(smallStatus == 0)
        #expect(smallReport.summary?["sum"] == 64)
    }

    @Test func aHungUnitIsKilledAtItsTimeLimitAndTheOthersFinish() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let spec = try scratch.spec(
            "hang.json", #"{"kernel": "test-hang", "parameters": {"count": 6, "hangEvery": 3}}"#)
        let (status, report) = try scratch.run(["run", spec, "--unit-time-limit", "2", "--keep-going", "--cores", "2"])
        #expect(status == 1)
        #expect(report.computed == 4)
        let failures = report.failures ?? []
        #expect(Set(failures.map(\.unit)) == [0, 3])
        #expect(failures.allSatisfy { $0.reason.contains("past its time limit") && $0.reason.contains("signal 9") })
    }

    @Test func aCPULimitHoldsAKernelThatNeverCallsStepByStoppingItsHost() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let spec = try scratch.spec(
            "hang.json", #"{"kernel": "test-hang", "parameters": {"count": 1, "hangEvery": 1}}"#)
        let (process, _) = scratch.process(["run", spec, "--cpu-limit", "25", "--unit-time-limit", "8", "--cores", "1"])
        try process.run()
        defer { process.terminate() }
        // The kernel spins without ever calling `context.step`, where a kernel host's own duty cycle would rest it:
        // only the worker stopping and continuing the host holds it to 25%. It runs 250 ms of each second, so the
        // host is seen stopped (T), and running again after, well within the unit's 8 s.
        var seen: [String] = []
        let deadline = Date() + 8
        while Date() < deadline && !(seen.contains("T") && seen.last == "R") {
            if let state = BlobSwarmTests.childStates(of: process.processIdentifier).first, state != seen.last {
                seen.append(state)
            }
            usleep(10_000)   // another process's state, read from /proc: look again shortly
        }
        #expect(seen.contains("T") && seen.last == "R", "host states seen: \(seen)")
        process.waitUntilExit()
    }

    @Test func killNineInTheMiddleOfAUnitThenTheSameCommandResumesFromItsDiskCheckpoint() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        // One unit of 400 steps of 20 ms: eight seconds, checkpointed every second.
        let spec = try scratch.spec("slow.json", #"{"kernel": "test-slow", "parameters": {"count": 1, "steps": 400}}"#)
        let arguments = [
            "run", spec, "--checkpoint-every", "1", "--out", scratch.folder.appendingPathComponent("out").path,
        ]
        let (first, _) = scratch.process(arguments)
        try first.run()
        // Wait for the first checkpoint on disk; the guard only keeps a broken build from hanging the test run.
        let runs = scratch.folder.appendingPathComponent("data/runs")
        let guardTime = Date() + 120
        var checkpoint: URL?
        while checkpoint == nil, first.isRunning, Date() < guardTime {
            let names = (try? FileManager.default.subpathsOfDirectory(atPath: runs.path)) ?? []
            checkpoint = names.first { $0.hasSuffix(".ckpt") }.map { runs.appendingPathComponent($0) }
            if checkpoint == nil { usleep(20_000) }   // another process writes it: no event crosses to this one
        }
        try #require(checkpoint != nil, "a checkpoint was written while the unit ran")
        let worker = first.processIdentifier
        kill(worker, SIGKILL)
        first.waitUntilExit()
        #expect(first.terminationReason == .uncaughtSignal)
        // Its kernel host dies with it (PR_SET_PDEATHSIG), leaving no orphan computing for nobody.
        // The hosts are the killed worker's children, not ours: /proc is all there is to watch.
        while Self.hosts(of: worker) > 0, Date() < guardTime { usleep(20_000) }
        #expect(Self.hosts(of: worker) == 0)

        let (status, resumed) = try scratch.run(arguments)
        #expect(status == 0)
        #expect(resumed.resumed == 1)
        #expect(resumed.computed == 1)

        let (freshStatus, fresh) = try scratch.run(
            ["run", spec, "--out", scratch.folder.appendingPathComponent("fresh").path], data: "fresh-data")
        #expect(freshStatus == 0)
        #expect(fresh.resumed == 0)
        #expect(resumed.summary?["sum"] != nil)
        #expect(resumed.summary?["sum"] == fresh.summary?["sum"])
    }

    @Test func ctrlCOnATerminalReachesTheHostsTooAndStillStopsUnitsAtACheckpoint() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let spec = try scratch.spec("slow.json", #"{"kernel": "test-slow", "parameters": {"count": 2, "steps": 400}}"#)
        let (process, output) = scratch.process(["run", spec, "--cores", "2", "--checkpoint-every", "1"])
        try process.run()
        // Wait until both units have a checkpoint, so both hosts are past their start-up and into their units; the
        // guard only keeps a broken build from hanging the test run.
        let runs = scratch.folder.appendingPathComponent("data/runs")
        let guardTime = Date() + 120
        var checkpoints = 0
        while checkpoints < 2, process.isRunning, Date() < guardTime {
            let names = (try? FileManager.default.subpathsOfDirectory(atPath: runs.path)) ?? []
            checkpoints = names.filter { $0.hasSuffix(".ckpt") }.count
            if checkpoints < 2 { usleep(20_000) }   // written by another process: read the folder again shortly
        }
        let hosts = Self.hostProcesses(of: process.processIdentifier)
        try #require(hosts.count == 2)
        // What a terminal's Ctrl-C does: SIGINT to every process of the group.
        for host in hosts { kill(host, SIGINT) }
        process.interrupt()
        let bytes = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        let report = try JSONDecoder().decode(Report.self, from: bytes)
        #expect(report.failed == 0)
        #expect(report.failures == nil)
    }

    @Test func benchEngineMeasuresIsolatedAndInProcessEnginesToTheSameOutputs() throws {
        let scratch = try Scratch()
        defer { scratch.cleanUp() }
        let spec = try scratch.spec(
            "p.json", #"{"kernel": "primes", "parameters": {"to": 2000000, "numbersPerUnit": 100000}}"#)
        let (process, output) = scratch.process(["bench", "engine", "--spec", spec, "--rounds", "1"])
        try process.run()
        let bytes = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
        let results = try #require(report["results"] as? [[String: Any]])
        #expect(results.compactMap { $0["mode"] as? String } == ["isolated", "in-process"])
        #expect(results.allSatisfy { $0["outputsIdentical"] as? Bool == true })
        #expect(results.allSatisfy { ($0["efficiency"] as? Double ?? 0) > 0 })
    }

    /// "peak memory N MiB" in a failure's reason.
    static func peakMegabytes(in reason: String) -> Int? {
        guard let range = reason.range(of: "peak memory ") else { return nil }
        return Int(reason[range.upperBound...].prefix { $0.isNumber })
    }

    /// Kernel hosts whose parent was `worker`, from their command lines in /proc.
    static func hosts(of worker: pid_t) -> Int { hostProcesses(of: worker).count }

    /// The process IDs of the kernel hosts whose parent was `worker`.
    static func hostProcesses(of worker: pid_t) -> [pid_t] {
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return processes.compactMap { name in
            guard let pid = pid_t(name), let bytes = FileManager.default.contents(atPath: "/proc/\(name)/cmdline")
            else {
                return nil
            }
            let words = bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard words.contains("kernel-host"), let flag = words.firstIndex(of: "--parent") else { return nil }
            return words.indices.contains(flag + 1) && words[flag + 1] == "\(worker)" ? pid : nil
        }
    }
}
