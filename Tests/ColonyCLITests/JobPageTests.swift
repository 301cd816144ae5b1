import ColonyCore
import ColonyTestSupport
import Foundation
import Testing

@testable import ColonyNet

/// `colony status JOB --web` against a live job: a node, two workers and a publisher as real processes on loopback.
extension BlobSwarmTests {
    /// A small mandelbrot job computed by two workers, with `colony status JOB --web 127.0.0.1:0` serving its page.
    final class LiveJobPage {
        static let width = 96
        static let height = 64
        static let rowsPerUnit = 4
        static let units = height / rowsPerUnit

        let processes = Processes()
        let folder: URL
        var job = ""
        /// The node to join through and the swarm's network, for other commands on the job.
        var seed = ""
        var network = ""
        /// "http://127.0.0.1:PORT/" as the status process logged it.
        var page = ""
        var port: UInt16 = 0
        /// The `colony status JOB --web` process.
        var status = Process()

        init(_ tests: BlobSwarmTests) throws {
            let colony = try #require(colonyExecutable())
            folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "colony-job-page-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            func directory(_ name: String) -> String { folder.appendingPathComponent(name).path }
            // A network of its own: peers of other tests on this machine hear each other on the LAN (BEP 14).
            let network = "test-" + UUID().uuidString.prefix(8).lowercased()
            self.network = network
            let (node, nodeOutput) = try tests.start(
                colony,
                [
                    "node", "--host", "127.0.0.1", "--port", "0", "--network", network, "--json", "--data-dir",
                    directory("node"),
                ])
            processes.running.append(node)
            processes.outputs.append(nodeOutput)
            let line = try #require(tests.firstLine(of: nodeOutput))
            let seed = try #require(
                (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["endpoint"] as? String)
            self.seed = seed
            // Two workers on loopback networks of their own: agreeing replicas count only from distinct /24s. Half a
            // core each, so the page is likely seen part done (what the test checks holds either way).
            for index in 0..<2 {
                let (worker, output) = try tests.start(
                    colony,
                    [
                        "worker", "--cores", "1", "--cpu-limit", "50", "--kernels", "mandelbrot", "--host",
                        "127.0.\(21 + index).1",
                        "--bootstrap", seed, "--network", network, "--json", "--data-dir", directory("worker\(index)"),
                    ])
                processes.running.append(worker)
                processes.outputs.append(output)
                #expect(tests.firstLine(of: output) != nil)
            }
            let spec = folder.appendingPathComponent("mandelbrot.json")
            try Data(
                """
                {"kernel": "mandelbrot", "title": "A small Mandelbrot", "parameters": {"width": \(Self.width), "height": \(Self.height),
                 "rowsPerUnit": \(Self.rowsPerUnit), "maxIterations": 20000}, "redundancy": {"replicas": 2, "quorum": 2, "maxAttempts": 10},
                 "leaseSeconds": 60}
                """.utf8
            ).write(to: spec)
            let (published, publishText) = try tests.run(
                colony,
                [
                    "publish", spec.path, "--host", "127.0.0.1", "--bootstrap", seed, "--network", network, "--json",
                    "--data-dir", directory("publisher"),
                ])
            #expect(published == 0, "\(publishText)")
            job = try #require(try lastJSONObject(in: publishText)["job"] as? String)

            status.executableURL = colony
            status.arguments = [
                "status", job, "--web", "127.0.0.1:0", "--host", "127.0.0.1", "--bootstrap", seed, "--network", network,
                "--data-dir", directory("watcher"),
            ]
            let errors = Pipe()
            status.standardOutput = FileHandle.nullDevice
            status.standardError = errors
            try status.run()
            processes.running.append(status)
            processes.outputs.append(errors.fileHandleForReading)
            // The URL is logged once, with the port the system chose.
            while let line = tests.firstLine(of: errors.fileHandleForReading) {
                guard let start = line.range(of: "http://127.0.0.1:") else { continue }
                page = String(line[start.lowerBound...].prefix { $0 != " " })
                port = try #require(UInt16(line[start.upperBound...].prefix { $0.isNumber }))
                break
            }
            try #require(port != 0, "status --web logged no URL")
        }

        deinit { processes.stop(removing: folder) }

