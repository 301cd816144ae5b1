import CollatzKernel
import ColonyKernel
import Foundation
import Testing

@Suite struct CollatzKernelTests {
    /// Straightforward step counting, for checking the fast path.
    func slowSteps(_ start: UInt64) -> Int {
        var n = start
        var steps = 0
        while n != 1 {
            n = n % 2 == 0 ? n / 2 : 3 * n + 1
            steps += 1
        }
        return steps
    }

    /// Records of the longest trajectories (OEIS A006877 with their step counts, A006878).
    @Test(arguments: [(10, 9, 19), (100, 97, 118), (1000, 871, 178), (10_000, 6171, 261), (100_000, 77031, 350)])
    func findsTheRecordHolder(below: Int, value: Int, steps: Int) throws {
        let summary = try KernelHarness.runAll(CollatzKernel(), ["to": .int(below), "valuesPerUnit": 1000])
        #expect(summary.values["value"] == .int(value))
        #expect(summary.values["steps"] == .int(steps))
    }

    @Test func agreesWithSlowCountingOnRandomRanges() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            let from = Int.random(in: 1...5_000_000, using: &generator)
            let to = from + Int.random(in: 1...3000, using: &generator)
            var best = (value: 0, steps: -1)
            for start in from..<to {
                let steps = slowSteps(UInt64(start))
                if steps > best.steps { best = (start, steps) }
            }
            let summary = try KernelHarness.runAll(
                CollatzKernel(), ["from": .int(from), "to": .int(to), "valuesPerUnit": 1000])
            #expect(summary.values["value"] == .int(best.value), "range [\(from), \(to))")
            #expect(summary.values["steps"] == .int(best.steps))
        }
    }

    @Test func followsTrajectoriesThatLeaveSixtyFourBits() throws {
        // 2^62 + 27-style starts climb past 2^64 only near the top of the range: check one that does.
        let start: UInt64 = (1 << 50) - 1
        var n = UInt128(start)
        var steps = 0
        while n != 1 {
            n = n % 2 == 0 ? n / 2 : 3 * n + 1
            steps += 1
        }
        let summary = try KernelHarness.runAll(
            CollatzKernel(), ["from": .int(Int(start)), "to": .int(Int(start) + 1), "valuesPerUnit": 1000])
        #expect(summary.values["steps"] == .int(steps))
    }

    @Test func anInterruptedUnitGivesTheSameOutput() throws {
        let kernel = CollatzKernel()
        let input = try kernel.units(for: KernelParameters(["from": 1, "to": 100_000, "valuesPerUnit": 100_000]))[0]
        let whole = try kernel.run(input, context: KernelContext(unit: 0))
        let (resumed, interruptions) = try KernelHarness.runInterrupted(kernel, input, every: 2)
        #expect(interruptions >= 2)
        #expect(resumed == whole)
    }

    @Test(arguments: [
        (["from": 10, "to": 10] as [String: JSONValue], "to"), (["from": 10, "to": 5], "to"), (["from": 0, "to": 5], "from"),
        (["to": "many"], "to"), ([:], "to"), (["to": 100, "valuesPerUnit": 1], "valuesPerUnit"),
    ])
    func badParametersNameTheField(parameters: [String: JSONValue], field: String) {
        let error = #expect(throws: KernelParameterError.self) {
            try CollatzKernel().units(for: KernelParameters(parameters))
        }
        #expect(error?.field == field)
    }

    @Test func unitsCoverTheRangeExactly() throws {
        let units = try CollatzKernel().units(for: KernelParameters(["from": 5, "to": 10_007, "valuesPerUnit": 1000]))
        let ranges = try units.map { try JSONDecoder().decode([String: Int].self, from: $0) }
        #expect(ranges.first?["from"] == 5)
        #expect(ranges.last?["to"] == 10_007)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a["to"] == b["from"]) }
    }
}
