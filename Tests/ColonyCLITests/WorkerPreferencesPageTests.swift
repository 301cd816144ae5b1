import ColonyTestSupport
import ColonyWork
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The preferences on `colony worker`'s page: `/api/preferences` and the page's Preferences section, served by a
/// real worker process whose environment sets COLONY_CORES (issue 13, lets the donor edit preferences; A JSON API
/// lies behind the page).
extension BlobSwarmTests {
    /// This process's environment without preference variables, and COLONY_CORES=1: the worker's cores are then
    /// the environment's (it is started without --cores).
    static var coresFromEnvironment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for field in PreferenceField.fields { environment[field.environment] = nil }
        environment["COLONY_CORES"] = "1"
        return environment
    }

    /// POSTs `body` to the page's /api/preferences: the status and the JSON answer.
    func postPreferences(
        _ url: String, _ body: String, headers: [String: String] = [:]
    ) throws -> (status: Int, answer: [String: Any]) {
        let (status, data) = try http(
            "POST", url + "api/preferences", body: Data(body.utf8),
            headers: ["Content-Type": "application/json"].merging(headers) { $1 })
        return (status, (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
    }

    /// An answer's fields by name.
    func preferenceFields(_ answer: [String: Any]) throws -> [String: [String: Any]] {
        let fields = try #require(answer["fields"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: fields.map { ($0["name"] as? String ?? "", $0) })
    }

    /// The preferences file's fields.
    func fileFields(_ file: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
    }

    /// A time window from two hours from now to three, local time: the worker is outside it now.
    static var laterWindow: String {
        let hour = Calendar.current.component(.hour, from: Date())
        func time(_ offset: Int) -> String { String(format: "%02d:00", (hour + offset) % 24) }
        return #"[{"days": "all", "from": "\#(time(2))", "to": "\#(time(3))"}]"#
    }

    @Test func thePreferencesAPIShowsSetsAndRefusesAndSaysWhatTheEnvironmentOverrides() throws {
        try withWorkerPage("worker-preferences", environment: Self.coresFromEnvironment, cores: nil) {
            folder, url, _ in
            let data = folder.appendingPathComponent("worker")
            let file = data.appendingPathComponent("preferences.json")

            // Every field, in `colony config`'s order, with where its value came from.
            let shown = try json("GET", url + "api/preferences")
            let list = try #require(shown["fields"] as? [[String: Any]])
            #expect(list.map { $0["name"] as? String } == PreferenceField.fields.map(\.name))
            #expect(shown["file"] as? String == file.path)
            var fields = try preferenceFields(shown)
            #expect(fields["cores"]?["value"] as? Int == 1)
            #expect(fields["cores"]?["source"] as? String == "env COLONY_CORES")
            #expect(fields["cores"]?["overridden"] as? Bool == true)
            #expect(fields["cpuPercent"]?["value"] as? Int == 100)
            #expect(fields["cpuPercent"]?["source"] as? String == "default")
            #expect(fields["cpuPercent"]?["overridden"] as? Bool == false)
            #expect(fields["cpuPercent"]?["summary"] as? String == "percent of each core's time, by duty cycle")
            #expect(try json("GET", url + "api/status")["coresInUse"] as? Int == 1)

            // A good value is written to the file, shown by `colony config` and followed by the worker at once.
            var (status, answer) = try postPreferences(url, #"{"cpuPercent": 40}"#)
            #expect(status == 200)
            fields = try preferenceFields(answer)
            #expect(fields["cpuPercent"]?["value"] as? Int == 40)
            #expect(fields["cpuPercent"]?["source"] as? String == "file")
            #expect(try fileFields(file)["cpuPercent"] as? Int == 40)
            let (exit, printed) = try run(
                try #require(colonyExecutable()), ["config", "--json", "--data-dir", data.path],
                environment: Self.coresFromEnvironment.filter { $0.key != "COLONY_CORES" })
            #expect(exit == 0, "\(printed)")
            let config = try #require(
                try JSONSerialization.jsonObject(with: Data(printed.utf8)) as? [String: [String: Any]])
            #expect(config["cpuPercent"]?["value"] as? Int == 40)
            #expect(config["cpuPercent"]?["source"] as? String == "file")
            var workerStatus = try json("GET", url + "api/status")
            #expect(workerStatus["cpuPercent"] as? Int == 40)
            #expect(workerStatus["suspensions"] as? [Any] != nil && workerStatus["leaseHolds"] as? [Any] != nil)
            #expect(workerStatus["inUse"] as? Bool == false)

            // A bad value, an unknown field or a body that is not an object changes nothing, and says why.
            let before = try Data(contentsOf: file)
            (status, answer) = try postPreferences(url, #"{"cpuPercent": 0}"#)
            #expect(status == 400)
            #expect(answer["field"] as? String == "cpuPercent")
            #expect(
                answer["error"] as? String
                    == #"POST /api/preferences: field "cpuPercent": expected a whole number from 1 to 100, got 0"#)
            (status, answer) = try postPreferences(url, #"{"cpuPercent": 50, "colour": "blue"}"#)
            #expect(status == 400)
            #expect((answer["error"] as? String)?.contains("no preference named 'colour'") == true, "\(answer)")
            (status, answer) = try postPreferences(url, "[40]")
            #expect(status == 400)
            #expect((answer["error"] as? String)?.contains("expected a JSON object") == true, "\(answer)")
            // Another site's page may not change them, even through the donor's own browser.
            (status, _) = try postPreferences(
                url, #"{"cpuPercent": 50}"#, headers: ["Origin": "http://colony.example"])
            #expect(status == 403)
            #expect(try Data(contentsOf: file) == before)
            #expect(try json("GET", url + "api/status")["cpuPercent"] as? Int == 40)

            // A field the environment overrides is still written, and the answer says the variable decides.
            (status, answer) = try postPreferences(url, #"{"cores": 2, "allowedKernels": "mersenne, collatz"}"#)
            #expect(status == 200)
            fields = try preferenceFields(answer)
            #expect(fields["cores"]?["value"] as? Int == 1)
            #expect(fields["cores"]?["overridden"] as? Bool == true)
            #expect(fields["allowedKernels"]?["value"] as? [String] == ["mersenne", "collatz"])
            #expect(try fileFields(file)["cores"] as? Int == 2)
            #expect(try fileFields(file)["cpuPercent"] as? Int == 40)
            #expect(try json("GET", url + "api/status")["coresInUse"] as? Int == 1)

            // Outside the donor's time windows the worker is suspended, and says why; inside them again it is not.
            (status, answer) = try postPreferences(url, #"{"timeWindows": \#(Self.laterWindow)}"#)
            #expect(status == 200, "\(answer)")
            workerStatus = try json("GET", url + "api/status")
            #expect(workerStatus["state"] as? String == "running")
            let suspensions = try #require(workerStatus["suspensions"] as? [[String: String]])
            #expect(suspensions == [["code": "time-window", "text": "outside the donor's time windows"]])
            (status, _) = try postPreferences(url, #"{"timeWindows": []}"#)
            #expect(status == 200)
            #expect((try json("GET", url + "api/status")["suspensions"] as? [Any])?.isEmpty == true)
        }
    }

    @Test(ExternalTool.chromium.gate)
    func headlessChromiumShowsThePreferencesTheirSourcesAndTheSuspension() throws {
        try ExternalTool.chromium.require()
        try withWorkerPage("worker-preferences-chromium", environment: Self.coresFromEnvironment, cores: nil) {
            folder, url, _ in
            let (status, answer) = try postPreferences(
                url, #"{"cpuPercent": 40, "timeWindows": \#(Self.laterWindow)}"#)
            #expect(status == 200, "\(answer)")
            let (_, dom) = try run(
                URL(fileURLWithPath: try #require(Probe.onPath("chromium"))),
                [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--user-data-dir=" + folder.appendingPathComponent("chromium").path,
                    "--virtual-time-budget=5000", "--dump-dom", url,
                ])
            // What the script wrote from /api/status and /api/preferences.
            #expect(dom.contains(#"<span id="state" class="badge suspended">Suspended</span>"#), "\(dom)")
            #expect(dom.contains("Suspended: outside the donor's time windows"))
            let rows = try #require(
                dom.components(separatedBy: "<tbody id=\"prefs\">").last?.components(separatedBy: "</tbody>").first)
            #expect(rows.components(separatedBy: "<tr class=\"pref\">").count - 1 == PreferenceField.fields.count)
            /// The `<input>` tag of the field `name`.
            func input(_ name: String) -> String {
                let start = rows.components(separatedBy: "<input class=\"value\" id=\"pref-\(name)\"").last ?? ""
                return start.components(separatedBy: ">").first ?? ""
            }
            #expect(input("cores").contains("value=\"1\"") && input("cores").contains("disabled"), "\(input("cores"))")
            #expect(rows.contains("env COLONY_CORES overrides the file"))
            #expect(input("cpuPercent").contains("value=\"40\"") && !input("cpuPercent").contains("disabled"))
            #expect(input("diskQuotaGB").contains("value=\"off\""))
            #expect(input("allowedKernels").contains("value=\"\""))
            #expect(rows.contains("<span class=\"source over\">env COLONY_CORES</span>"))
            #expect(rows.contains("<span class=\"source file\">file</span>"))
            #expect(rows.contains("<span class=\"source default\">default</span>"))
            #expect(rows.contains("percent of each core's time, by duty cycle"))
        }
    }
}
