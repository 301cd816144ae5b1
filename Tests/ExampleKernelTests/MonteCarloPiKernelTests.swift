import ColonyKernel
import Foundation
import MonteCarloPiKernel
import Testing

@Suite struct MonteCarloPiKernelTests {
    @Test func theSameSeedGivesTheSameEstimateAndAnotherSeedAnother() throws {
        let parameters: [String: JSONValue] = ["samples": 400_000, "samplesPerUnit": 100_000, "seed": 42]
        let first = try KernelHarness.runAll(MonteCarloPiKernel(), parameters)
        let again = try KernelHarness.runAll(MonteCarloPiKernel(), parameters)
        #expect(first.values == again.values)
        var other = parameters
        other["seed"] = 43
        #expect(try KernelHarness.runAll(MonteCarloPiKernel(), other).values["inside"] != first.values["inside"])
    }

    @Test func theEstimateIsWithinFiveStandardErrorsOfPi() throws {
        let summary = try KernelHarness.runAll(MonteCarloPiKernel(), ["samples": 2_000_000, "samplesPerUnit": 500_000])
        guard case .double(let estimate) = summary.values["estimate"], case .double(let error) = summary.values["standardError"]
        else {
            Issue.record("summary lacks estimate or standardError: \(summary.values)")
            return
        }
        #expect(abs(estimate - Double.pi) < 5 * error)
        #expect(summary.values["samples"] == .int(2_000_000))
    }

    @Test func samplesAreSplitWithoutLoss() throws {
        let units = try MonteCarloPiKernel().units(for: KernelParameters(["samples": 1_000_003, "samplesPerUnit": 250_000]))
        #expect(units.count == 5)
        let summary = try KernelHarness.runAll(MonteCarloPiKernel(), ["samples": 1_000_003, "samplesPerUnit": 250_000])
        #expect(summary.values["samples"] == .int(1_000_003))
    }

    @Test func anInterruptedUnitGivesTheSameOutput() throws {
        let kernel = MonteCarloPiKernel()
        let input = try kernel.units(for: KernelParameters(["samples": 10_000_000, "samplesPerUnit": 10_000_000]))[0]
        let whole = try kernel.run(input, context: KernelContext(unit: 0))
        let (resumed, interruptions) = try KernelHarness.runInterrupted(kernel, input, every: 1)
        #expect(interruptions >= 3)
        #expect(resumed == whole)
    }

    @Test(arguments: [(["samples": 10] as [String: JSONValue], "samples"), ([:], "samples"), (["samples": 5000, "seed": 1.5], "seed")])
    func badParametersNameTheField(parameters: [String: JSONValue], field: String) {
        let error = #expect(throws: KernelParameterError.self) {
            try MonteCarloPiKernel().units(for: KernelParameters(parameters))
        }
        #expect(error?.field == field)
    }
}