        /// GETs `target` from the page's server: the status code, the Content-Type, the body and every header
        /// field by its name in lower case.
        func get(
            _ target: String, host: String? = nil
        ) throws -> (code: Int, type: String, body: [UInt8], headers: [String: String]) {
            let socket = try StreamSocket.connected(to: Endpoint(host: "127.0.0.1", port: port)!, timeout: 10)
            defer { socket.close() }
            let request = Array(
                "GET \(target) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(port)")\r\nConnection: close\r\n\r\n".utf8)
            let sent = request.withUnsafeBytes {
                socket.sendAll($0, UnsafeRawBufferPointer(start: nil, count: 0), deadline: nil)
            }
            guard case .sent = sent else { throw PageFailure("cannot send GET \(target)") }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            let deadline = Instant.monotonicNow().adding(seconds: 30)
            reading: while true {
                let result = chunk.withUnsafeMutableBytes {
                    socket.receive(into: $0.baseAddress!, count: $0.count, waitAll: false, deadline: deadline)
                }
                switch result {
                case .received(let count): bytes += chunk[..<count]
                case .endOfStream: break reading
                default: throw PageFailure("GET \(target): the response did not arrive")
                }
            }
            let separator = Array("\r\n\r\n".utf8)
            guard let end = bytes.indices.dropLast(3).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
                throw PageFailure("GET \(target): no end of the header")
            }
            let head = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
            let code = Int(head[0].split(separator: " ")[1]) ?? 0
            var headers: [String: String] = [:]
            for line in head.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                    in: .whitespaces)
            }
            return (code, headers["content-type"] ?? "", Array(bytes[(end + 4)...]), headers)
        }

        /// `GET /api/job` as a dictionary.
        func report() throws -> [String: Any] {
            let response = try get("/api/job")
            guard response.code == 200, response.type == "application/json",
                let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            else {
                throw PageFailure("GET /api/job: \(response.code) \(String(decoding: response.body, as: UTF8.self))")
            }
            return object
        }

        /// Waits for the page to show the job complete, checking on the way that the picture shows every unit validated
        /// in a report read before it, and no unit still open in a report read after it (validated units stay
        /// validated, so both hold whenever the page refreshes). Returns the last report and the last picture.
        func followToTheEnd() throws -> (report: [String: Any], picture: RGBImage) {
            let deadline = Date() + 300
            while true {
                let before = try report()
                let png = try get("/image.png")
                #expect(png.code == 200 && png.type == "image/png")
                let picture = try RGBImage(png: png.body)
                let after = try report()
                #expect(picture.width == Self.width && picture.height == Self.height)
                let validatedBefore = Array(try #require(before["states"] as? String)).map { $0 == "v" }
                let validatedAfter = Array(try #require(after["states"] as? String)).map { $0 == "v" }
                #expect(validatedBefore.count == Self.units && validatedAfter.count == Self.units)
                for unit in 0..<min(Self.units, validatedBefore.count, validatedAfter.count) {
                    let rows = unit * Self.rowsPerUnit..<(unit + 1) * Self.rowsPerUnit
                    if validatedBefore[unit] {
                        #expect(picture.hasNoPendingPixel(rows: rows), "unit \(unit) is validated but grey")
                    }
                    if !validatedAfter[unit] {
                        #expect(picture.isPending(rows: rows), "unit \(unit) is not validated but drawn")
                    }
                }
                if after["complete"] as? Bool == true { return (after, picture) }
                guard Date() < deadline else { throw PageFailure("the job was not complete after 300 s: \(after)") }
                // The page refreshes every 2 s; asking four times as often sees each refresh.
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    struct PageFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// An 8-bit RGB PNG decoded here, independently of the encoder: chunks, one zlib stream, the five row filters.
    struct RGBImage: CustomStringConvertible {
        var width = 0
        var height = 0
        var rgb: [UInt8] = []

        init(png: [UInt8]) throws {
            guard png.starts(with: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) else {
                throw PageFailure("no PNG signature")
            }
            func number(_ at: Int) -> Int { png[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
            var offset = 8
            var compressed: [UInt8] = []
            while offset + 12 <= png.count {
                let length = number(offset)
                let type = String(decoding: png[offset + 4..<offset + 8], as: UTF8.self)
                let data = offset + 8
                guard data + length + 4 <= png.count else { throw PageFailure("chunk \(type) runs past the end") }
                if type == "IHDR" {
                    (width, height) = (number(data), number(data + 4))
                    guard png[data + 8] == 8, png[data + 9] == 2, png[data + 12] == 0 else {
                        throw PageFailure("not 8-bit RGB")
                    }
                }
                if type == "IDAT" { compressed += png[data..<data + length] }
                if type == "IEND" { break }
                offset = data + length + 4
            }
            let stride = width * 3
            let filtered = Array(try Inflate.decompress(compressed, limit: (stride + 1) * height))
            guard filtered.count == (stride + 1) * height else { throw PageFailure("\(filtered.count) bytes of rows") }
            rgb = [UInt8](repeating: 0, count: stride * height)
            for row in 0..<height {
                let filter = filtered[row * (stride + 1)]
                for index in 0..<stride {
                    let x = Int(filtered[row * (stride + 1) + 1 + index])
                    let a = index >= 3 ? Int(rgb[row * stride + index - 3]) : 0
                    let b = row > 0 ? Int(rgb[(row - 1) * stride + index]) : 0
                    let c = index >= 3 && row > 0 ? Int(rgb[(row - 1) * stride + index - 3]) : 0
                    let predicted: Int
                    switch filter {
                    case 0: predicted = 0
                    case 1: predicted = a
                    case 2: predicted = b
                    case 3: predicted = (a + b) / 2
                    case 4:
                        let p = a + b - c
                        let (pa, pb, pc) = (abs(p - a), abs(p - b), abs(p - c))
                        predicted = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                    default: throw PageFailure("row \(row) has filter \(filter)")
                    }
                    rgb[row * stride + index] = UInt8((x + predicted) & 0xff)
                }
            }
        }

        var description: String { "\(width)×\(height) picture" }

        /// The pixels of `rows`, as (r, g, b).
        func pixels(rows: Range<Int>) -> [(UInt8, UInt8, UInt8)] {
            stride(from: rows.lowerBound * width * 3, to: rows.upperBound * width * 3, by: 3).map {
                (rgb[$0], rgb[$0 + 1], rgb[$0 + 2])
            }
        }

        /// Whether every pixel of `rows` is the grey of units not validated yet, (128, 128, 128).
        func isPending(rows: Range<Int>) -> Bool { pixels(rows: rows).allSatisfy { $0 == (128, 128, 128) } }

        /// Whether no pixel of `rows` is that grey: the mandelbrot palette never gives it.
        func hasNoPendingPixel(rows: Range<Int>) -> Bool { !pixels(rows: rows).contains { $0 == (128, 128, 128) } }
    }

    @Test func theJobPageServesTheJobsCountsAndThePictureFillsInBandByBand() throws {
        let live = try LiveJobPage(self)
        let (report, picture) = try live.followToTheEnd()
        #expect(report["job"] as? String == live.job)
        #expect(report["kernel"] as? String == "mandelbrot")
        #expect(report["title"] as? String == "A small Mandelbrot")
        #expect(report["units"] as? Int == LiveJobPage.units)
        #expect(report["validated"] as? Int == LiveJobPage.units)
        #expect(report["inProgress"] as? Int == 0 && report["waiting"] as? Int == 0 && report["failed"] as? Int == 0)
        #expect(report["states"] as? String == String(repeating: "v", count: LiveJobPage.units))
        // Two replicas a unit, each from one of the two workers; both agreed on every unit.
        #expect((report["attempts"] as? Int ?? 0) >= 2 * LiveJobPage.units)
        #expect(report["invalid"] as? Int == 0)
        let workers = try #require(report["workers"] as? [[String: Any]])
        #expect(workers.count == 2)
        for worker in workers {
            #expect(worker["validated"] as? Int == LiveJobPage.units)
            #expect((worker["short"] as? String)?.count == 12)
            #expect((worker["key"] as? String).map { $0.hasPrefix(worker["short"] as? String ?? "-") } == true)
        }
        #expect(picture.hasNoPendingPixel(rows: 0..<LiveJobPage.height))
        // The page itself, and the same data refused to a Host that does not name this machine.
        let html = try live.get("/")
        #expect(html.code == 200 && html.type.hasPrefix("text/html"))
        #expect(String(decoding: html.body, as: UTF8.self).contains("/api/job"))
        // The browser loads nothing from elsewhere: inline style and script, the API and the picture from here.
        #expect(
            html.headers["content-security-policy"]
                == "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; "
                + "img-src 'self'")
        // Without --web-token only this machine is served, and a rebound DNS name is not this machine.
        #expect(try live.get("/api/job", host: "colony.example:\(live.port)").code == 403)

        // The publisher audits the validated bands with the kernel's cheap check (issue 14, Cheap verification).
        let colony = try #require(colonyExecutable())
        let (audited, auditText) = try run(
            colony,
            [
                "results", live.job, "--verify", "--out", live.folder.appendingPathComponent("out").path, "--host",
                "127.0.0.1", "--bootstrap", live.seed, "--network", live.network, "--json", "--data-dir",
                live.folder.appendingPathComponent("auditor").path,
            ])
        #expect(audited == 0, "\(auditText)")
        let audit = try lastJSONObject(in: auditText)
        let verified = try #require(audit["verified"] as? [String: Any])
        #expect(verified["passed"] as? Int == LiveJobPage.units)
        #expect((verified["failed"] as? [Int])?.isEmpty == true)

        // Ctrl-C stops it cleanly, and the page with it.
        live.status.interrupt()
        live.status.waitUntilExit()
        #expect(live.status.terminationStatus == 0)
        #expect(throws: (any Error).self) { try live.get("/api/job") }
    }

    @Test(ExternalTool.chromium.gate) func chromiumShowsTheJobsProgressAfterThePageScriptRan() throws {
        try ExternalTool.chromium.require()
        let live = try LiveJobPage(self)
        let (report, _) = try live.followToTheEnd()
        let chromium = Process()
        chromium.executableURL = URL(fileURLWithPath: try #require(Probe.onPath("chromium")))
        chromium.arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "--virtual-time-budget=5000",
            "--user-data-dir=" + live.folder.appendingPathComponent("chromium").path, live.page,
        ]
        let output = Pipe()
        chromium.standardOutput = output
        chromium.standardError = FileHandle.nullDevice
        try chromium.run()
        let dom = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        chromium.waitUntilExit()
        #expect(chromium.terminationStatus == 0)
        // The document as served says "—" everywhere and data-loaded="no": these are the script's doing.
        #expect(dom.contains(#"data-loaded="yes""#), "\(dom.prefix(2000))")
        #expect(dom.contains(#"<h1 id="title">A small Mandelbrot</h1>"#))
        #expect(dom.contains(#"<div id="percent">100% validated</div>"#))
        let units = LiveJobPage.units
        for (id, value) in [
            ("validated", units), ("inProgress", 0), ("waiting", 0), ("failed", 0), ("units", units), ("invalid", 0),
        ] {
            #expect(dom.contains(#"<b id="\#(id)">\#(value)</b>"#), "\(id) should show \(value)")
        }
        #expect(dom.contains(#"<b id="attempts">\#(report["attempts"] as? Int ?? -1)</b>"#))
        #expect(dom.contains(#"id="bar-validated" style="width: 100%;"#))
        let workers = try #require(report["workers"] as? [[String: Any]])
        for worker in workers {
            #expect(dom.contains(">\(worker["short"] as? String ?? "?")…</td><td class=\"n\">\(units)</td>"))
        }
        #expect(dom.components(separatedBy: #"<i class="v""#).count - 1 == units)
        #expect(dom.contains(#"src="/image.png?validated=\#(units)""#))
    }

    @Test func aBadWebAddressOrTokenIsAUsageErrorBeforeTheSwarmIsAsked() {
        let job = String(repeating: "ab", count: 32)
        for (arguments, complaint) in [
            (["--web", "somewhere"], "--web 'somewhere' is not HOST:PORT"),
            (["--web", "127.0.0.1:0", "--web-token", "short"], "--web-token must be 16 to 256"),
        ] {
            let harness = CLIHarness()
            defer { harness.cleanUp() }
            // No --bootstrap and no saved table: asking the swarm would fail another way.
            #expect(harness.run(["status", job] + arguments) == 2)
            #expect(harness.error.contains(complaint), "\(harness.error)")
        }
    }
}
