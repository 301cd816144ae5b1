import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation
import Testing

@Suite("Donor preferences")
struct PreferencesTests {
    @Test(
        "a bad value names the file, the field, what was expected and what was given",
        arguments: [
            (
                #"{"cpuPercent": "fast"}"#,
                #"preferences.json: field "cpuPercent": expected a whole number from 1 to 100, got "fast""#
            ),
            (
                #"{"cpuPercent": 0}"#,
                #"preferences.json: field "cpuPercent": expected a whole number from 1 to 100, got 0"#
            ),
            (
                #"{"cores": 2.5}"#,
                #"preferences.json: field "cores": expected a whole number from 1 to 1024, or null, got 2.5"#
            ),
            (
                #"{"memoryFraction": 2}"#,
                #"preferences.json: field "memoryFraction": expected a fraction from 0.01 to 1, got 2"#
            ),
            (
                #"{"blockedPublishers": ["abc"]}"#,
                #"preferences.json: field "blockedPublishers": expected an array of publisher keys, each 64 hex digits, got […]"#
            ),
            (
                #"{"timeWindows": [{"days": "mon-fry", "from": "18:00", "to": "08:00"}]}"#,
                #"preferences.json: field "timeWindows": expected an array of {"days": "mon-fri", "from": "HH:MM", "to": "HH:MM"} (days: mon…sun, ranges, lists or all), got […]"#
            ),
        ])
    func badValue(text: String, message: String) {
        #expect(throws: PreferenceError.self) { try PreferencesFile.decode(Data(text.utf8)) }
        do {
            _ = try PreferencesFile.decode(Data(text.utf8))
        } catch {
            #expect(error.description == message)
        }
    }

