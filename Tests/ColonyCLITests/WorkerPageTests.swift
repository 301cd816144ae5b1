import ColonyTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `colony worker`'s page, API and metrics, served by a real worker process on 127.0.0.1 (issue 13, A window for
/// donors; Tested in a real browser).
extension BlobSwarmTests {
    /// A worker process on a network of its own with its page on a port the system chose; the page's URL.
    /// `swarm` arguments join another swarm's network (else the worker has a network of its own); `cores` nil gives
    /// no --cores flag, leaving the cores to the preferences.
    func startWorkerWithPage(
        _ processes: Processes, folder: URL, web: [String] = ["--web", "127.0.0.1:0"], kernels: String = "mersenne",
        swarm: [String]? = nil, environment: [String: String]? = nil, cores: Int? = 2
    ) throws -> String {
        let colony = try #require(colonyExecutable())
        let network = swarm ?? ["--network", "test-" + UUID().uuidString.prefix(8).lowercased()]
        let (worker, output) = try start(
            colony,
            [
                "worker", "--kernels", kernels, "--host", "127.0.0.1", "--port", "0",
                "--no-local-discovery", "--json", "--data-dir", folder.appendingPathComponent("worker").path,
            ] + (cores.map { ["--cores", "\($0)"] } ?? []) + network + web, environment: environment)
        processes.running.append(worker)
        processes.outputs.append(output)
        // The "web" event comes after "started", perhaps after a few log lines.
        for _ in 0..<50 {
            let line = try #require(firstLine(of: output))
            let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if event["event"] as? String == "web" { return try #require(event["url"] as? String) }
        }
        throw WorkerPageFailure(description: "the worker never said where its page is")
    }

    struct WorkerPageFailure: Error, CustomStringConvertible { var description: String }

    /// The status and body of a request, sent with URLSession with `body` (a POST without one sends an empty one)
    /// and `headers`; status 0 when nothing answered.
    func http(
        _ method: String, _ url: String, body: Data? = nil, headers: [String: String] = [:]
    ) throws -> (status: Int, body: Data) {
        final class Result: @unchecked Sendable {
            var status = 0
            var body = Data()
        }
        var request = URLRequest(url: try #require(URL(string: url)))
        request.httpMethod = method
        request.httpBody = body ?? (method == "POST" ? Data() : nil)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let result = Result()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, _ in
            result.status = (response as? HTTPURLResponse)?.statusCode ?? 0
            result.body = data ?? Data()
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + 30) == .success else {
            throw WorkerPageFailure(description: "\(url): no answer")
        }
        return (result.status, result.body)
    }

    func json(_ method: String, _ url: String) throws -> [String: Any] {
        let (status, body) = try http(method, url)
        #expect(status == 200)
        return try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
    }

    /// Runs `body` with a temporary folder and a worker process serving its page (at the URL given); removes the
    /// folder and ends the worker after. `environment` and `cores` are `startWorkerWithPage`'s.
    func withWorkerPage(
        _ name: String, web: [String] = ["--web", "127.0.0.1:0"], environment: [String: String]? = nil,
        cores: Int? = 2, _ body: (URL, String, Processes) throws -> Void
    ) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "colony-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let processes = Processes()
        defer { processes.stop(removing: folder) }
        try body(
            folder,
            try startWorkerWithPage(processes, folder: folder, web: web, environment: environment, cores: cores),
            processes)
    }

    @Test func theWorkerPageServesItsStatusAndPausesAndResumesTheWorker() throws {
        try withWorkerPage("worker-page") { _, url, processes in
            #expect(url.hasPrefix("http://127.0.0.1:") && !url.hasPrefix("http://127.0.0.1:0/"))

            let (pageStatus, page) = try http("GET", url)
            #expect(pageStatus == 200)
            #expect(String(decoding: page, as: UTF8.self).contains("/api/status"))

            let status = try json("GET", url + "api/status")
            #expect(status["state"] as? String == "running")
            #expect((status["kernels"] as? [String]) == ["mersenne"])
            let cores = try #require(status["cores"] as? [[String: Any]])
            #expect(cores.map { $0["core"] as? Int } == [0, 1])
            let counts = try #require(status["counts"] as? [String: Any])
            for name in ["computed", "validated", "invalid", "leasesHeld"] {
                #expect(counts[name] as? Int == 0, "\(name)")
            }
            #expect(status["jobs"] as? [Any] != nil)

            #expect(try json("POST", url + "api/pause")["state"] as? String == "paused")
            #expect(try json("GET", url + "api/status")["state"] as? String == "paused")
            #expect(try json("POST", url + "api/resume")["state"] as? String == "running")
            // Nothing runs, so finishing is over at once.
            #expect(try json("POST", url + "api/finish-then-pause")["state"] as? String == "paused")
            #expect(try json("POST", url + "api/resume")["state"] as? String == "running")
            // A GET cannot change the state.
            #expect(try http("GET", url + "api/pause").status == 405)

            // SIGTERM stops the worker and its page.
            let worker = processes.running[0]
            worker.terminate()
            worker.waitUntilExit()
            #expect(try http("GET", url + "api/status").status == 0)
        }
    }

