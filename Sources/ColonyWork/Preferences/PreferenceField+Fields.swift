import ColonyKernel

extension PreferenceField {
    /// Every preference, in the order `colony config` shows them.
    public static let fields: [PreferenceField] = [
        PreferenceField(
            "cores", flag: "cores", .number, "cores to compute on (off: all)",
            read: { $0.cores.map { .int($0) } ?? .null },
            write: { $0.cores = try optionalInteger($1, in: 1...1024) }),
        PreferenceField(
            "cpuPercent", flag: "cpu-limit", .number, "percent of each core's time, by duty cycle",
            read: { .int($0.cpuPercent) },
            write: { $0.cpuPercent = try integer($1, in: 1...100) }),
        PreferenceField(
            "suspendAboveNonColonyCPU", .number,
            "suspend while other programs use more CPU than this percent (off: never)",
            read: { $0.suspendAboveNonColonyCPU.map { .int($0) } ?? .null },
            write: { $0.suspendAboveNonColonyCPU = try optionalInteger($1, in: 1...100) }),
        PreferenceField(
            "suspendHysteresis", .number, "percentage points under the threshold before resuming",
            read: { .int($0.suspendHysteresis) },
            write: { $0.suspendHysteresis = try integer($1, in: 0...99) }),
        PreferenceField(
            "idleAfterMinutes", .number, "minutes without input before the computer counts as idle",
            read: { .int($0.idleAfterMinutes) },
            write: { $0.idleAfterMinutes = try integer($1, in: 1...1440) }),
        PreferenceField(
            "inUseCores", .number, "cores while the computer is in use (off: as cores; 0: none)",
            read: { $0.inUseCores.map { .int($0) } ?? .null },
            write: { $0.inUseCores = try optionalInteger($1, in: 0...1024) }),
        PreferenceField(
            "inUseCPUPercent", .number, "percent of each core's time while the computer is in use (off: as cpuPercent)",
            read: { $0.inUseCPUPercent.map { .int($0) } ?? .null },
            write: { $0.inUseCPUPercent = try optionalInteger($1, in: 1...100) }),
        PreferenceField(
            "memoryFraction", .number, "fraction of RAM all units together may use",
            read: { .double($0.memoryFraction) },
            write: { $0.memoryFraction = try number($1, in: 0.01...1, expected: "a fraction from 0.01 to 1") }),
        PreferenceField(
            "diskQuotaGB", .number, "gigabytes for blobs, custody and checkpoints (off: no quota)",
            read: { $0.diskQuotaGB.map { .double($0) } ?? .null },
            write: {
                $0.diskQuotaGB = try optionalNumber(
                    $1, in: 0.001...1e6, expected: "a number of gigabytes above 0, or null")
            }),
        PreferenceField(
            "dailyNetworkMB", .number, "megabytes sent and received per day (off: no cap)",
            read: { $0.dailyNetworkMB.map { .double($0) } ?? .null },
            write: {
                $0.dailyNetworkMB = try optionalNumber(
                    $1, in: 1...1e9, expected: "a number of megabytes from 1, or null")
            }),
        PreferenceField(
            "timeWindows", .json, "when kernels may run (empty: always)",
            read: {
                .array(
                    $0.timeWindows.map {
                        .object(["days": .string($0.days), "from": .string($0.from), "to": .string($0.to)])
                    })
            },
            write: { $0.timeWindows = try timeWindows($1) }),
        list("allowedPublishers", "publisher keys whose jobs are taken (empty: all)", \.allowedPublishers, keys: true),
        list("blockedPublishers", "publisher keys whose jobs are refused", \.blockedPublishers, keys: true),
        list("allowedKernels", "kernels that are run (empty: all)", \.allowedKernels, keys: false),
        list("blockedKernels", "kernels that are never run", \.blockedKernels, keys: false),
    ]

    /// The field called `name`, or nil.
    public static func named(_ name: String) -> PreferenceField? { fields.first { $0.name == name } }

    private static func integer(_ value: JSONValue, in range: ClosedRange<Int>) throws(ExpectedValue) -> Int {
        let expected = ExpectedValue(expected: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        switch value {
        case .int(let integer) where range.contains(integer): return integer
        case .double(let number) where number.rounded() == number && range.contains(Int(exactly: number) ?? .min):
            return Int(number)
        default: throw expected
        }
    }

    private static func optionalInteger(_ value: JSONValue, in range: ClosedRange<Int>) throws(ExpectedValue) -> Int? {
        guard value != .null else { return nil }
        do {
            return try integer(value, in: range)
        } catch {
            throw ExpectedValue(expected: error.expected + ", or null")
        }
    }

    private static func number(
        _ value: JSONValue, in range: ClosedRange<Double>, expected: String
    ) throws(ExpectedValue) -> Double {
        switch value {
        case .int(let integer) where range.contains(Double(integer)): return Double(integer)
        case .double(let number) where range.contains(number): return number
        default: throw ExpectedValue(expected: expected)
        }
    }

    private static func optionalNumber(
        _ value: JSONValue, in range: ClosedRange<Double>, expected: String
    ) throws(ExpectedValue) -> Double? {
        value == .null ? nil : try number(value, in: range, expected: expected)
    }

    /// A list of publisher keys (`keys`) or kernel names.
    private static func list(
        _ name: String, _ summary: String, _ path: WritableKeyPath<DonorPreferences, [String]> & Sendable, keys: Bool
    ) -> PreferenceField {
        PreferenceField(
            name, .list, summary, read: { strings($0[keyPath: path]) },
            write: { $0[keyPath: path] = keys ? try publisherKeys($1) : try kernelNames($1) })
    }

    private static func strings(_ list: [String]) -> JSONValue { .array(list.map { .string($0) }) }

    private static func stringList(
        _ value: JSONValue, expected: String, each: (String) -> Bool
    ) throws(ExpectedValue) -> [String] {
        guard case .array(let items) = value else { throw ExpectedValue(expected: expected) }
        var result: [String] = []
        for item in items {
            guard case .string(let text) = item, each(text) else { throw ExpectedValue(expected: expected) }
            result.append(text)
        }
        return result
    }

    private static func publisherKeys(_ value: JSONValue) throws(ExpectedValue) -> [String] {
        try stringList(value, expected: "an array of publisher keys, each 64 hex digits") { key in
            key.count == 64 && key.allSatisfy(\.isHexDigit)
        }.map { $0.lowercased() }
    }

    private static func kernelNames(_ value: JSONValue) throws(ExpectedValue) -> [String] {
        try stringList(value, expected: "an array of kernel names") { !$0.isEmpty }
    }

    private static func timeWindows(_ value: JSONValue) throws(ExpectedValue) -> [TimeWindow] {
        let expected = ExpectedValue(
            expected:
                #"an array of {"days": "mon-fri", "from": "HH:MM", "to": "HH:MM"} (days: mon…sun, ranges, lists or all)"#
        )
        guard case .array(let items) = value else { throw expected }
        var windows: [TimeWindow] = []
        for item in items {
            guard case .object(let fields) = item, Set(fields.keys) == ["days", "from", "to"],
                case .string(let days) = fields["days"], case .string(let from) = fields["from"],
                case .string(let to) = fields["to"], let window = TimeWindow(days: days, from: from, to: to)
            else { throw expected }
            windows.append(window)
        }
        return windows
    }
}
