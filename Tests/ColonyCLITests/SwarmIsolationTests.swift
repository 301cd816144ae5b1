import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Isolation in a real swarm: `colony worker` processes with the test kernels registered (`COLONY_TEST_KERNELS=1`)
/// keep running whatever their kernels do, and record an error for each unit that crashed or hung.
extension BlobSwarmTests {
    /// One `colony node` and two single-core `colony worker`s on distinct /24s (so their agreeing results make a
    /// quorum), with the test kernels registered; publishes jobs and watches them to the end.
    final class TestKernelSwarm {
        let colony: URL
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "colony-isolation-swarm-\(UUID().uuidString)")
        let processes = BlobSwarmTests.Processes()
        let network = "test-" + UUID().uuidString.prefix(8).lowercased()
        let environment = ProcessInfo.processInfo.environment.merging(["COLONY_TEST_KERNELS": "1"]) { $1 }
        var seed = ""
        var workers: [Process] = []
        let tests: BlobSwarmTests

        let kernels: String
        let firstNetwork: Int

        init(tests: BlobSwarmTests, kernels: String, firstNetwork: Int, workers count: Int = 2) throws {
            self.kernels = kernels
            self.firstNetwork = firstNetwork
            self.tests = tests
            colony = try #require(colonyExecutable())
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let (node, nodeOutput) = try tests.start(
                colony,
                [
                    "node", "--host", "127.0.0.1", "--port", "0", "--network", network, "--json", "--data-dir",
                    directory("node"),
                ],
                environment: environment)
            processes.running.append(node)
            processes.outputs.append(nodeOutput)
            let line = try #require(tests.firstLine(of: nodeOutput))
            let listening = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            seed = try #require(listening["endpoint"] as? String)
            for index in 0..<count { workers.append(try startWorker(index).process) }
        }

        /// Starts worker `index` (its data directory and loopback network are its own) and waits for its first line.
        func startWorker(_ index: Int) throws -> (process: Process, output: FileHandle) {
            let (worker, output) = try tests.start(
                colony,
                [
                    "worker", "--cores", "1", "--kernels", kernels, "--host", "127.0.\(firstNetwork + index).1",
                    "--bootstrap", seed,
                    "--network", network, "--json", "--checkpoint-every", "1", "--data-dir",
                    directory("worker\(index)"),
                ],
                environment: environment)
            processes.running.append(worker)
            #expect(tests.firstLine(of: output) != nil)
            return (worker, output)
        }

        deinit { processes.stop(removing: folder) }

        func directory(_ name: String) -> String { folder.appendingPathComponent(name).path }

        /// Publishes the spec `text` and returns `colony status --watch --json`'s last report on it.
        func publishAndWatch(_ name: String, _ text: String) throws -> [String: Any] {
            try watch(try publish(name, text))
        }

        /// Writes the spec `text` into the folder as `name`, publishes it and returns the job ID.
        func publish(_ name: String, _ text: String) throws -> String {
            let spec = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: spec)
            let (published, publishText) = try tests.run(
                colony,
                [
                    "publish", spec.path, "--host", "127.0.0.1", "--bootstrap", seed, "--network", network, "--json",
                    "--data-dir", directory("publisher"),
                ],
                environment: environment)
            #expect(published == 0, "\(publishText)")
            return try #require(try lastJSONObject(in: publishText)["job"] as? String)
        }

        /// `colony status JOB --watch --json`'s last report: once every unit is decided.
        func watch(_ job: String) throws -> [String: Any] {
            let (_, statusText) = try tests.run(
                colony,
                [
                    "status", job, "--watch", "--timeout", "600", "--host", "127.0.0.1", "--bootstrap", seed,
                    "--network", network, "--json",
                    "--data-dir", directory("watcher"),
                ],
                environment: environment)
            return try lastJSONObject(in: statusText)
        }
    }

    @Test func workersSurviveAHundredTrappingUnitsAndEveryOtherUnitIsValidated() throws {
        let swarm = try TestKernelSwarm(tests: self, kernels: "test-trap", firstNetwork: 21)
        // Each trapping unit gets one attempt from each worker: 200 traps in all.
        let status = try swarm.publishAndWatch(
            "trap.json",
            #"{"kernel": "test-trap", "title": "traps on even units", "parameters": {"count": 200, "trapEvery": 2}, "redundancy": {"replicas": 2, "quorum": 2, "maxAttempts": 2}, "leaseSeconds": 60}"#
        )
        #expect(status["units"] as? Int == 200)
        #expect(status["validated"] as? Int == 100, "\(status)")
        #expect(status["failed"] as? Int == 100, "\(status)")
        #expect(swarm.workers.allSatisfy { $0.isRunning })
    }

    /// A unit that never returns (and never calls `context.step`) is killed when its lease ends.
    @Test func aUnitLongerThanItsLeaseIsGivenBackAtACheckpointAndFinishedOverLeases() throws {
        // A unit of 12 s (600 steps of 20 ms, a checkpoint a second) under 10 s leases, as on a machine too busy to
        // finish in time: each worker gives it back 5 s into a lease and resumes it from its checkpoint when leased
        // again. Killed at each lease's end instead, it was an error from both workers: failed after its 2 attempts.
        let swarm = try TestKernelSwarm(tests: self, kernels: "test-slow", firstNetwork: 51)
        let status = try swarm.publishAndWatch(
            "long.json",
            #"{"kernel": "test-slow", "title": "longer than a lease", "parameters": {"count": 1, "steps": 600}, "redundancy": {"replicas": 2, "quorum": 2, "maxAttempts": 2}, "leaseSeconds": 10}"#
        )
        #expect(status["validated"] as? Int == 1, "\(status)")
        #expect(status["failed"] as? Int == 0, "\(status)")
        #expect(status["invalid"] as? Int == 0, "\(status)")
        #expect(swarm.workers.allSatisfy { $0.isRunning })
    }

    @Test func aHungUnitIsKilledWhenItsLeaseEndsAndTheWorkersGoOn() throws {
        let swarm = try TestKernelSwarm(tests: self, kernels: "test-hang,test-slow", firstNetwork: 31)
        // First a job whose only unit hangs, then one that needs the same single cores: it can be computed only if
        // the hung unit's host was killed when its lease ended. Each worker gives it back twice first (it could be
        // a host starved on a busy machine), then records an error: failed after its 2 attempts.
        let hung = try swarm.publishAndWatch(
            "hang.json",
            #"{"kernel": "test-hang", "title": "hangs", "parameters": {"count": 1, "hangEvery": 1}, "redundancy": {"replicas": 2, "quorum": 2, "maxAttempts": 2}, "leaseSeconds": 10}"#
        )
        #expect(hung["failed"] as? Int == 1, "\(hung)")
        let after = try swarm.publishAndWatch(
            "slow.json",
            #"{"kernel": "test-slow", "title": "after the hang", "parameters": {"count": 4, "steps": 5}, "redundancy": {"replicas": 2, "quorum": 2, "maxAttempts": 2}, "leaseSeconds": 60}"#
        )
        #expect(after["validated"] as? Int == 4, "\(after)")
        #expect(swarm.workers.allSatisfy { $0.isRunning })
    }
}

