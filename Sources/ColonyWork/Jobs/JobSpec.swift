import ColonyKernel
import Foundation

/// A job as a publisher writes it: which kernel, its parameters, and the redundancy policy.
///
///     { "kernel": "mersenne", "title": "…", "parameters": { "below": 10000 },
///       "redundancy": { "replicas": 2, "quorum": 2, "maxAttempts": 10 }, "leaseSeconds": 300 }
///
/// Reading a spec checks every field; an unknown field is refused, since it is most likely a misspelling.
public struct JobSpec: Sendable, Equatable {
    /// The kernel's name.
    public var kernel: String
    /// A line for people; defaults to the kernel's name.
    public var title: String
    /// The kernel's parameters.
    public var parameters: KernelParameters
    /// How many workers compute each unit and how many must agree.
    public var redundancy: Redundancy
    /// How long a worker may hold a unit before it is offered to another.
    public var leaseSeconds: Int
    /// The file the spec was read from, for error messages.
    public var source: String

    /// The top-level fields a spec may have.
    public static let fields = ["kernel", "title", "parameters", "redundancy", "leaseSeconds"]
    /// The accepted lease durations, in seconds.
    public static let leaseLimits = 10...86_400

    /// A spec made in code.
    public init(
        kernel: String, title: String? = nil, parameters: [String: JSONValue] = [:],
        redundancy: Redundancy = Redundancy(), leaseSeconds: Int = 300, source: String = "spec"
    ) {
        self.kernel = kernel
        self.title = title ?? kernel
        self.parameters = KernelParameters(parameters, source: source)
        self.redundancy = redundancy
        self.leaseSeconds = leaseSeconds
        self.source = source
    }

    /// Reads and checks the spec file at `url`; `displayPath` is how errors name it (the path the user typed).
    public static func load(from url: URL, displayPath: String? = nil) throws(JobSpecError) -> JobSpec {
        let source = displayPath ?? url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            var isFolder: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder)
            let problem =
                !exists ? "does not exist" : isFolder.boolValue ? "is a folder, not a spec file" : "cannot be read"
            throw JobSpecError(source: source, field: nil, problem: problem, expected: "a JSON job spec file")
        }
        return try parse(data, source: source)
    }

    /// Parses and checks spec text read from `source`.
    public static func parse(_ data: Data, source: String) throws(JobSpecError) -> JobSpec {
        let value: JSONValue
        do {
            value = try JSONText.parse(data, source: source)
        } catch {
            throw JobSpecError(source: source, field: nil, problem: error.reason)
        }
        guard case .object(let fields) = value else {
            throw JobSpecError(
                source: source, field: nil, problem: "is \(value.typeDescription), not a JSON object",
                expected: "an object with fields " + fields.joined(separator: ", "))
        }
        let reader = FieldReader(source: source, fields: fields, path: "")
        let unknown = fields.keys.filter { !Self.fields.contains($0) }.sorted()
        if let first = unknown.first {
            throw JobSpecError(
                source: source, field: first, problem: "is not a job spec field",
                expected: "only " + Self.fields.joined(separator: ", "))
        }
        let kernel = try reader.string("kernel", expected: "a string naming a compiled-in kernel (see colony kernels)")
        guard !kernel.isEmpty else {
            throw JobSpecError(source: source, field: "kernel", problem: "is empty", expected: "a kernel name")
        }
        let title = try reader.optionalString("title") ?? kernel
        let parameters = try reader.optionalObject("parameters") ?? [:]
        let redundancy = try Redundancy(reading: reader.optionalObject("redundancy") ?? [:], source: source)
        let lease = try reader.optionalInt("leaseSeconds", in: leaseLimits) ?? 300
        var spec = JobSpec(
            kernel: kernel, title: title, parameters: parameters, redundancy: redundancy, leaseSeconds: lease,
            source: source)
        spec.parameters = KernelParameters(parameters, source: source)
        return spec
    }
}

/// How many workers compute each unit (`replicas`), how many must agree (`quorum`), and how many attempts a
/// unit gets before it fails (`maxAttempts`).
public struct Redundancy: Sendable, Equatable {
    /// Workers that compute each unit at once.
    public var replicas: Int
    /// Distinct workers whose outputs must agree for a unit to be validated.
    public var quorum: Int
    /// Leases a unit may use up (expired, erroneous or disagreeing) before it fails.
    public var maxAttempts: Int
    /// Agreeing replicas count only from workers on distinct networks: addresses that share this many leading
    /// bits (IPv4, default 24) or `ipv6Prefix` bits (IPv6, default 48) are one network. 0 turns the rule off for
    /// that family, for a private cluster where every worker is known.
    public var ipv4Prefix = 24
    public var ipv6Prefix = 48
    /// Adaptive replication (issue 14): a unit leased to a worker with at least `trustAfter` consecutive valid
    /// results in its shard runs once, spot-checked at max(`minSpotCheck`, 1/n) after n (`ShardLedger`).
    public var adaptive = false
    /// The lowest spot-check rate of adaptive replication, from 0.001 to 1.
    public var minSpotCheck = 0.01
    /// Consecutive valid results before a worker's units may run once.
    public var trustAfter = 10
    /// Whether custodians check each result run alone with the kernel's `verify` (where the kernel has one and
    /// the unit's input is inline): one that fails is a failed check, found at once. Off only to measure what the
    /// check saves, or for a kernel whose check costs more than it is worth.
    public var verifyAlone = true

