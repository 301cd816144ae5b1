import ColonyTestSupport
import Foundation
import Testing

@testable import ColonyNet

/// The Prometheus text encoder: exact output, escaping, refused names, and what the reference parser (Python's
/// prometheus_client) reads back.
@Suite struct PrometheusTextTests {
    /// A worker's metrics, as the donor's /metrics would serve them, with every escape the format has.
    static func sample() throws -> PrometheusText {
        var text = PrometheusText()
        try text.counter(
            "colony_units_total", help: "Units finished, by outcome.",
            [.init(["outcome": "validated"], 12), .init(["outcome": "invalid"], 1)])
        try text.gauge("colony_leases", help: "Leases held now.", value: 3)
        try text.counter(
            "colony_refusals_total", help: "Refused requests: a backslash \\ and a\nnewline in help.",
            [.init(["reason": "quote \" backslash \\ newline \n end", "peer": "1.2.3.4"], 7)])
        try text.gauge("colony_ratio", help: "A fraction.", value: 0.25)
        try text.gauge("colony_nothing", help: "No samples.", [])
        return text
    }

    @Test func writesHelpTypeAndSamples() throws {
        let expected = """
            # HELP colony_units_total Units finished, by outcome.
            # TYPE colony_units_total counter
            colony_units_total{outcome="validated"} 12
            colony_units_total{outcome="invalid"} 1
            # HELP colony_leases Leases held now.
            # TYPE colony_leases gauge
            colony_leases 3
            # HELP colony_refusals_total Refused requests: a backslash \\\\ and a\\nnewline in help.
            # TYPE colony_refusals_total counter
            colony_refusals_total{reason="quote \\" backslash \\\\ newline \\n end",peer="1.2.3.4"} 7
            # HELP colony_ratio A fraction.
            # TYPE colony_ratio gauge
            colony_ratio 0.25
            # HELP colony_nothing No samples.
            # TYPE colony_nothing gauge

            """
        #expect(try Self.sample().text == expected)
    }

    @Test func formatsSpecialValues() {
        #expect(PrometheusText.formatted(0) == "0")
        #expect(PrometheusText.formatted(-3) == "-3")
        #expect(PrometheusText.formatted(1e20) == "1e+20")
        #expect(PrometheusText.formatted(.infinity) == "+Inf")
        #expect(PrometheusText.formatted(-.infinity) == "-Inf")
        #expect(PrometheusText.formatted(.nan) == "NaN")
        #expect(PrometheusText.formatted(1.5) == "1.5")
    }

    @Test func badNamesAndValuesAreRefusedWithTheMetricNamed() throws {
        var text = PrometheusText()
        let refusals: [(inout PrometheusText) throws -> Void] = [
            { try $0.gauge("1starts_with_digit", help: "", value: 1) },
            { try $0.gauge("has-dash", help: "", value: 1) },
            { try $0.gauge("", help: "", value: 1) },
            { try $0.gauge("ok", help: "", [.init(["1bad": "v"], 1)]) },
            { try $0.gauge("ok", help: "", [.init(["__reserved": "v"], 1)]) },
            { try $0.gauge("ok", help: "", [.init(["a": "1", "a": "2"], 1)]) },
            { try $0.gauge("ok", help: "", [.init(["a": "1"], 1), .init(["a": "1"], 2)]) },
            { try $0.counter("ok", help: "", value: -1) },
            { try $0.counter("ok", help: "", value: .nan) },
        ]
        for refusal in refusals {
            #expect(throws: PrometheusTextError.self) { try refusal(&text) }
        }
        #expect(text.text.isEmpty)
        try text.gauge("colony:ok_name", help: "", value: 1)
        #expect(throws: PrometheusTextError.self) { try text.gauge("colony:ok_name", help: "", value: 2) }
        do {
            try text.gauge("bad-name", help: "", value: 1)
        } catch {
            #expect(error.description.contains("bad-name"))
        }
    }

    /// Reads the exposition with prometheus_client's parser, from stdin or, given a URL, from a live server (checking
    /// the Content-Type), and prints each sample as JSON: [family, type, name, labels, value].
    static let parserScript = """
        import json, sys, urllib.request
        from prometheus_client.parser import text_string_to_metric_families
        if len(sys.argv) > 1:
            with urllib.request.urlopen(sys.argv[1]) as response:
                kind = response.headers["Content-Type"]
                if not kind.startswith("text/plain; version=0.0.4"):
                    sys.exit("wrong Content-Type: " + kind)
                text = response.read().decode("utf-8")
        else:
            text = sys.stdin.read()
        out = []
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out.append([family.name, family.type, s.name, s.labels, repr(float(s.value))])
        print(json.dumps(out))
        """

    /// What `parserScript` read, one line per sample: "family type name [labels] value".
    static func readByPrometheusClient(stdin text: String? = nil, url: String? = nil) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Probe.onPath("python3")))
        process.arguments = ["-c", parserScript] + (url.map { [$0] } ?? [])
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data((text ?? "").utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let rows = try #require(JSONSerialization.jsonObject(with: data) as? [[Any]])
        return rows.map { row in
            let labels = (row[3] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            return "\(row[0]) \(row[1]) \(row[2]) [\(labels.joined(separator: ","))] \(row[4])"
        }
    }

    /// `sample()` as prometheus_client reads it. The parser drops a counter family's _total suffix from the
    /// family's name, not from the sample's.
    static let sampleAsRead = [
        "colony_units counter colony_units_total [outcome=validated] 12.0",
        "colony_units counter colony_units_total [outcome=invalid] 1.0",
        "colony_leases gauge colony_leases [] 3.0",
        "colony_refusals counter colony_refusals_total [peer=1.2.3.4,reason=quote \" backslash \\ newline \n end] 7.0",
        "colony_ratio gauge colony_ratio [] 0.25",
    ]

    @Test(ExternalTool.prometheusClient.gate)
    func prometheusClientReadsTheOutputBack() throws {
        try ExternalTool.prometheusClient.require()
        var text = try Self.sample()
        try text.gauge(
            "colony_temperature", help: "Special values.", [.init(["k": "inf"], .infinity), .init(["k": "nan"], .nan)])
        #expect(
            try Self.readByPrometheusClient(stdin: text.text)
                == Self.sampleAsRead + [
                    "colony_temperature gauge colony_temperature [k=inf] inf",
                    "colony_temperature gauge colony_temperature [k=nan] nan",
                ])
    }

    @Test(ExternalTool.prometheusClient.gate)
    func prometheusClientScrapesMetricsFromALiveServer() throws {
        try ExternalTool.prometheusClient.require()
        var router = HTTPRouter()
        router.add(.get, "/metrics") { _ in
            do {
                return .prometheus(try Self.sample().text)
            } catch {
                return .text("\(error)\n", status: .internalServerError)
            }
        }
        let server = HTTPServer(port: 0, router: router)
        try server.start()
        defer { server.stop() }
        #expect(try Self.readByPrometheusClient(url: "http://\(server.localEndpoint)/metrics") == Self.sampleAsRead)
    }
}
