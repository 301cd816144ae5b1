import ColonyKernel
import Foundation
import PrimesKernel
import Synchronization
import Testing

@Suite struct PrimesKernelTests {
    /// Primality by the deterministic Miller–Rabin test (these 12 bases decide every n below 3.3 × 10^24), as a
    /// reference that shares nothing with the sieve.
    static func isPrime(_ n: Int) -> Bool {
        if n < 2 { return false }
        let bases = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]
        for p in bases where n % p == 0 { return n == p }
        let m = UInt64(n)
        func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let (high, low) = a.multipliedFullWidth(by: b)
            return m.dividingFullWidth((high, low)).remainder
        }
        var d = m - 1
        var shifts = 0
        while d % 2 == 0 {
            d /= 2
            shifts += 1
        }
        witnesses: for base in bases {
            var x: UInt64 = 1
            var power = UInt64(base)
            var e = d
            while e > 0 {
                if e & 1 == 1 { x = multiply(x, power) }
                power = multiply(power, power)
                e >>= 1
            }
            if x == 1 || x == m - 1 { continue }
            for _ in 1..<max(shifts, 1) {
                x = multiply(x, x)
                if x == m - 1 { continue witnesses }
            }
            return false
        }
        return true
    }

    /// A plain sieve of Eratosthenes below `limit`, the reference for small ranges.
    static let smallPrimes: [Bool] = {
        let limit = 200_000
        var prime = [Bool](repeating: true, count: limit)
        prime[0] = false
        prime[1] = false
        for p in 2..<limit where p * p < limit && prime[p] {
            for multiple in stride(from: p * p, to: limit, by: p) { prime[multiple] = false }
        }
        return prime
    }()

    static func count(_ from: Int, _ to: Int, numbersPerUnit: Int = PrimesKernel.defaultNumbersPerUnit) throws -> Int {
        let summary = try KernelHarness.runAll(
            PrimesKernel(), ["from": .int(from), "to": .int(to), "numbersPerUnit": .int(numbersPerUnit)])
        guard case .int(let count) = summary.values["count"] else { throw CancellationError() }
        return count
    }

    /// π(10^k) (OEIS A006880) and π(3 × 10^7), as the primesieve program also gives it.
    @Test(arguments: [
        (2, 0), (3, 1), (4, 2), (6, 3), (8, 4), (10, 4), (100, 25), (1000, 168), (10_000, 1229), (100_000, 9592),
        (1_000_000, 78498), (10_000_000, 664_579), (30_000_000, 1_857_859),
    ])
    func countsThePrimesBelow(limit: Int, expected: Int) throws {
        #expect(try Self.count(0, limit) == expected)
    }

    @Test func countsEveryPrimeUpToThePreSievedOnes() throws {
        // 2, 3, 5 have no bits and 7...163 are cleared by the pre-sieve patterns: each is counted apart.
        for to in 1...220 {
            let expected = (0..<to).filter { Self.smallPrimes[$0] }.count
            #expect(try Self.count(0, to) == expected, "[0, \(to))")
        }
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 7, 8, 29, 30, 31, 60, 162, 163, 164, 167, 169])
    func agreesWithAPlainSieveFrom(start: Int) throws {
        for width in [1, 2, 3, 7, 29, 30, 31, 59, 61, 1001, 30031] {
            let expected = (start..<(start + width)).filter { Self.smallPrimes[$0] }.count
            #expect(try Self.count(start, start + width) == expected, "[\(start), \(start + width))")
        }
    }

    @Test func agreesWithAPlainSieveOnRandomRanges() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<40 {
            let from = Int.random(in: 0..<150_000, using: &generator)
            let to = from + Int.random(in: 1...(Self.smallPrimes.count - from - 1), using: &generator)
            let perUnit = Int.random(in: 30...20_000, using: &generator)
            let expected = (from..<to).filter { Self.smallPrimes[$0] }.count
            #expect(try Self.count(from, to, numbersPerUnit: perUnit) == expected, "[\(from), \(to)) by \(perUnit)")
        }
    }

    /// Ranges high up, where the bucket sieve does most primes, checked number by number with Miller–Rabin.
    @Test(arguments: [
        0, 1_000_000_000_000, 999_999_999_999 - 3000, 123_456_789_012_345, PrimesKernel.maximum - 3001,
    ])
    func agreesWithMillerRabinHighUp(from: Int) throws {
        let to = from + 3001
        let expected = (from..<to).filter(Self.isPrime).count
        #expect(try Self.count(from, to) == expected)
        #expect(try Self.count(from, to, numbersPerUnit: 1000) == expected)
    }

    @Test func countsAcrossSegmentAndUnitBoundaries() throws {
        // Two units of 7,864,320 numbers, then units that split segments; primesieve counts 541,854 primes here.
        #expect(try Self.count(100_000_000, 110_000_000) == 541_854)
        #expect(try Self.count(100_000_000, 110_000_000, numbersPerUnit: 3_000_001) == 541_854)
    }

    @Test func unitsCoverTheRangeOnWholeSieveBytes() throws {
        let kernel = PrimesKernel()
        let units = try kernel.units(for: KernelParameters(["from": 7, "to": 100_003, "numbersPerUnit": 1000]))
        let ranges = try units.map { try JSONDecoder().decode([String: Int].self, from: $0) }
        #expect(ranges.count == 100)
        #expect(ranges.first?["from"] == 7)
        #expect(ranges.last?["to"] == 100_003)
        for (a, b) in zip(ranges, ranges.dropFirst()) {
            #expect(a["to"] == b["from"])
            #expect(a["to"]! % 30 == 0)
            #expect(a["to"]! > a["from"]!)
        }
        let billion = try kernel.units(for: KernelParameters(["to": 1_000_000_000]))
        #expect(billion.count == 128)
        let spec = try JSONDecoder().decode([String: Int].self, from: billion[1])
        #expect(spec == ["from": 7_864_320, "to": 2 * 7_864_320])
    }

    @Test func assemblesTheTotalAndAResultFile() throws {
        let kernel = PrimesKernel()
        let parameters = KernelParameters(["from": 1000, "to": 1_000_000, "numbersPerUnit": 100_000])
        let outputs = try kernel.units(for: parameters).enumerated().map {
            try kernel.run($1, context: KernelContext(unit: $0))
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("primes-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let summary = try kernel.assemble(outputs, parameters: parameters, into: folder)
        #expect(summary.values == ["count": .int(78498 - 168), "from": .int(1000), "to": .int(1_000_000)])
        #expect(summary.headline == "78330 primes in [1000, 1000000)")
        let file = try #require(summary.files.first)
        let result = try JSONDecoder().decode(Result.self, from: Data(contentsOf: file))
        #expect(result.count == 78330)
        #expect(result.units.count == 10)
        #expect(result.units.map(\.count).reduce(0, +) == 78330)
        #expect(result.units.first?.from == 1000)
        // Outputs that do not match the units are refused.
        #expect(throws: KernelDataError.self) {
            try kernel.assemble(Array(outputs.dropLast()), parameters: parameters, into: folder)
        }
        #expect(throws: KernelDataError.self) {
            try kernel.assemble(outputs.reversed(), parameters: parameters, into: folder)
        }
    }

    struct Result: Decodable {
        struct Unit: Decodable {
            var from: Int
            var to: Int
            var count: Int
        }
        var count: Int
        var units: [Unit]
    }

    @Test(arguments: [
        ([:] as [String: JSONValue], "to"), (["to": "many"], "to"), (["to": 2.5], "to"), (["from": 10, "to": 5], "to"),
        (["from": 10, "to": 10], "to"), (["to": 0], "to"), (["from": -1, "to": 5], "from"),
        (["to": .int(PrimesKernel.maximum + 1)], "to"), (["to": 100, "numbersPerUnit": 29], "numbersPerUnit"),
        (["to": 1_000_000_000, "numbersPerUnit": 30], "numbersPerUnit"),
        (["to": 100, "numbersPerUnit": "x"], "numbersPerUnit"),
    ])
    func badParametersNameTheField(parameters: [String: JSONValue], field: String) {
        let error = #expect(throws: KernelParameterError.self) {
            try PrimesKernel().units(for: KernelParameters(parameters, source: "primes.json"))
        }
        #expect(error?.field == field)
        #expect(error?.description.hasPrefix("primes.json: parameters.\(field) ") == true)
    }

    @Test func badUnitInputIsRefused() {
        for input in [
            "{}", "{\"from\": 5, \"to\": 5}", "{\"from\": -3, \"to\": 5}", "{\"from\": 0, \"to\": 1e16}", "x",
        ] {
            #expect(throws: KernelDataError.self, "\(input)") {
                try PrimesKernel().run(Data(input.utf8), context: KernelContext(unit: 0))
            }
        }
    }

    @Test func anInterruptedUnitSavesItsPlaceAndResumesToTheSameCount() throws {
        let kernel = PrimesKernel()
        // Four segments, so that the unit steps four times.
        let input = try kernel.units(
            for: KernelParameters(["from": 1_000_001, "to": 31_000_000, "numbersPerUnit": 30_000_000]))[0]
        let whole = try kernel.run(input, context: KernelContext(unit: 0))

        let steps = Atomic<Int>(0)
        let saved = Mutex<Data?>(nil)
        let hooks = KernelContextHooks(
            checkpointInterval: .seconds(3600),
            isStopping: { steps.add(1, ordering: .relaxed).newValue > 2 },
            saveCheckpoint: { data in saved.withLock { $0 = data } })
        #expect(throws: KernelInterruption.self) {
            try kernel.run(input, context: KernelContext(unit: 3, checkpoint: nil, hooks: hooks))
        }
        let checkpoint = try #require(saved.withLock { $0 })
        let state = try JSONDecoder().decode([String: Int].self, from: checkpoint)
        #expect(state["next"] == 1_000_001 / 30 * 30 + 3 * 7_864_320)
        #expect(state["count"]! > 0)
        let resumed = try kernel.run(input, context: KernelContext(unit: 3, checkpoint: checkpoint))
        #expect(resumed == whole)

        let (stepwise, interruptions) = try KernelHarness.runInterrupted(kernel, input, every: 1)
        // Each run gets two steps: it stops after the second segment, then after the fourth (the last).
        #expect(interruptions == 2)
        #expect(stepwise == whole)
    }

    @Test func aCheckpointThatDoesNotFitTheUnitIsIgnored() throws {
        let kernel = PrimesKernel()
        let input = try kernel.units(
            for: KernelParameters(["from": 1000, "to": 9_000_000, "numbersPerUnit": 9_000_000]))[0]
        let whole = try kernel.run(input, context: KernelContext(unit: 0))
        for bad in [
            "{\"next\": 10, \"count\": 0}", "{\"next\": 5000, \"count\": 4001}", "{\"next\": 9000001, \"count\": 0}",
            "junk",
        ] {
            let output = try kernel.run(input, context: KernelContext(unit: 0, checkpoint: Data(bad.utf8)))
            #expect(output == whole, "\(bad)")
        }
    }
}