    /// The limits on each field.
    public static let replicaLimits = 1...16
    /// The limits on `maxAttempts`.
    public static let attemptLimits = 1...100

    /// A policy; the defaults are two workers, both agreeing, ten attempts. (A wrong or copied result makes two
    /// fresh replicas necessary, since a seal made after a reveal never pairs with it: six attempts left units
    /// failing with a third of the workers misbehaving.)
    public init(replicas: Int = 2, quorum: Int = 2, maxAttempts: Int = 10) {
        self.replicas = replicas
        self.quorum = quorum
        self.maxAttempts = maxAttempts
    }

    init(reading fields: [String: JSONValue], source: String) throws(JobSpecError) {
        let reader = FieldReader(source: source, fields: fields, path: "redundancy.")
        let known = ["replicas", "quorum", "maxAttempts", "ipv4Prefix", "ipv6Prefix", "adaptive", "minSpotCheck", "trustAfter", "verifyAlone"]
        if let unknown = fields.keys.filter({ !known.contains($0) }).sorted().first {
            throw JobSpecError(
                source: source, field: "redundancy." + unknown, problem: "is not a redundancy field",
                expected: "only " + known.joined(separator: ", "))
        }
        replicas = try reader.optionalInt("replicas", in: Self.replicaLimits) ?? 2
        quorum = try reader.optionalInt("quorum", in: 1...replicas) ?? min(2, replicas)
        maxAttempts = try reader.optionalInt("maxAttempts", in: replicas...Self.attemptLimits.upperBound) ?? max(
            10, replicas)
        ipv4Prefix = try reader.optionalInt("ipv4Prefix", in: 0...32) ?? 24
        ipv6Prefix = try reader.optionalInt("ipv6Prefix", in: 0...128) ?? 48
        adaptive = try reader.optionalBool("adaptive") ?? false
        minSpotCheck = try reader.optionalDouble("minSpotCheck", in: Self.spotCheckLimits) ?? 0.01
        trustAfter = try reader.optionalInt("trustAfter", in: Self.trustLimits) ?? 10
        verifyAlone = try reader.optionalBool("verifyAlone") ?? true
        if adaptive, quorum < 2 {
            throw JobSpecError(
                source: source, field: "redundancy.adaptive", problem: "is true with a quorum of \(quorum)",
                expected: "a quorum of 2 or more (adaptive replication spot-checks against a quorum)")
        }
    }

    /// The limits on `minSpotCheck` and `trustAfter`.
    public static let spotCheckLimits = 0.001...1.0
    public static let trustLimits = 1...1000
}

/// Typed reads of a spec's fields, whose errors carry the field's full path.
struct FieldReader {
    let source: String
    let fields: [String: JSONValue]
    let path: String

    func string(_ name: String, expected: String) throws(JobSpecError) -> String {
        guard let value = fields[name], value != .null else {
            throw JobSpecError(source: source, field: path + name, problem: "is missing", expected: expected)
        }
        guard case .string(let text) = value else { throw mistyped(name, value, expected: expected) }
        return text
    }

    func optionalString(_ name: String) throws(JobSpecError) -> String? {
        guard let value = fields[name], value != .null else { return nil }
        guard case .string(let text) = value else { throw mistyped(name, value, expected: "a string") }
        return text
    }

    func optionalObject(_ name: String) throws(JobSpecError) -> [String: JSONValue]? {
        guard let value = fields[name], value != .null else { return nil }
        guard case .object(let object) = value else { throw mistyped(name, value, expected: "a JSON object") }
        return object
    }

    func optionalBool(_ name: String) throws(JobSpecError) -> Bool? {
        guard let value = fields[name], value != .null else { return nil }
        guard case .bool(let flag) = value else { throw mistyped(name, value, expected: "true or false") }
        return flag
    }

    func optionalDouble(_ name: String, in range: ClosedRange<Double>) throws(JobSpecError) -> Double? {
        guard let value = fields[name], value != .null else { return nil }
        let expected = "a number from \(range.lowerBound) to \(range.upperBound)"
        let number: Double
        switch value {
        case .int(let whole): number = Double(whole)
        case .double(let real): number = real
        default: throw mistyped(name, value, expected: expected)
        }
        guard range.contains(number) else {
            throw JobSpecError(source: source, field: path + name, problem: "is \(number)", expected: expected)
        }
        return number
    }

    func optionalInt(_ name: String, in range: ClosedRange<Int>) throws(JobSpecError) -> Int? {
        guard let value = fields[name], value != .null else { return nil }
        let expected = "an integer from \(range.lowerBound) to \(range.upperBound)"
        guard case .int(let number) = value else { throw mistyped(name, value, expected: expected) }
        guard range.contains(number) else {
            throw JobSpecError(source: source, field: path + name, problem: "is \(number)", expected: expected)
        }
        return number
    }

    private func mistyped(_ name: String, _ value: JSONValue, expected: String) -> JobSpecError {
        JobSpecError(
            source: source, field: path + name, problem: "is \(value.typeDescription) (\(value.shortDescription))",
            expected: expected)
    }
}