extension BlobSwarmTests {
    /// kill -9 of a worker in the middle of a unit, then the same worker again: it is handed its lease back, resumes
    /// from the checkpoint it wrote to disk, and its validated output is the one an uninterrupted run gives.
    @Test func aWorkerKilledWithSignalNineResumesItsLeasedUnitFromItsDiskCheckpoint() throws {
        let swarm = try TestKernelSwarm(tests: self, kernels: "test-slow", firstNetwork: 41, workers: 1)
        let spec =
            #"{"kernel": "test-slow", "title": "slow", "parameters": {"count": 1, "steps": 400}, "redundancy": {"replicas": 1, "quorum": 1, "maxAttempts": 3}, "leaseSeconds": 600}"#
        let job = try swarm.publish("slow.json", spec)
        // Wait for its first checkpoint on disk; the guard only keeps a broken build from hanging the test run.
        let state = URL(fileURLWithPath: swarm.directory("worker0")).appendingPathComponent("worker")
        let guardTime = Date() + 120
        var checkpointed = false
        while !checkpointed, Date() < guardTime {
            checkpointed = ((try? FileManager.default.contentsOfDirectory(atPath: state.path)) ?? []).contains {
                $0.hasSuffix(".ckpt")
            }
            if !checkpointed { usleep(20_000) }   // the worker process writes it: read the folder again shortly
        }
        try #require(checkpointed)
        let first = swarm.workers[0]
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()

        let (second, output) = try swarm.startWorker(0)
        let status = try swarm.watch(job)
        #expect(status["validated"] as? Int == 1, "\(status)")
        second.interrupt()
        let lines = String(decoding: output.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        let stopped = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { $0["event"] as? String == "stopped" }
        #expect(stopped?["resumed"] as? Int == 1, "\(lines.suffix(3))")

        let (collected, resultText) = try run(
            swarm.colony,
            [
                "results", job, "--out", swarm.directory("out"), "--host", "127.0.0.1", "--bootstrap", swarm.seed,
                "--network", swarm.network, "--json", "--data-dir", swarm.directory("outsider"),
            ],
            environment: swarm.environment)
        #expect(collected == 0, "\(resultText)")
        let swarmSum = (try lastJSONObject(in: resultText)["summary"] as? [String: Any])?["sum"] as? Int
        let (ran, localText) = try run(
            swarm.colony,
            [
                "run", swarm.folder.appendingPathComponent("slow.json").path, "--out", swarm.directory("local"),
                "--json",
                "--data-dir", swarm.directory("local-data"),
            ],
            environment: swarm.environment)
        #expect(ran == 0, "\(localText)")
        let localSum = (try lastJSONObject(in: localText)["summary"] as? [String: Any])?["sum"] as? Int
        #expect(swarmSum != nil)
        #expect(swarmSum == localSum)
    }
}
