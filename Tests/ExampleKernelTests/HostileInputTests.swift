import CollatzKernel
import ColonyKernel
import Foundation
import MandelbrotKernel
import MonteCarloPiKernel
import PrimesKernel
import SquaresKernel
import Synchronization
import Testing

@testable import MersenneKernel

/// Unit inputs come from the publisher, who may be hostile. Every example kernel must refuse, with a
/// `KernelDataError` and before any work, bytes that valid parameters could not have made: no trap (overflow, bad
/// index, force unwrap), no allocation or run time beyond its documented per-unit limits.
///
/// Each input runs in a context whose host is always stopping, so a unit that passes its checks stops at its first
/// `step`. A refusal must come before that step: a check that is removed turns the refusal into a run (and a
/// failed expectation) or, where the check guarded arithmetic or an allocation, into a crash of the test process.
@Suite struct HostileInputTests {
    /// What running one input came to.
    enum Outcome: Equatable, CustomStringConvertible {
        /// A `KernelDataError` before the kernel's first step.
        case refused
        /// The kernel reached its first step (and was stopped there) or finished.
        case ran
        /// Anything else: another error, or a `KernelDataError` after work began.
        case failed(String)

        var description: String {
            switch self {
            case .refused: "refused"
            case .ran: "ran"
            case .failed(let reason): "failed: \(reason)"
            }
        }
    }

    /// Runs `input` until the kernel's first step.
    static func attempt(_ kernel: any ComputeKernel, _ input: Data) -> Outcome {
        let started = Atomic<Bool>(false)
        let hooks = KernelContextHooks(
            isStopping: {
                started.store(true, ordering: .relaxed)
                return true
            },
            saveCheckpoint: { _ in })
        do {
            _ = try kernel.run(input, context: KernelContext(unit: 0, hooks: hooks))
            return .ran
        } catch is KernelInterruption {
            return .ran
        } catch let error as KernelDataError {
            if started.load(ordering: .relaxed) { return .failed("refused only after it started: \(error)") }
            guard error.kernel == type(of: kernel).name, error.what == "unit input", !error.reason.isEmpty else {
                return .failed("the error does not name the kernel and the unit input: \(error)")
            }
            return .refused
        } catch {
            return .failed("\(type(of: error)): \(error)")
        }
    }

    // MARK: - Per kernel: a small valid job

    struct Kernel: Sendable, CustomTestStringConvertible {
        var kernel: any ComputeKernel
        /// A small job whose units are valid inputs to truncate and mutate.
        var parameters: [String: JSONValue]
        var testDescription: String { type(of: kernel).name }

        func validUnits() throws -> [Data] {
            try kernel.units(for: KernelParameters(parameters, source: "hostile.json"))
        }
    }

    static let kernels: [Kernel] = [
        Kernel(kernel: MersenneKernel(), parameters: ["from": 80, "below": 300, "exponentsPerUnit": 10]),
        Kernel(kernel: PrimesKernel(), parameters: ["to": 2_000_000, "numbersPerUnit": 1_000_000]),
        Kernel(
            kernel: MandelbrotKernel(), parameters: ["width": 40, "height": 24, "rowsPerUnit": 5, "maxIterations": 100]),
        Kernel(kernel: CollatzKernel(), parameters: ["to": 100_000, "valuesPerUnit": 40_000]),
        Kernel(kernel: MonteCarloPiKernel(), parameters: ["samples": 3_000_000, "samplesPerUnit": 1_500_000]),
        Kernel(kernel: SquaresKernel(), parameters: ["n": 2_000_000]),
    ]

    @Test(arguments: kernels)
    func emptyInputIsRefused(_ test: Kernel) {
        #expect(Self.attempt(test.kernel, Data()) == .refused)
    }

