import ColonyKernel
import Foundation
import Synchronization
import Testing

@testable import MersenneKernel

@Suite struct MersenneKernelTests {
    /// OEIS A000043: the exponents p of the Mersenne primes 2^p − 1, all 22 of them below 10,000.
    static let mersenneExponents = [
        2, 3, 5, 7, 13, 17, 19, 31, 61, 89, 107, 127, 521, 607, 1279, 2203, 2281, 3217, 4253, 4423, 9689, 9941,
    ]

    // MARK: - Known results

    @Test func findsExactlyTheMersennePrimesBelow700() throws {
        let summary = try KernelHarness.runAll(MersenneKernel(), ["below": 700, "exponentsPerUnit": 20])
        let expected = Self.mersenneExponents.filter { $0 < 700 }
        #expect(summary.values["exponents"] == .array(expected.map { .int($0) }))
        #expect(summary.values["tested"] == .int(Self.primes(below: 700).count))
        #expect(summary.values["below"] == .int(700))
        #expect(summary.headline.hasPrefix("14 Mersenne primes 2^p − 1 with p in [2, 700): p = 2, 3, 5, 7, 13,"))
    }

    @Test func aRangeThatStartsHigherTestsOnlyItsExponents() throws {
        let summary = try KernelHarness.runAll(
            MersenneKernel(), ["from": 1200, "below": 1300, "exponentsPerUnit": 4])
        #expect(summary.values["exponents"] == .array([.int(1279)]))
        #expect(summary.values["tested"] == .int(Self.primes(below: 1300).filter { $0 >= 1200 }.count))
        #expect(summary.values["from"] == .int(1200))
    }

    @Test func lucasLehmerAloneAgreesWithTheKnownList() {
        for p in Self.primes(below: 320) {
            #expect(MersenneKernel.lucasLehmer(exponent: p) == Self.mersenneExponents.contains(p), "p = \(p)")
            #expect(MersenneKernel.isMersennePrime(exponent: p) == Self.mersenneExponents.contains(p), "p = \(p)")
        }
        #expect(!MersenneKernel.lucasLehmer(exponent: 1))
        #expect(!MersenneKernel.lucasLehmer(exponent: 4))
        #expect(!MersenneKernel.isMersennePrime(exponent: 9))
    }

    /// Lucas–Lehmer res64 values computed independently with Python's integers; 2503 goes through Karatsuba
    /// (40 limbs) and the partial-block kernels.
    @Test(arguments: [
        (67, "677d24ee8ae3b2c2"), (101, "d0dd748dd7817436"), (137, "c20b8da07aedff68"),
        (139, "0e8d6fdedff25604"), (1009, "5c0842eaa6df00c6"), (2503, "bd86650f66e32609"),
    ])
    func lucasLehmerResiduesMatchAnIndependentComputation(exponent: Int, res64: String) {
        #expect(MersenneKernel.lucasLehmerResidue(exponent: exponent) == UInt64(res64, radix: 16))
    }

    @Test(arguments: [
        (11, 23 as UInt64), (23, 47), (29, 233), (37, 223), (43, 431), (47, 2351), (53, 6361), (59, 179_951),
        (67, 193_707_721), (71, 228_479), (73, 439), (113, 3391), (131, 263),
    ])
    func trialFactoringFindsTheSmallestFactor(exponent: Int, factor: UInt64) throws {
        let found = try #require(MersenneKernel.trialFactor(exponent: exponent, bits: 32))
        #expect(found == factor)
        #expect(Self.powerOfTwo(UInt64(exponent), modulo: found) == 1)
        #expect(!MersenneKernel.lucasLehmer(exponent: exponent))
    }

    @Test func trialFactoringAgreesWithPlainDivision() {
        // 2^p − 1 fits in 64 bits for p < 64: its smallest odd divisor by brute force, where that is small.
        for p in Self.primes(below: 64) where p > 2 {
            let m = (UInt64(1) << UInt64(p)) - 1
            var d: UInt64 = 3
            while d * d <= m && m % d != 0 && d < 1 << 18 { d += 2 }
            let expected: UInt64? = m % d == 0 && d < m ? d : nil
            let found = MersenneKernel.trialFactor(exponent: p, bits: 18)
            if let expected {
                #expect(found == expected, "p = \(p)")
            } else {
                #expect(found == nil, "p = \(p)")
            }
        }
    }