    @Test func aSecondWorkerOnATakenPortSaysSoAndComputesWithoutItsPage() throws {
        try withWorkerPage("worker-port-taken") { folder, url, processes in
            let port = try #require(URL(string: url)?.port)
            let colony = try #require(colonyExecutable())
            let second = Process()
            second.executableURL = colony
            second.arguments = [
                "worker", "--cores", "1", "--kernels", "mersenne", "--host", "127.0.0.1", "--port", "0", "--network",
                "test-" + UUID().uuidString.prefix(8).lowercased(), "--no-local-discovery", "--web",
                "127.0.0.1:\(port)",
                "--json", "--data-dir", folder.appendingPathComponent("second").path,
            ]
            let (output, errors) = (Pipe(), Pipe())
            second.standardOutput = output
            second.standardError = errors
            try second.run()
            processes.running.append(second)
            processes.outputs += [output.fileHandleForReading, errors.fileHandleForReading]
            let warning = try #require(firstLine(of: errors.fileHandleForReading))
            #expect(
                warning.hasPrefix(
                    "warning: no page for this worker (it computes without one): cannot listen on 127.0.0.1:\(port)"))
            let started = try #require(firstLine(of: output.fileHandleForReading))
            #expect(started.contains("\"event\":\"started\""))
            #expect(second.isRunning)
        }
    }

    /// A worker sent SIGTERM the moment it says it started stops, saying so, with status 130. Started by a dispatch
    /// thread, as a test starts it, the worker inherits a mask that blocks the signal: it waited pending, and the
    /// handler, which ignored the signal before it made its dispatch source, dropped it; the worker ran on (one
    /// was found an hour after `swift test` ended). The signal's number is the same when a user's process manager
    /// stops a worker just as it starts.
    @Test func aWorkerStoppedTheMomentItStartsStops() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-stopped-at-start-\(UUID().uuidString)")
        let processes = Processes()
        defer { processes.stop(removing: folder) }
        let colony = try #require(colonyExecutable())
        for round in 0..<5 {
            let worker = Process()
            worker.executableURL = colony
            worker.arguments = [
                "worker", "--cores", "1", "--kernels", "mersenne", "--host", "127.0.0.1", "--port", "0", "--network",
                "test-" + UUID().uuidString.prefix(8).lowercased(), "--no-local-discovery", "--json", "--data-dir",
                folder.appendingPathComponent("\(round)").path,
            ]
            let output = Pipe()
            worker.standardOutput = output
            worker.standardError = FileHandle.nullDevice
            let exited = DispatchSemaphore(value: 0)
            worker.terminationHandler = { _ in exited.signal() }
            try worker.run()
            processes.running.append(worker)
            processes.outputs.append(output.fileHandleForReading)
            let started = try #require(firstLine(of: output.fileHandleForReading))
            #expect(started.contains("\"event\":\"started\""))
            worker.terminate()
            let stopped = exited.wait(timeout: .now() + 60) == .success
            #expect(stopped, "round \(round): the worker ran on after SIGTERM")
            guard stopped else { return }
            #expect(worker.terminationStatus == 130, "round \(round)")
        }
    }

    /// This machine's first IPv4 address other than loopback, if it has one.
    static let ownAddress: String? = {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var current = list
        while let entry = current {
            defer { current = entry.pointee.ifa_next }
            guard let raw = entry.pointee.ifa_addr, raw.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            guard UInt32(bigEndian: address.s_addr) >> 24 != 127 else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            guard inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil else { continue }
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return nil
    }()

    @Test(.enabled(if: ownAddress != nil, "needs an IPv4 address other than loopback"))
    func aWebTokenLetsAnotherAddressInAndNothingElseDoes() throws {
        let token = "0123456789abcdef0123456789abcdef"
        try withWorkerPage("worker-token", web: ["--web", "0.0.0.0:0", "--web-token", token]) { _, url, _ in
            // Logged with the loopback address; reached here through this machine's other address, as another
            // machine would.
            let port = try #require(URL(string: url)?.port)
            let outside = "http://\(try #require(Self.ownAddress)):\(port)/"
            #expect(try http("GET", outside + "api/status").status == 401)
            #expect(try http("GET", outside + "api/status?token=wrong" + token.dropFirst(5)).status == 401)
            #expect(try json("GET", outside + "api/status?token=" + token)["state"] as? String == "running")
            #expect(try json("POST", outside + "api/pause?token=" + token)["state"] as? String == "paused")
            #expect(try http("POST", outside + "api/resume").status == 401)
            // Loopback clients need no token.
            #expect(try json("GET", url + "api/status")["state"] as? String == "paused")
        }
    }

    /// The state letters (R, S, T, …) of `parent`'s child processes, from /proc.
    static func childStates(of parent: Int32) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> String? in
            guard Int32(entry) != nil, let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // After "pid (name) ": state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, Int32(fields[1]) == parent else { return nil }
            return String(fields[0])
        }
    }

    @Test func pauseStopsTheWorkersKernelHostsAndResumeContinuesThem() throws {
        let swarm = try TestKernelSwarm(tests: self, kernels: "test-slow", firstNetwork: 41, workers: 0)
        let url = try startWorkerWithPage(
            swarm.processes, folder: swarm.folder, kernels: "test-slow",
            swarm: ["--bootstrap", swarm.seed, "--network", swarm.network], environment: swarm.environment)
        let worker = try #require(swarm.processes.running.last)
        // Two units of 20 ms × 3000 steps: a minute each, far longer than the test needs them.
        _ = try swarm.publish(
            "slow.json",
            #"{"kernel": "test-slow", "title": "slow", "parameters": {"count": 2, "steps": 3000}, "redundancy": {"replicas": 1, "quorum": 1, "maxAttempts": 2}, "leaseSeconds": 300}"#
        )
        func cores() throws -> [[String: Any]] {
            try #require(try json("GET", url + "api/status")["cores"] as? [[String: Any]])
        }
        func until(_ condition: ([[String: Any]]) -> Bool) throws -> Bool {
            let deadline = Date() + 120
            while Date() < deadline {
                if condition(try cores()) { return true }
                usleep(50_000)   // the worker is another process, seen only through its page: ask again shortly
            }
            return false
        }
        // The kernel hosts' states as the system has them, read until `wanted` holds or 10 s pass: the hosts are
        // other processes, seen only through /proc, and nothing tells this test when they change.
        func hostStates(becoming wanted: (([String]) -> Bool)) -> [String] {
            let deadline = Date() + 10
            var states = Self.childStates(of: worker.processIdentifier)
            while !wanted(states) && Date() < deadline {
                usleep(20_000)
                states = Self.childStates(of: worker.processIdentifier)
            }
            return states
        }
        #expect(try until { $0.allSatisfy { $0["busy"] as? Bool == true } })
        // A core shows busy once its unit is handed to its host; under load the second host may still be starting
        // (a run with two benches alongside read one).
        #expect(hostStates { $0.count == 2 }.count == 2)

        #expect(try json("POST", url + "api/pause")["state"] as? String == "paused")
        #expect(try until { $0.allSatisfy { $0["held"] as? Bool == true } })
        // Each core's kernel host is stopped by the system, not merely idle. SIGSTOP takes effect a moment after
        // kill(2) returns (a CI run read "R" for one host at once).
        #expect(hostStates { $0 == ["T", "T"] } == ["T", "T"])

        #expect(try json("POST", url + "api/resume")["state"] as? String == "running")
        #expect(try until { $0.allSatisfy { $0["held"] as? Bool == false } })
        let states = hostStates { $0.count == 2 && !$0.contains("T") }
        #expect(states.count == 2 && !states.contains("T"), "\(states)")
    }

    @Test func aKernelHostHeldUntilItsLeaseNearlyEndsCheckpointsAndItsUnitIsGivenBack() throws {
        let swarm = try TestKernelSwarm(tests: self, kernels: "test-slow", firstNetwork: 46, workers: 0)
        let url = try startWorkerWithPage(
            swarm.processes, folder: swarm.folder, kernels: "test-slow",
            swarm: ["--bootstrap", swarm.seed, "--network", swarm.network], environment: swarm.environment)
        // One unit of 20 ms × 400 steps (8 s) under a 12 s lease: paused at once, it is given back 5 s before the
        // lease ends, with the checkpoint its host took on the way out.
        let job = try swarm.publish(
            "slow.json",
            #"{"kernel": "test-slow", "title": "slow", "parameters": {"count": 1, "steps": 400}, "redundancy": {"replicas": 1, "quorum": 1, "maxAttempts": 3}, "leaseSeconds": 12}"#
        )
        func status() throws -> [String: Any] { try json("GET", url + "api/status") }
        func until(_ condition: ([String: Any]) -> Bool) throws -> Bool {
            let deadline = Date() + 120
            while Date() < deadline {
                if condition(try status()) { return true }
                usleep(50_000)   // the worker is another process, seen only through its page: ask again shortly
            }
            return false
        }
        #expect(try until { (($0["cores"] as? [[String: Any]]) ?? []).contains { $0["busy"] as? Bool == true } })
        #expect(try json("POST", url + "api/pause")["state"] as? String == "paused")
        #expect(try until { (($0["counts"] as? [String: Any])?["givenBack"] as? Int) == 1 })
        // Resumed, the worker leases the unit again, resumes it from the checkpoint and it is validated.
        #expect(try json("POST", url + "api/resume")["state"] as? String == "running")
        let report = try swarm.watch(job)
        #expect(report["validated"] as? Int == 1, "\(report)")
    }

    @Test func aBadWebTokenOrAddressIsRefusedBeforeTheWorkerStarts() {
        let harness = CLIHarness()
        defer { harness.cleanUp() }
        #expect(harness.run("worker", "--web-token", "short", "--no-local-discovery") == 2)
        #expect(harness.error.contains("--web-token: HTTPAccessPolicy.token must be 16 to 256"))
        #expect(harness.run("worker", "--web", "nonsense", "--no-local-discovery") == 2)
        #expect(harness.error.contains("--web 'nonsense' is not HOST:PORT"))
        #expect(!harness.output.contains("Colony worker on"))
    }

    @Test(ExternalTool.prometheusClient.gate)
    func prometheusClientParsesTheWorkersMetrics() throws {
        try ExternalTool.prometheusClient.require()
        try withWorkerPage("worker-metrics") { _, url, _ in
            let (exit, printed) = try run(
                URL(fileURLWithPath: try #require(Probe.onPath("python3"))),
                ["-c", Self.metricsScript, url + "metrics"])
            #expect(exit == 0)
            let data = Data(printed.utf8)
            // family -> type, and the samples as "name{labels}" -> value
            let read = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
            let types = try #require(read["types"] as? [String: String])
            let samples = try #require(read["samples"] as? [String: Double])
            #expect(types["colony_units"] == "counter")
            #expect(types["colony_leases_held"] == "gauge")
            #expect(types["colony_dht_datagrams"] == "counter")
            #expect(types["colony_custody_records"] == "gauge")
            #expect(samples["colony_units_total{outcome=validated}"] == 0)
            #expect(samples["colony_units_total{outcome=invalid}"] == 0)
            #expect(samples["colony_worker_state{state=running}"] == 1)
            #expect(samples["colony_worker_state{state=paused}"] == 0)
            #expect(types["colony_job_discovery"] == "counter")
            #expect(samples["colony_job_discovery_total{event=source_passed_over}"] == 0)
            #expect(samples["colony_job_discovery_total{event=look}"] != nil)
            #expect(samples["colony_dht_datagrams_total{direction=in}"] != nil)
            #expect(samples["colony_dht_bytes_total{direction=out}"] != nil)
            #expect(samples["colony_tcp_bytes_total{direction=out}"] != nil)
        }
    }

    /// Reads /metrics with prometheus_client's parser and prints the families' types and the samples' values.
    static let metricsScript = """
        import json, sys, urllib.request
        from prometheus_client.parser import text_string_to_metric_families
        with urllib.request.urlopen(sys.argv[1]) as response:
            text = response.read().decode("utf-8")
        types, samples = {}, {}
        for family in text_string_to_metric_families(text):
            types[family.name] = family.type
            for s in family.samples:
                labels = ",".join(k + "=" + v for k, v in sorted(s.labels.items()))
                samples[s.name + ("{" + labels + "}" if labels else "")] = s.value
        print(json.dumps({"types": types, "samples": samples}))
        """

    @Test(ExternalTool.chromium.gate)
    func headlessChromiumShowsTheCoresAndCountsOnTheWorkerPage() throws {
        try ExternalTool.chromium.require()
        try withWorkerPage("worker-chromium") { folder, url, _ in
            let (_, dom) = try run(
                URL(fileURLWithPath: try #require(Probe.onPath("chromium"))),
                [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--user-data-dir=" + folder.appendingPathComponent("chromium").path,
                    "--virtual-time-budget=5000", "--dump-dom", url,
                ])
            // What the script wrote from /api/status: before it runs, the counts are dashes and no core row exists.
            let cores = try #require(
                dom.components(separatedBy: "<tbody id=\"cores\">").last?.components(separatedBy: "</tbody>").first)
            #expect(cores.components(separatedBy: "<tr class=\"core\">").count - 1 == 2, "\(dom)")
            #expect(dom.contains("<span id=\"state\" class=\"badge running\">Running</span>"))
            for name in ["validated", "invalid", "computed"] {
                #expect(dom.contains("<b id=\"\(name)\">0</b>"), "\(name)")
            }
            #expect(dom.contains("peer 127.0.0.1:"))
            #expect(dom.contains("No job found yet"))
        }
    }
}