    @Test(arguments: kernels)
    func randomBytesAreRefused(_ test: Kernel) {
        var random = SplitMix64(seed: 0x686f_7374_696c_6501)
        for _ in 0..<300 {
            let count = Int.random(in: 1...256, using: &random)
            let bytes = Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &random) })
            let outcome = Self.attempt(test.kernel, bytes)
            #expect(outcome == .refused, "\(bytes.base64EncodedString())")
        }
    }

    @Test(arguments: kernels)
    func truncatedValidInputsAreRefused(_ test: Kernel) throws {
        let units = try test.validUnits()
        try #require(units.count >= 2)
        for unit in [units[0], units[units.count - 1]] {
            #expect(Self.attempt(test.kernel, unit) == .ran, "the whole unit is valid")
            for length in 0..<unit.count {
                let prefix = unit.prefix(length)
                #expect(Self.attempt(test.kernel, prefix) == .refused, "\(String(decoding: prefix, as: UTF8.self))")
            }
        }
    }

    /// Valid units with one byte changed to another JSON character: some stay valid (a digit for a digit), which
    /// is fine; none may trap or fail other than by refusal.
    @Test(arguments: kernels)
    func mutatedValidInputsRunOrAreRefused(_ test: Kernel) throws {
        let alphabet = Array("0123456789-+.eE{}[],:\" ntf".utf8)
        var random = SplitMix64(seed: 0x6d75_7461_7465_6401)
        for unit in try test.validUnits().prefix(3) {
            for _ in 0..<150 {
                var mutated = unit
                let index = Int.random(in: 0..<mutated.count, using: &random)
                mutated[mutated.startIndex + index] = alphabet.randomElement(using: &random)!
                let outcome = Self.attempt(test.kernel, mutated)
                #expect(outcome == .refused || outcome == .ran, "\(String(decoding: mutated, as: UTF8.self))")
            }
        }
    }

    // MARK: - Extreme field values

    /// One input and what must become of it.
    struct Probe: Sendable, CustomTestStringConvertible {
        var kernel: any ComputeKernel
        var input: Data
        var expected: Outcome
        var note: String
        var testDescription: String { "\(type(of: kernel).name): \(note)" }

        static func refuse(_ kernel: any ComputeKernel, _ json: String, _ note: String) -> Probe {
            Probe(kernel: kernel, input: Data(json.utf8), expected: .refused, note: note)
        }

        static func accept(_ kernel: any ComputeKernel, _ json: String, _ note: String) -> Probe {
            Probe(kernel: kernel, input: Data(json.utf8), expected: .ran, note: note)
        }
    }

    static let intMax = Int.max
    static let intMin = Int.min

    static func mandelbrot(
        firstRow: Int = 0, rows: Int = 5, width: Int = 40, height: Int = 24, maxIterations: Int = 100,
        centerX: String = "-0.75", centerY: String = "0", span: String = "3"
    ) -> String {
        #"{"firstRow":\#(firstRow),"rows":\#(rows),"view":{"centerX":\#(centerX),"centerY":\#(centerY),"#
            + #""height":\#(height),"maxIterations":\#(maxIterations),"span":\#(span),"width":\#(width)}}"#
    }

    static func range(_ from: Int, _ to: Int) -> String { #"{"from":\#(from),"to":\#(to)}"# }

    static func mersenne(_ exponents: [Int], bits: Int? = nil) -> String {
        let list = exponents.map(String.init).joined(separator: ",")
        return bits.map { #"{"exponents":[\#(list)],"trialFactorBits":\#($0)}"# } ?? #"{"exponents":[\#(list)]}"#
    }

    static func pi(samples: Int, index: Int = 0, seed: Int = 1) -> String {
        #"{"index":\#(index),"samples":\#(samples),"seed":\#(seed)}"#
    }

    static let mandelbrotProbes: [Probe] = {
        let k = MandelbrotKernel()
        return [
            .refuse(k, mandelbrot(firstRow: intMax, rows: 1), "firstRow + rows overflows (Int.max + 1)"),
            .refuse(k, mandelbrot(firstRow: intMax - 100, rows: 4096), "firstRow + rows overflows (4096 rows)"),
            .refuse(k, mandelbrot(firstRow: 1, rows: intMax), "rows Int.max"),
            .refuse(k, mandelbrot(firstRow: intMin, rows: 5), "firstRow Int.min"),
            .refuse(k, mandelbrot(firstRow: -1, rows: 5), "firstRow -1"),
            .refuse(k, mandelbrot(firstRow: 20, rows: 5), "band runs past the last row"),
            .refuse(k, mandelbrot(rows: 0), "zero rows"),
            .refuse(k, mandelbrot(rows: -5), "negative rows"),
            .refuse(k, mandelbrot(rows: 4097, width: 16, height: 8192), "4097 rows, more than rowsPerUnit allows"),
            .refuse(k, mandelbrot(width: 0), "zero width"),
            .refuse(k, mandelbrot(width: 15), "width below 16"),
            .refuse(k, mandelbrot(width: 32769), "width above 32768"),
            .refuse(k, mandelbrot(width: 1 << 40), "width 2^40: a huge allocation"),
            .refuse(k, mandelbrot(width: intMax), "width Int.max"),
            .refuse(k, mandelbrot(width: intMin), "width Int.min"),
            .refuse(k, mandelbrot(height: intMax), "height Int.max"),
            .refuse(k, mandelbrot(rows: 1, width: 32768, height: 32768), "2^30 pixels, more than 2^28"),
            .refuse(k, mandelbrot(maxIterations: 0), "zero iterations"),
            .refuse(k, mandelbrot(maxIterations: 65536), "iterations past UInt16"),
            .refuse(k, mandelbrot(maxIterations: intMax), "iterations Int.max"),
            .refuse(k, mandelbrot(maxIterations: -1), "negative iterations"),
            .refuse(k, mandelbrot(span: "0"), "zero span"),
            .refuse(k, mandelbrot(span: "-3"), "negative span"),
            .refuse(k, mandelbrot(span: "9"), "span above 8"),
            .refuse(k, mandelbrot(span: "1e-300"), "span below 1e-13"),
            .refuse(k, mandelbrot(centerX: "1e308"), "centerX 1e308"),
            .refuse(k, mandelbrot(centerY: "-4.5"), "centerY below -4"),
            .refuse(k, mandelbrot().replacingOccurrences(of: #""rows":5"#, with: #""rows":5.5"#), "fractional rows"),
            .refuse(k, #"{"firstRow":0,"rows":5}"#, "no view"),
            .refuse(
                k, mandelbrot(width: 0).replacingOccurrences(of: ":0}}", with: ":9223372036854775808}}"),
                "width past Int.max"),
            .accept(k, mandelbrot(firstRow: 19, rows: 5), "the last band of a small view"),
            .accept(
                k, mandelbrot(firstRow: 4096, rows: 4096, width: 32768, height: 8192, maxIterations: 16),
                "the largest band: 4096 rows of 32768 pixels"),
            .accept(
                k, mandelbrot(maxIterations: 65535, centerX: "4", centerY: "-4", span: "1e-13"),
                "every field at a limit"),
        ]
    }()

    static let primesProbes: [Probe] = {
        let k = PrimesKernel()
        let maximum = 1_000_000_000_000_000
        return [
            .refuse(k, range(intMin, intMax), "Int.min to Int.max"),
            .refuse(k, range(0, intMax), "0 to Int.max"),
            .refuse(k, range(intMax - 1, intMax), "Int.max − 1 to Int.max"),
            .refuse(k, range(-1, 10), "negative from"),
            .refuse(k, range(10, 10), "empty range"),
            .refuse(k, range(10, 5), "reversed range"),
            .refuse(k, range(maximum - 30, maximum + 1), "to past 10^15"),
            .refuse(k, range(0, maximum), "10^15 numbers in one unit"),
            .refuse(k, range(0, 1_000_000_000_030), "10^12 + 30 numbers, one more than a unit may hold"),
            .refuse(k, range(maximum - 1_000_000_000_030, maximum), "10^12 + 30 numbers below 10^15"),
            .refuse(k, #"{"from":0}"#, "no to"),
            .refuse(k, #"{"from":0,"to":1e16}"#, "to as a real number"),
            .accept(k, range(0, 1_000_000_000_029), "10^12 + 29 numbers: the widest unit"),
            .accept(k, range(999_999_970, 1_000_000_000), "a valid small unit"),
        ]
    }()

    static let collatzProbes: [Probe] = {
        let k = CollatzKernel()
        let maximum = 1 << 50
        return [
            .refuse(k, range(intMin, intMax), "Int.min to Int.max"),
            .refuse(k, range(1, intMax), "1 to Int.max"),
            .refuse(k, range(0, 10), "from 0"),
            .refuse(k, range(-5, 10), "negative from"),
            .refuse(k, range(10, 10), "empty range"),
            .refuse(k, range(maximum, maximum + 1), "to past 2^50"),
            .refuse(k, range(1, maximum), "2^50 values in one unit"),
            .refuse(k, range(1, 1_000_000_000_002), "10^12 + 1 values, one more than a unit may hold"),
            .accept(k, range(1, 1_000_000_000_001), "10^12 values: the widest unit"),
            .accept(k, range(maximum - 1000, maximum), "the last values below 2^50"),
        ]
    }()

    static let piProbes: [Probe] = {
        let k = MonteCarloPiKernel()
        return [
            .refuse(k, pi(samples: 0), "zero samples"),
            .refuse(k, pi(samples: -1), "negative samples"),
            .refuse(k, pi(samples: intMax), "Int.max samples"),
            .refuse(k, pi(samples: 100_000_000_001), "10^11 + 1 samples, one more than a unit may hold"),
            .refuse(k, pi(samples: 1000, index: -1), "negative index"),
            .refuse(k, pi(samples: 1000, index: intMin), "index Int.min"),
            .refuse(k, pi(samples: 1000, index: 10_000_000_000), "index 10^10, past the last unit"),
            .refuse(k, #"{"index":0,"samples":1000}"#, "no seed"),
            .accept(k, pi(samples: 100_000_000_000), "10^11 samples: the largest unit"),
            .accept(k, pi(samples: 1, index: 9_999_999_999, seed: intMin), "the last index, seed Int.min"),
            .accept(k, pi(samples: 1000, seed: intMax), "seed Int.max"),
        ]
    }()

    static let squaresProbes: [Probe] = {
        let k = SquaresKernel()
        return [
            .refuse(k, range(intMax - 1, intMax), "Int.max − 1 to Int.max: next + 10000 overflows"),
            .refuse(k, range(0, intMax), "0 to Int.max"),
            .refuse(k, range(intMin, 0), "from Int.min"),
            .refuse(k, range(-1, 10), "negative from"),
            .refuse(k, range(5, 5), "empty range"),
            .refuse(k, range(1_000_000_000_000, 1_000_000_000_001), "to past 10^12"),
            .refuse(k, range(0, 1_000_001), "10^6 + 1 numbers, one more than a unit holds"),
            .accept(k, range(999_999_000_000, 1_000_000_000_000), "the last unit of n = 10^12"),
        ]
    }()

    static let mersenneProbes: [Probe] = {
        let k = MersenneKernel()
        let tooMany = mersenne([Int](repeating: 2, count: 20_001))
        return [
            .refuse(k, mersenne([]), "no exponents"),
            .refuse(k, mersenne([intMax]), "exponent Int.max"),
            .refuse(k, mersenne([intMin]), "exponent Int.min"),
            .refuse(k, mersenne([-3]), "negative exponent"),
            .refuse(k, mersenne([0]), "exponent 0"),
            .refuse(k, mersenne([1]), "exponent 1"),
            .refuse(k, mersenne([9]), "composite exponent"),
            .refuse(k, mersenne([7, 5]), "descending exponents"),
            .refuse(k, mersenne([5, 5]), "repeated exponent"),
            .refuse(k, mersenne([200_003]), "prime exponent past 200000"),
            .refuse(k, tooMany, "20001 exponents"),
            .refuse(k, mersenne([5], bits: 65), "trialFactorBits 65"),
            .refuse(k, mersenne([5], bits: -1), "trialFactorBits -1"),
            .refuse(k, mersenne([5], bits: intMax), "trialFactorBits Int.max"),
            .refuse(k, mersenne([127], bits: 64), "127 to 64 bits: 7·10^16 candidates, years of work"),
            .refuse(k, mersenne([127], bits: 40), "127 to 40 bits: just past 2^32 candidates"),
            .refuse(k, mersenne([199_999], bits: 51), "199999 to 51 bits: just past 2^32 candidates"),
            .refuse(k, #"{"exponents":[9223372036854775808]}"#, "exponent past Int.max"),
            .refuse(k, #"{"exponents":"5"}"#, "exponents as a string"),
            .accept(k, mersenne([127], bits: 39), "127 to 39 bits: within 2^32 candidates"),
            .accept(k, mersenne([199_999], bits: 50), "199999 to 50 bits: within 2^32 candidates"),
            .accept(k, mersenne([2, 3, 199_999]), "smallest and largest exponents"),
        ]
    }()

    static let probes = mandelbrotProbes + primesProbes + collatzProbes + piProbes + squaresProbes + mersenneProbes

    @Test(arguments: probes)
    func extremeFieldValues(_ probe: Probe) {
        #expect(Self.attempt(probe.kernel, probe.input) == probe.expected)
    }

    // MARK: - The limits admit what valid parameters make

    /// The first and last unit of the largest jobs the parameters allow (or close to it) pass the unit checks.
    @Test(arguments: [
        Kernel(
            kernel: MersenneKernel(),
            parameters: ["from": 199_000, "below": 200_000, "exponentsPerUnit": 30, "trialFactorBits": 50]),
        Kernel(
            kernel: PrimesKernel(),
            parameters: ["from": 1_000_000, "to": 3_000_001_000_000, "numbersPerUnit": 1_000_000_000_000]),
        Kernel(
            kernel: MandelbrotKernel(),
            parameters: ["width": 32768, "height": 8192, "rowsPerUnit": 4096, "maxIterations": 16, "span": 8]),
        Kernel(
            kernel: CollatzKernel(),
            parameters: [
                "from": .int((1 << 50) - 2_500_000_000_000), "to": .int(1 << 50), "valuesPerUnit": 1_000_000_000_000,
            ]),
        Kernel(
            kernel: MonteCarloPiKernel(),
            parameters: ["samples": 10_000_000_000_000, "samplesPerUnit": 100_000_000_000, "seed": .int(Int.min)]),
    ])
    func largestValidUnitsAreAccepted(_ test: Kernel) throws {
        let units = try test.validUnits()
        for unit in [units[0], units[units.count - 1]] {
            #expect(Self.attempt(test.kernel, unit) == .ran, "\(String(decoding: unit, as: UTF8.self).prefix(200))")
        }
    }

    /// At 65535 iterations a step covers 64 pixels, not a whole row (which could take seconds), and a unit stopped
    /// within a row resumes to the same band.
    @Test func mandelbrotStepsWithinLongRowsAndResumesThere() throws {
        let kernel = MandelbrotKernel()
        let input = Data(Self.mandelbrot(rows: 2, width: 192, height: 16, maxIterations: 65535).utf8)
        let steps = Atomic<Int>(0)
        let counting = KernelContextHooks(
            isStopping: {
                steps.add(1, ordering: .relaxed)
                return false
            },
            saveCheckpoint: { _ in })
        let whole = try kernel.run(input, context: KernelContext(unit: 0, hooks: counting))
        #expect(steps.load(ordering: .relaxed) == 6)  // 3 steps per row of 192 pixels
        let (resumed, interruptions) = try KernelHarness.runInterrupted(kernel, input, every: 1)
        #expect(interruptions == 3)  // the first stop is at pixel 128, within the first row
        #expect(resumed == whole)
    }

    @Test func mersenneDefaultDepthStaysWithinTheCandidateLimit() {
        for p in SmallPrimes.primes(from: 3, below: MersenneKernel.maximumExponent) {
            let candidates = TrialFactorSearch.lastK(exponent: p, bits: MersenneKernel.trialFactorBits(for: p))
            #expect(candidates <= MersenneKernel.maximumTrialFactorCandidates, "p = \(p)")
        }
        #expect(MersenneKernel.trialFactorBitsLimit(for: 127) == 39)
        #expect(MersenneKernel.trialFactorBitsLimit(for: 199_999) == 50)
        #expect(MersenneKernel.trialFactorBitsLimit(for: 31) == 64)  // √(2^31 − 1) < 2^16 ends the search first
    }

    @Test func mersenneParametersBeyondTheCandidateLimitAreRefused() {
        let error = #expect(throws: KernelParameterError.self) {
            try MersenneKernel().units(for: KernelParameters(["below": 200, "trialFactorBits": 64], source: "m.json"))
        }
        #expect(error?.field == "trialFactorBits")
        #expect(error?.expected == "at most 39 for p = 79")
    }
}

/// SplitMix64 (as in ColonyCoreTests): reproducible random bytes.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