    @Test func compositesWithoutSmallFactorsNeedLucasLehmer() {
        // M101's smallest factor is 7432339208719 (43 bits); M137's is above 2^64.
        #expect(MersenneKernel.trialFactor(exponent: 101, bits: 26) == nil)
        #expect(!MersenneKernel.lucasLehmer(exponent: 101))
        #expect(MersenneKernel.trialFactor(exponent: 137, bits: 26) == nil)
        #expect(!MersenneKernel.lucasLehmer(exponent: 137))
        // A Mersenne prime has no factor, and the search stops at √(2^p − 1).
        #expect(MersenneKernel.trialFactor(exponent: 31, bits: 64) == nil)
        #expect(MersenneKernel.trialFactor(exponent: 61, bits: 24) == nil)
    }

    @Test func aUnitReportsFactorsAndResidues() throws {
        let input = KernelCoding.encode(MersenneUnitInput(exponents: [2, 11, 67, 101, 127], trialFactorBits: 30))
        let data = try MersenneKernel().run(input, context: KernelContext(unit: 0))
        let output = try JSONDecoder().decode(MersenneUnitOutput.self, from: data)
        #expect(
            output.results == [
                MersenneExponentResult(exponent: 2, prime: true),
                MersenneExponentResult(exponent: 11, prime: false, factor: 23),
                MersenneExponentResult(exponent: 67, prime: false, factor: 193_707_721),
                MersenneExponentResult(exponent: 101, prime: false, residue: "d0dd748dd7817436"),
                MersenneExponentResult(exponent: 127, prime: true),
            ])
        // Without trial factoring every composite gets its Lucas–Lehmer residue (1736 for M11).
        let plain = KernelCoding.encode(MersenneUnitInput(exponents: [2, 11, 67], trialFactorBits: 0))
        let plainData = try MersenneKernel().run(plain, context: KernelContext(unit: 0))
        #expect(
            try JSONDecoder().decode(MersenneUnitOutput.self, from: plainData).results == [
                MersenneExponentResult(exponent: 2, prime: true),
                MersenneExponentResult(exponent: 11, prime: false, residue: "00000000000006c8"),
                MersenneExponentResult(exponent: 67, prime: false, residue: "677d24ee8ae3b2c2"),
            ])
    }

    // MARK: - Arithmetic against slow references

    @Test func squaringMatchesSchoolbookReference() {
        var random = MersenneTestRandom(seed: 0x6d65_7273_656e_6e65)
        for n in [1, 2, 3, 7, 8, 9, 15, 16, 17, 23, 24, 31, 40, 41, 57, 64, 80, 97] {
            for threshold in [4, 5, 12, LimbSquaring.karatsubaThreshold] {
                for pattern in 0..<4 {
                    let a: [UInt64] = (0..<n).map { index in
                        switch pattern {
                        case 0: .max  // every carry chain at its longest
                        case 1: index % 3 == 0 ? random.next() : 0
                        default: random.next()
                        }
                    }
                    #expect(Self.square(a, threshold: threshold) == Self.referenceSquare(a), "n \(n) t \(threshold)")
                }
            }
        }
    }

    @Test(arguments: [3, 5, 61, 67, 127, 131, 191, 193, 521, 607, 1279, 2203, 2503])
    func squaringModuloMatchesAReference(exponent p: Int) throws {
        var random = MersenneTestRandom(seed: UInt64(p))
        let limbCount = (p + 63) / 64
        let top = p - 64 * (limbCount - 1)
        let mask: UInt64 = top == 64 ? .max : (1 << UInt64(top)) - 1
        var samples: [[UInt64]] = (0..<6).map { _ in
            var limbs = (0..<limbCount).map { _ in random.next() as UInt64 }
            limbs[limbCount - 1] &= mask
            return limbs
        }
        samples.append([UInt64](repeating: 0, count: limbCount))
        samples.append(Array(repeating: .max, count: limbCount - 1) + [mask])  // 2^p − 1, a spelling of zero
        samples.append(Array(repeating: .max, count: limbCount - 1) + [mask - 1])  // 2^p − 2
        for limbs in samples {
            let residue = try #require(MersenneResidue(exponent: p, limbs: limbs))
            residue.square()
            let expected = Self.referenceModMersenne(Self.referenceSquare(limbs), p)
            #expect(Self.canonical(residue.limbs, p) == expected)
            let again = try #require(MersenneResidue(exponent: p, limbs: limbs, karatsubaThreshold: 4))
            again.squareMinusTwo()
            let minusTwo = Self.referenceSubtractTwo(expected, p)
            #expect(Self.canonical(again.limbs, p) == minusTwo)
        }
    }

    @Test func subtractingTwoWrapsBelowZero() throws {
        for p in [5, 89, 131] {
            let limbCount = (p + 63) / 64
            for start: UInt64 in [0, 1, 2, 3] {
                var limbs = [UInt64](repeating: 0, count: limbCount)
                limbs[0] = start
                // s = start, squared first: start², then − 2.
                let residue = try #require(MersenneResidue(exponent: p, limbs: limbs))
                residue.squareMinusTwo()
                var expected = [UInt64](repeating: 0, count: limbCount)
                expected[0] = start * start
                #expect(Self.canonical(residue.limbs, p) == Self.referenceSubtractTwo(expected, p), "p \(p) s \(start)")
            }
        }
    }

    @Test func restoringARedundantOrOversizedResidueIsRefused() {
        #expect(MersenneResidue(exponent: 67, limbs: [1]) == nil)
        #expect(MersenneResidue(exponent: 67, limbs: [1, 8]) == nil)  // bit 67 set: above 2^67 − 1
        #expect(MersenneResidue(exponent: 67, limbs: [1, 7]) != nil)
    }

    // MARK: - Units and assembly

    @Test func unitsCoverEachPrimeExponentOnceAndAssembleBack() throws {
        let kernel = MersenneKernel()
        let parameters = KernelParameters(["below": 600, "exponentsPerUnit": 20])
        let units = try kernel.units(for: parameters)
        let inputs = try units.map { try JSONDecoder().decode(MersenneUnitInput.self, from: $0) }
        #expect(units.count == (Self.primes(below: 600).count + 19) / 20)
        #expect(inputs.flatMap(\.exponents).sorted() == Self.primes(below: 600))
        for input in inputs {
            #expect(input.exponents == input.exponents.sorted())
            #expect(input.trialFactorBits == nil)
        }
        #expect(try kernel.units(for: parameters) == units)

        let outputs = try units.enumerated().map { try kernel.run($1, context: KernelContext(unit: $0)) }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mersenne-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // Outputs come in unit order; assembly sorts the exponents whatever order the units held them in.
        let summary = try kernel.assemble(outputs, parameters: parameters, into: folder)
        #expect(
            summary.values["exponents"] == .array([2, 3, 5, 7, 13, 17, 19, 31, 61, 89, 107, 127, 521].map { .int($0) }))
        #expect(summary.values["tested"] == .int(Self.primes(below: 600).count))
        let file = try #require(summary.files.first)
        let report = try JSONDecoder().decode(MersenneReport.self, from: Data(contentsOf: file))
        #expect(report.results.map(\.exponent) == Self.primes(below: 600))
        #expect(summary.values["factored"] == .int(report.results.filter { $0.factor != nil }.count))
        #expect(report.exponents == [2, 3, 5, 7, 13, 17, 19, 31, 61, 89, 107, 127, 521])

        // Missing or duplicated outputs are an error, not a wrong answer.
        #expect(throws: KernelDataError.self) {
            try kernel.assemble(Array(outputs.dropLast()), parameters: parameters, into: folder)
        }
        #expect(throws: KernelDataError.self) {
            try kernel.assemble(outputs + [outputs[0]], parameters: parameters, into: folder)
        }
        #expect(throws: KernelDataError.self) {
            try kernel.assemble([Data("junk".utf8)], parameters: parameters, into: folder)
        }
    }

    @Test func trialFactorBitsParameterReachesEveryUnit() throws {
        let units = try MersenneKernel().units(
            for: KernelParameters(["below": 200, "exponentsPerUnit": 10, "trialFactorBits": 0]))
        for unit in units {
            #expect(try JSONDecoder().decode(MersenneUnitInput.self, from: unit).trialFactorBits == 0)
        }
    }

    @Test(arguments: [(10_000, 40), (10_000, 7), (50_000, 100), (200_000, 40)])
    func unitsAreBalancedByEstimatedCost(below: Int, perUnit: Int) throws {
        let units = try MersenneKernel().units(
            for: KernelParameters(["below": .int(below), "exponentsPerUnit": .int(perUnit)]))
        let costs = try units.map { unit in
            try JSONDecoder().decode(MersenneUnitInput.self, from: unit).exponents
                .map(MersenneKernel.estimatedCost(of:)).reduce(0, +)
        }
        #expect(units.count == (Self.primes(below: below).count + perUnit - 1) / perUnit)
        let (lightest, heaviest) = (try #require(costs.min()), try #require(costs.max()))
        // Within 2% of each other, where splitting by count would put all the large exponents in the last units.
        #expect(Double(heaviest) / Double(lightest) < 1.02, "costs from \(lightest) to \(heaviest)")
    }

    @Test func trialFactoringDepthGrowsWithTheExponent() {
        var previous = 0
        for p in Self.primes(below: 200_000) where p % 97 == 3 || p < 100 {
            let bits = MersenneKernel.trialFactorBits(for: p)
            #expect((0...64).contains(bits))
            #expect(bits >= previous, "p = \(p)")
            previous = bits
        }
        #expect(MersenneKernel.trialFactorBits(for: 9973) == 32)
        #expect(MersenneKernel.trialFactorBits(for: 199_999) == 48)
    }

    // MARK: - Parameter errors

    @Test(arguments: [
        (["exponentsPerUnit": 10] as [String: JSONValue], "below"),
        (["below": 2], "below"),
        (["below": 200_001], "below"),
        (["below": "ten"], "below"),
        (["below": 100, "from": 100], "below"),
        (["below": 100, "from": 500], "below"),
        (["below": 29, "from": 24], "below"),  // no prime in [24, 29)
        (["below": 100, "from": 1], "from"),
        (["below": 100, "exponentsPerUnit": 0], "exponentsPerUnit"),
        (["below": 100, "exponentsPerUnit": 2.5], "exponentsPerUnit"),
        (["below": 100, "trialFactorBits": 65], "trialFactorBits"),
        (["below": 100, "trialFactorBits": -1], "trialFactorBits"),
    ])
    func badParametersNameTheField(_ values: [String: JSONValue], field: String) {
        let error = #expect(throws: KernelParameterError.self) {
            try MersenneKernel().units(for: KernelParameters(values, source: "jobs/m.json"))
        }
        #expect(error?.field == field)
        #expect(error?.description.hasPrefix("jobs/m.json: parameters.\(field) ") == true)
    }

    @Test func documentsEveryParameterItReads() {
        let names = MersenneKernel.parameters.map(\.name)
        #expect(names == ["below", "from", "exponentsPerUnit", "trialFactorBits"])
        #expect(MersenneKernel.name == "mersenne" && MersenneKernel.version == 1)
        #expect(!MersenneKernel.summary.contains("\n"))
    }

    @Test(arguments: [
        "", "{}", "[1, 2]", #"{"exponents": []}"#, #"{"exponents": [4]}"#, #"{"exponents": [7, 5]}"#,
        #"{"exponents": [7, 7]}"#, #"{"exponents": [200003]}"#, #"{"exponents": [-3]}"#,
        #"{"exponents": [5], "trialFactorBits": 65}"#, #"{"exponents": "5"}"#,
    ])
    func badUnitInputIsADataError(_ text: String) {
        #expect(throws: KernelDataError.self) {
            try MersenneKernel().run(Data(text.utf8), context: KernelContext(unit: 0))
        }
    }

    // MARK: - Interruption and resumption

    /// A unit that stops in every phase: trial factoring over several blocks (M127 is prime), Lucas–Lehmer
    /// over several steps (1279), and between exponents.
    static let resumableInput = KernelCoding.encode(
        MersenneUnitInput(exponents: [3, 11, 127, 521, 1279], trialFactorBits: 25))

    @Test func stoppingSavesACheckpointAndResumingGivesTheSameBytes() throws {
        let kernel = MersenneKernel()
        let whole = try kernel.run(Self.resumableInput, context: KernelContext(unit: 0))
        for stopAfter in [1, 4, 9] {
            let steps = Atomic<Int>(0)
            let saved = Mutex<Data?>(nil)
            let hooks = KernelContextHooks(
                checkpointInterval: .seconds(3600),
                isStopping: { steps.add(1, ordering: .relaxed).newValue > stopAfter },
                saveCheckpoint: { data in saved.withLock { $0 = data } })
            #expect(throws: KernelInterruption.self) {
                try kernel.run(Self.resumableInput, context: KernelContext(unit: 0, hooks: hooks))
            }
            let checkpoint = try #require(saved.withLock { $0 })
            #expect(try JSONDecoder().decode(MersenneCheckpoint.self, from: checkpoint).results.count <= 5)
            let resumed = try kernel.run(Self.resumableInput, context: KernelContext(unit: 0, checkpoint: checkpoint))
            #expect(resumed == whole, "stopped after \(stopAfter) steps")
        }
    }

    @Test func resumingOverAndOverGivesTheSameBytes() throws {
        let kernel = MersenneKernel()
        let whole = try kernel.run(Self.resumableInput, context: KernelContext(unit: 0))
        let (resumed, interruptions) = try KernelHarness.runInterrupted(kernel, Self.resumableInput, every: 3)
        #expect(interruptions >= 3)
        #expect(resumed == whole)
    }

    @Test func checkpointsAreTakenInBothPhases() throws {
        let saved = Mutex<[MersenneCheckpoint]>([])
        let hooks = KernelContextHooks(
            checkpointInterval: .zero, isStopping: { false },
            saveCheckpoint: { data in
                if let state = try? JSONDecoder().decode(MersenneCheckpoint.self, from: data) {
                    saved.withLock { $0.append(state) }
                }
            })
        _ = try MersenneKernel().run(Self.resumableInput, context: KernelContext(unit: 0, hooks: hooks))
        let states = saved.withLock { $0 }
        #expect(states.contains { $0.trialFactorK != nil })
        #expect(states.contains { $0.iteration != nil && $0.residue?.count == 20 })
    }

    @Test func aCheckpointOfAnotherUnitIsIgnored() throws {
        let kernel = MersenneKernel()
        let whole = try kernel.run(Self.resumableInput, context: KernelContext(unit: 0))
        let foreign =
            [
                MersenneCheckpoint(results: [MersenneExponentResult(exponent: 5, prime: true)]),
                MersenneCheckpoint(results: [], iteration: 3, residue: [1, 2]),  // wrong limb count for p = 3
                MersenneCheckpoint(results: [], iteration: 5000, residue: [1]),
                MersenneCheckpoint(results: [], trialFactorK: 12345),  // not the start of a block
                MersenneCheckpoint(
                    results: Array(repeating: MersenneExponentResult(exponent: 3, prime: true), count: 9)),
            ].map { KernelCoding.encode($0) } + [Data("garbage".utf8)]
        for checkpoint in foreign {
            #expect(
                try kernel.run(Self.resumableInput, context: KernelContext(unit: 0, checkpoint: checkpoint)) == whole)
        }
    }

    @Test func progressRisesToOne() throws {
        let context = KernelContext(unit: 0)
        _ = try MersenneKernel().run(Self.resumableInput, context: context)
        #expect(context.progress == 1)
    }

    // MARK: - Helpers

    /// The primes below `limit` by a plain sieve of Eratosthenes.
    static func primes(below limit: Int) -> [Int] {
        guard limit > 2 else { return [] }
        var composite = [Bool](repeating: false, count: limit)
        for n in 2..<limit where !composite[n] && n * n < limit {
            for multiple in stride(from: n * n, to: limit, by: n) { composite[multiple] = true }
        }
        return (2..<limit).filter { !composite[$0] }
    }

    /// 2^e mod m by plain 128-bit division, independent of the kernel's Montgomery arithmetic.
    static func powerOfTwo(_ e: UInt64, modulo m: UInt64) -> UInt64 {
        var result: UInt64 = 1 % m
        var base: UInt64 = 2 % m
        var e = e
        while e > 0 {
            if e & 1 == 1 { result = m.dividingFullWidth(result.multipliedFullWidth(by: base)).remainder }
            base = m.dividingFullWidth(base.multipliedFullWidth(by: base)).remainder
            e >>= 1
        }
        return result
    }

    static func square(_ a: [UInt64], threshold: Int) -> [UInt64] {
        let n = a.count
        var result = [UInt64](repeating: 0, count: 2 * n)
        var scratch = [UInt64](repeating: 0, count: max(1, LimbSquaring.scratchCount(limbs: n, threshold: threshold)))
        a.withUnsafeBufferPointer { input in
            result.withUnsafeMutableBufferPointer { output in
                scratch.withUnsafeMutableBufferPointer { space in
                    LimbSquaring.square(
                        output.baseAddress!, input.baseAddress!, count: n, scratch: space.baseAddress!,
                        threshold: threshold)
                }
            }
        }
        return result
    }

    /// a² by the textbook double loop: every product, no symmetry, no blocks.
    static func referenceSquare(_ a: [UInt64]) -> [UInt64] {
        var result = [UInt64](repeating: 0, count: 2 * a.count)
        for i in a.indices {
            var carry: UInt64 = 0
            for j in a.indices {
                let t = UInt128(a[i]) * UInt128(a[j]) + UInt128(result[i + j]) + UInt128(carry)
                result[i + j] = UInt64(truncatingIfNeeded: t)
                carry = UInt64(t >> 64)
            }
            result[i + a.count] = carry
        }
        return result
    }

    /// x mod 2^p − 1 by long division one bit at a time (shift in, subtract the modulus when it fits), into
    /// ⌈p/64⌉ limbs.
    static func referenceModMersenne(_ x: [UInt64], _ p: Int) -> [UInt64] {
        let count = (p + 63) / 64
        var remainder = [UInt64](repeating: 0, count: count + 1)
        let modulus = Self.mersenne(p, limbs: count + 1)
        for bit in stride(from: x.count * 64 - 1, through: 0, by: -1) {
            var carry = (x[bit / 64] >> UInt64(bit % 64)) & 1
            for i in remainder.indices {
                let next = remainder[i] >> 63
                remainder[i] = remainder[i] << 1 | carry
                carry = next
            }
            if !Self.isLess(remainder, modulus) { Self.subtract(&remainder, modulus) }
        }
        return Array(remainder.prefix(count))
    }

    static func referenceSubtractTwo(_ x: [UInt64], _ p: Int) -> [UInt64] {
        var value = x + [0]
        if Self.isLess(value, [2] + [UInt64](repeating: 0, count: value.count - 1)) {
            var sum = Self.mersenne(p, limbs: value.count)
            var carry: UInt64 = 0
            for i in sum.indices {
                let t = UInt128(sum[i]) + UInt128(value[i]) + UInt128(carry)
                sum[i] = UInt64(truncatingIfNeeded: t)
                carry = UInt64(t >> 64)
            }
            value = sum
        }
        Self.subtract(&value, [2] + [UInt64](repeating: 0, count: value.count - 1))
        return Array(value.dropLast())
    }

    /// The limbs with 2^p − 1 written as 0.
    static func canonical(_ limbs: [UInt64], _ p: Int) -> [UInt64] {
        limbs == Array(Self.mersenne(p, limbs: limbs.count)) ? [UInt64](repeating: 0, count: limbs.count) : limbs
    }

    static func mersenne(_ p: Int, limbs: Int) -> [UInt64] {
        (0..<limbs).map { i in
            let bits = min(64, max(0, p - 64 * i))
            return bits == 64 ? .max : (1 << UInt64(bits)) - 1
        }
    }

    static func isLess(_ a: [UInt64], _ b: [UInt64]) -> Bool {
        for i in a.indices.reversed() where a[i] != b[i] { return a[i] < b[i] }
        return false
    }

    static func subtract(_ a: inout [UInt64], _ b: [UInt64]) {
        var borrow: UInt64 = 0
        for i in a.indices {
            let (d1, o1) = a[i].subtractingReportingOverflow(b[i])
            let (d2, o2) = d1.subtractingReportingOverflow(borrow)
            a[i] = d2
            borrow = o1 || o2 ? 1 : 0
        }
    }
}

/// SplitMix64: reproducible random limbs for the arithmetic tests.
private struct MersenneTestRandom: RandomNumberGenerator {
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