    @Test("an unknown field is an error naming it, so a typo does not silently do nothing")
    func unknownField() throws {
        let error = try #require(throws: PreferenceError.self) {
            try PreferencesFile.decode(Data(#"{"cpuPercnt": 50, "cores": 2}"#.utf8), source: "/d/preferences.json")
        }
        #expect(error.source == "/d/preferences.json")
        #expect(
            error.description.hasPrefix(
                #"/d/preferences.json: unknown field "cpuPercnt"; known fields are cores, cpuPercent"#))
    }

    @Test("a file that is not a JSON object is an error naming the file")
    func notAnObject() throws {
        let error = try #require(throws: PreferenceError.self) { try PreferencesFile.decode(Data("[1]".utf8)) }
        #expect(error.description == "preferences.json: expected a JSON object, got […]")
        #expect(throws: PreferenceError.self) { try PreferencesFile.decode(Data("{".utf8)) }
    }

    @Test("a valid file sets its fields and leaves the others at their defaults")
    func validFile() throws {
        let key = Ed25519PrivateKey().publicKey.hex
        let text = #"""
            {"cores": 3, "cpuPercent": 40, "memoryFraction": 0.5, "diskQuotaGB": null, "blockedPublishers": ["\#(key)"],
             "timeWindows": [{"days": "mon-fri", "from": "18:00", "to": "08:00"}], "allowedKernels": ["mersenne"]}
            """#
        let fields = try PreferencesFile.decode(Data(text.utf8))
        let effective = try EffectivePreferences(file: fields, environment: [:])
        var expected = DonorPreferences()
        expected.cores = 3
        expected.cpuPercent = 40
        expected.memoryFraction = 0.5
        expected.blockedPublishers = [key]
        expected.allowedKernels = ["mersenne"]
        expected.timeWindows = [try #require(TimeWindow(days: "mon-fri", from: "18:00", to: "08:00"))]
        #expect(effective.preferences == expected)
        #expect(effective.source(of: "cores") == .file)
        #expect(effective.source(of: "suspendAboveNonColonyCPU") == .default)
        #expect(effective.preferences.suspendAboveNonColonyCPU == nil)
        #expect(effective.preferences.suspendHysteresis == 10)
    }

    @Test("flags beat environment variables, which beat the file, which beats the defaults")
    func precedence() throws {
        let file: [String: JSONValue] = ["cores": .int(2), "cpuPercent": .int(30), "memoryFraction": .double(0.5)]
        let environment = [
            "COLONY_CORES": "3", "COLONY_CPU_PERCENT": "60", "COLONY_BLOCKED_KERNELS": "primes, collatz",
        ]
        let effective = try EffectivePreferences(file: file, environment: environment, flags: ["cpu-limit": "90"])
        #expect(effective.preferences.cpuPercent == 90)
        #expect(effective.source(of: "cpuPercent") == .flag("cpu-limit"))
        #expect(effective.preferences.cores == 3)
        #expect(effective.source(of: "cores") == .environment("COLONY_CORES"))
        #expect(effective.preferences.memoryFraction == 0.5)
        #expect(effective.source(of: "memoryFraction") == .file)
        #expect(effective.preferences.blockedKernels == ["primes", "collatz"])
        #expect(effective.preferences.dailyNetworkMB == nil)
        #expect(effective.source(of: "dailyNetworkMB") == .default)
    }

    @Test("environment variables follow one scheme: COLONY_ and the name in upper snake case")
    func environmentNames() {
        let names = PreferenceField.fields.map(\.environment)
        #expect(names.contains("COLONY_CPU_PERCENT"))
        #expect(names.contains("COLONY_SUSPEND_ABOVE_NON_COLONY_CPU"))
        #expect(names.contains("COLONY_DISK_QUOTA_GB"))
        #expect(names.contains("COLONY_ALLOWED_PUBLISHERS"))
        #expect(Set(names).count == names.count)
    }

    @Test("a bad environment variable or flag is an error naming it")
    func badOverride() throws {
        let fromEnvironment = try #require(throws: PreferenceError.self) {
            try EffectivePreferences(file: [:], environment: ["COLONY_CPU_PERCENT": "fast"])
        }
        #expect(
            fromEnvironment.description == #"COLONY_CPU_PERCENT: expected a whole number from 1 to 100, got "fast""#)
        let fromFlag = try #require(throws: PreferenceError.self) {
            try EffectivePreferences(file: [:], environment: [:], flags: ["cores": "0"])
        }
        #expect(fromFlag.description == "--cores: expected a whole number from 1 to 1024, or null, got 0")
    }

    @Test("time windows read day names, ranges that wrap, lists, and HH:MM")
    func timeWindows() {
        #expect(TimeWindow.weekdays("mon-fri") == [0, 1, 2, 3, 4])
        #expect(TimeWindow.weekdays("fri-mon") == [4, 5, 6, 0])
        #expect(TimeWindow.weekdays("sat,sun") == [5, 6])
        #expect(TimeWindow.weekdays("all") == Set(0..<7))
        #expect(TimeWindow.weekdays("weekends") == nil)
        #expect(TimeWindow.minutes("18:30") == 18 * 60 + 30)
        #expect(TimeWindow.minutes("24:00") == nil)
        #expect(TimeWindow.minutes("8:00") == nil)
    }

    @Test("the memory limit per unit is memoryFraction of RAM shared among the cores, at least 256 MiB")
    func memoryLimit() {
        var preferences = DonorPreferences()
        preferences.memoryFraction = 0.5
        #expect(preferences.unitMemoryLimit(physicalMemory: 16 << 30, cores: 4) == 2 << 30)
        #expect(preferences.unitMemoryLimit(physicalMemory: 1 << 30, cores: 8) == 256 << 20)
    }
}

@Suite("Job admission")
struct JobAdmissionTests {
    let publisher = Ed25519PrivateKey().publicKey.hex
    let other = Ed25519PrivateKey().publicKey.hex

    @Test("a blocked publisher's job is refused, another's is taken")
    func blockedPublisher() {
        var preferences = DonorPreferences()
        preferences.blockedPublishers = [publisher]
        let admission = preferences.admission
        #expect(admission.refusal(kernel: "mersenne", publisherHex: publisher.uppercased()) != nil)
        #expect(admission.refusal(kernel: "mersenne", publisherHex: other) == nil)
    }

    @Test("with an allow list only those publishers' jobs are taken, and a block wins over an allow")
    func allowedPublishers() {
        let admission = JobAdmission(allowedPublishers: [publisher], blockedKernels: ["primes"])
        #expect(admission.refusal(kernel: "mersenne", publisherHex: publisher) == nil)
        #expect(
            admission.refusal(kernel: "mersenne", publisherHex: other)
                == "publisher \(other.prefix(12)) is not among the allowed publishers")
        #expect(admission.refusal(kernel: "primes", publisherHex: publisher) == "kernel primes is blocked")
        let both = JobAdmission(allowedPublishers: [publisher], blockedPublishers: [publisher])
        #expect(
            both.refusal(kernel: "mersenne", publisherHex: publisher) == "publisher \(publisher.prefix(12)) is blocked")
    }

    @Test("allowed kernels narrow the kernels run")
    func allowedKernels() {
        let admission = JobAdmission(allowedKernels: ["mersenne"])
        #expect(admission.refusal(kernel: "mersenne", publisherHex: publisher) == nil)
        #expect(
            admission.refusal(kernel: "collatz", publisherHex: publisher)
                == "kernel collatz is not among the allowed kernels")
    }
}
