/// Writes metrics in Prometheus' text exposition format, version 0.0.4: per family a `# HELP` and a `# TYPE` line,
/// then one line per sample, `name{label="value",…} value`.
///
/// Names are checked as they are added, so a bad name is an error at the call that made it, not a scrape that
/// Prometheus rejects later: metric names match `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`
/// without the reserved `__` prefix, each family once, each label once per sample.
public struct PrometheusText: Sendable {
    /// The Content-Type of a response carrying this format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The kind of a metric family: what its `# TYPE` line says.
    public struct MetricType: Hashable, Sendable, CustomStringConvertible {
        /// The word on the `# TYPE` line.
        public let name: String

        /// Only ever goes up (reset to zero when the process restarts): requests served, bytes sent.
        public static let counter = MetricType(name: "counter")
        /// Goes up and down: units running, records held.
        public static let gauge = MetricType(name: "gauge")

        public var description: String { name }
    }

    /// One sample: label pairs and a value.
    public struct Sample: Hashable, Sendable {
        /// The labels in the order they are written.
        public var labels: [Label]
        /// The value.
        public var value: Double

        /// A sample with `labels` in order and `value`.
        public init(_ labels: KeyValuePairs<String, String> = [:], _ value: Double) {
            self.labels = labels.map { Label(name: $0.key, value: $0.value) }
            self.value = value
        }
    }

    /// One label pair.
    public struct Label: Hashable, Sendable {
        /// The label's name.
        public var name: String
        /// The label's value, any UTF-8 text.
        public var value: String
    }

    /// The text written so far.
    public private(set) var text = ""
    private var families: Set<String> = []

    /// An empty exposition.
    public init() {}

    /// Adds a counter family; each value must be zero or more (or +Inf).
    public mutating func counter(_ name: String, help: String, _ samples: [Sample]) throws(PrometheusTextError) {
        try add(name, type: .counter, help: help, samples)
    }

    /// Adds a counter with one unlabelled sample.
    public mutating func counter(_ name: String, help: String, value: Double) throws(PrometheusTextError) {
        try add(name, type: .counter, help: help, [Sample([:], value)])
    }

    /// Adds a gauge family.
    public mutating func gauge(_ name: String, help: String, _ samples: [Sample]) throws(PrometheusTextError) {
        try add(name, type: .gauge, help: help, samples)
    }

    /// Adds a gauge with one unlabelled sample.
    public mutating func gauge(_ name: String, help: String, value: Double) throws(PrometheusTextError) {
        try add(name, type: .gauge, help: help, [Sample([:], value)])
    }

    /// Adds a family of `type`: checks every name and value first, so a refused family leaves the text unchanged.
    public mutating func add(
        _ name: String, type: MetricType, help: String, _ samples: [Sample]
    ) throws(PrometheusTextError) {
        guard Self.isMetricName(name) else {
            throw PrometheusTextError(metric: name, message: "the name must match [a-zA-Z_:][a-zA-Z0-9_:]*")
        }
        guard !families.contains(name) else {
            throw PrometheusTextError(metric: name, message: "the family was already added; add each name once")
        }
        var lines = "# HELP \(name) \(Self.escaped(help, quotes: false))\n# TYPE \(name) \(type)\n"
        var seen: Set<[Label]> = []
        for sample in samples {
            var names: Set<String> = []
            for label in sample.labels {
                guard Self.isLabelName(label.name) else {
                    throw PrometheusTextError(
                        metric: name,
                        message: "label \"\(label.name)\" must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __")
                }
                guard names.insert(label.name).inserted else {
                    throw PrometheusTextError(metric: name, message: "label \(label.name) appears twice in one sample")
                }
            }
            guard seen.insert(sample.labels.sorted { $0.name < $1.name }).inserted else {
                throw PrometheusTextError(metric: name, message: "two samples have the same labels \(sample.labels)")
            }
            if type == .counter, sample.value.isNaN || sample.value < 0 {
                throw PrometheusTextError(metric: name, message: "a counter cannot be \(sample.value)")
            }
            lines += name
            if !sample.labels.isEmpty {
                let pairs = sample.labels.map { "\($0.name)=\"\(Self.escaped($0.value, quotes: true))\"" }
                lines += "{" + pairs.joined(separator: ",") + "}"
            }
            lines += " " + Self.formatted(sample.value) + "\n"
        }
        families.insert(name)
        text += lines
    }

    // MARK: Format rules

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !isDigit(first) else { return false }
        return name.utf8.allSatisfy {
            isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":")
        }
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !isDigit(first), !name.hasPrefix("__") else { return false }
        return name.utf8.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    /// Backslash and newline escaped (HELP text); double quotes too in a label value.
    static func escaped(_ text: String, quotes: Bool) -> String {
        var result = ""
        for character in text.unicodeScalars {
            switch character {
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\"" where quotes: result += "\\\""
            default: result.unicodeScalars.append(character)
            }
        }
        return result
    }

    /// Integers (up to 2^53) without a fraction; other values as Go's ParseFloat reads them, with NaN and ±Inf
    /// spelled as the format wants.
    static func formatted(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) <= 9_007_199_254_740_992 { return String(Int64(value)) }
        return "\(value)"
    }
}
