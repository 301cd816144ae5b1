import Foundation

/// A compute kernel: the code a worker runs. Kernel authors implement this in a Swift target of their own
/// and compile it into a worker; jobs carry data and parameters, never code.
///
/// The contract, which `ExampleKernelTests` checks for every shipped kernel:
/// - `units(for:)` is a pure function of the parameters: the same parameters give the same unit inputs.
/// - `run(_:context:)` is a pure function of its input: the same input gives output that `equivalent`
///   accepts, on any machine, whether or not it was interrupted and resumed from a checkpoint.
/// - `run` calls `context.step(…)` often (every few milliseconds of work) so that Ctrl-C, CPU limits and
///   checkpoints take effect promptly.
/// - `assemble` gets the outputs in the order of the units and writes its files into the directory.
public protocol ComputeKernel: Sendable {
    /// The kernel's name as job specs give it: `"mersenne"`.
    static var name: String { get }
    /// Bumped whenever the outputs for the same input change; part of the job's identity.
    static var version: Int { get }
    /// One line saying what the kernel computes, for `colony kernels`.
    static var summary: String { get }
    /// The parameters the kernel reads. A spec naming any other parameter is refused as a likely typo.
    static var parameters: [KernelParameterInfo] { get }

    /// Makes a kernel; kernels hold no state between calls.
    init()

    /// Splits a job into unit inputs (the publisher's side). Throws `KernelParameterError` for bad parameters.
    func units(for parameters: KernelParameters) throws -> [Data]

    /// Computes one unit (the worker's side). Throws `KernelInterruption` (from `context.step`) when stopped.
    func run(_ input: Data, context: KernelContext) throws -> Data

    /// Whether two outputs for the same unit agree, for quorum validation. Default: equal bytes.
    func equivalent(_ a: Data, _ b: Data) -> Bool

    /// Combines the outputs, in unit order, into the job's result: files in `directory` and a summary.
    func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary

    /// The work a validated unit stands for, in `workUnit`s: the credit its workers earn. Computed from the unit's
    /// input (what the publisher asked for) and the output a quorum agreed on, and held to what the input asked,
    /// so every agreeing replica is credited the same and no quorum can claim more. Default: 1 per unit.
    func work(input: Data, output: Data) -> Double

    /// What `work(input:output:)` counts, plural: "units" by default; "Lucas–Lehmer iterations", say.
    static var workUnit: String { get }

    /// Checks `output` for `input` more cheaply than `run` would recompute it: true when it holds up, false when
    /// it is wrong, nil when the kernel has no such check (the default). For results that were not replicated, or
    /// to audit a quorum: a check may sample (a fraction of pixels, say), so true is evidence, not proof.
    ///
    /// A pure function of its three arguments: custodians run it on every result accepted alone and anyone
    /// re-verifying runs it again, so all must get the same answer. A check that samples draws its sample from
    /// `seed` (`CheckSampler`), which the worker cannot know when it fixes its output (a custodian's draw on
    /// the worker's seal), never from a generator of its own.
    func verify(input: Data, output: Data, seed: UInt64) -> Bool?
}

extension ComputeKernel {
    public func equivalent(_ a: Data, _ b: Data) -> Bool { a == b }

    public func work(input: Data, output: Data) -> Double { 1 }

    public static var workUnit: String { "units" }

    public func verify(input: Data, output: Data, seed: UInt64) -> Bool? { nil }

    /// `verify(input:output:seed:)` under a random seed: a publisher auditing outputs, where nobody else needs to
    /// reach the same answer.
    public func verify(input: Data, output: Data) -> Bool? {
        verify(input: input, output: output, seed: UInt64.random(in: 0...UInt64.max))
    }

    /// The name and version as one label: `mersenne v1`.
    public static var label: String { "\(name) v\(version)" }
}

/// One parameter a kernel reads, for documentation and for catching misspelt parameters in a spec.
public struct KernelParameterInfo: Sendable, Hashable {
    /// The field name inside `parameters`.
    public var name: String
    /// What it means, its limits and its default, in one line.
    public var help: String

    /// Describes parameter `name`.
    public init(_ name: String, _ help: String) {
        self.name = name
        self.help = help
    }
}

/// What `assemble` returns: the job's result as JSON fields, the files written, and one line for people.
public struct KernelSummary: Sendable, Equatable {
    /// Result fields for `--json` output, for example `["count": 50847534]`.
    public var values: [String: JSONValue]
    /// The files `assemble` wrote.
    public var files: [URL]
    /// The result in one line: "50847534 primes in [0, 1000000000)".
    public var headline: String

    /// A summary of `values`, the `files` written and a one-line `headline`.
    public init(values: [String: JSONValue], files: [URL] = [], headline: String) {
        self.values = values
        self.files = files
        self.headline = headline
    }
}

/// Thrown by `KernelContext.step` when the host asked the kernel to stop; its checkpoint has been saved.
public struct KernelInterruption: Error, CustomStringConvertible, Sendable {
    /// The unit that was stopped.
    public var unit: Int

    public init(unit: Int) { self.unit = unit }

    public var description: String { "unit \(unit) was interrupted; its checkpoint is saved" }
}

/// Unit input or output bytes that a kernel cannot read.
public struct KernelDataError: Error, CustomStringConvertible, Sendable {
    /// The kernel that could not read them.
    public var kernel: String
    /// What was being read: "unit input", "unit output", "checkpoint".
    public var what: String
    /// Why it could not be read.
    public var reason: String

    public init(kernel: String, what: String, reason: String) {
        self.kernel = kernel
        self.what = what
        self.reason = reason
    }

    public var description: String { "\(kernel): cannot read \(what): \(reason)" }
}

/// Draws a check's sample from its seed (SplitMix64), the same on every machine, for checks that sample
/// (`ComputeKernel.verify(input:output:seed:)`). Not for keys or anything secret. It has no `random(in:using:)`
/// on purpose: the standard library may draw differently in another release, and custodians must agree.
public struct CheckSampler: Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// A number in 0..<bound (bound > 0); the bias of the modulo is below 2⁻⁴⁰ for any bound a unit has.
    public mutating func next(below bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
