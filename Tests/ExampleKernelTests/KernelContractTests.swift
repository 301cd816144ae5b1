import CollatzKernel
import ColonyKernel
import Foundation
import MandelbrotKernel
import MersenneKernel
import MonteCarloPiKernel
import PrimesKernel
import SquaresKernel
import Testing

/// The contract in `ComputeKernel`'s documentation, checked for every shipped kernel on a small job.
@Suite struct KernelContractTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var kernel: any ComputeKernel
        var parameters: [String: JSONValue]
        var testDescription: String { type(of: kernel).name }
    }

    static let cases: [Case] = [
        Case(kernel: MersenneKernel(), parameters: ["from": 80, "below": 300, "exponentsPerUnit": 10]),
        Case(kernel: PrimesKernel(), parameters: ["to": 20_000_000, "numbersPerUnit": 10_000_000]),
        Case(kernel: MandelbrotKernel(), parameters: ["width": 40, "height": 24, "rowsPerUnit": 5, "maxIterations": 100]),
        Case(kernel: CollatzKernel(), parameters: ["to": 100_000, "valuesPerUnit": 40_000]),
        Case(kernel: MonteCarloPiKernel(), parameters: ["samples": 3_000_000, "samplesPerUnit": 1_500_000]),
        Case(kernel: SquaresKernel(), parameters: ["n": 2_000_000]),
    ]

    @Test(arguments: cases)
    func describesItself(_ test: Case) {
        let kernel = type(of: test.kernel)
        #expect(!kernel.name.isEmpty && kernel.name == kernel.name.lowercased() && !kernel.name.contains(" "))
        #expect(kernel.version >= 1)
        #expect(!kernel.summary.isEmpty && !kernel.summary.contains("\n"))
        #expect(!kernel.parameters.isEmpty)
        let unknown = KernelParameters(test.parameters).unknownNames(known: kernel.parameters.map(\.name))
        #expect(unknown.isEmpty, "the test uses parameters the kernel does not document: \(unknown)")
    }

    @Test(arguments: cases)
    func unitsAreAPureFunctionOfTheParameters(_ test: Case) throws {
        let parameters = KernelParameters(test.parameters)
        let first = try test.kernel.units(for: parameters)
        #expect(first.count >= 2)
        #expect(try test.kernel.units(for: parameters) == first)
    }

    @Test(arguments: cases)
    func runIsAPureFunctionOfItsInput(_ test: Case) throws {
        let units = try test.kernel.units(for: KernelParameters(test.parameters))
        for (index, unit) in units.enumerated().prefix(3) {
            let once = try test.kernel.run(unit, context: KernelContext(unit: index))
            let twice = try test.kernel.run(unit, context: KernelContext(unit: index))
            #expect(once == twice)
            #expect(test.kernel.equivalent(once, twice))
        }
    }

    @Test(arguments: cases)
    func anInterruptedUnitResumesToTheSameOutput(_ test: Case) throws {
        let units = try test.kernel.units(for: KernelParameters(test.parameters))
        let whole = try test.kernel.run(units[0], context: KernelContext(unit: 0))
        let (resumed, interruptions) = try KernelHarness.runInterrupted(test.kernel, units[0], every: 1)
        #expect(interruptions >= 1, "the unit should call step more than once")
        #expect(resumed == whole)
    }

    @Test(arguments: cases)
    func outputsFromDifferentUnitsAreNotEquivalent(_ test: Case) throws {
        let units = try test.kernel.units(for: KernelParameters(test.parameters))
        let first = try test.kernel.run(units[0], context: KernelContext(unit: 0))
        let second = try test.kernel.run(units[1], context: KernelContext(unit: 1))
        #expect(!test.kernel.equivalent(first, second))
        #expect(!test.kernel.equivalent(first, Data("junk".utf8)))
    }

    @Test(arguments: cases)
    func badUnitInputIsAnErrorNotACrash(_ test: Case) {
        for junk in [Data(), Data("{}".utf8), Data("not json".utf8), Data(#"{"from": -5, "to": -10}"#.utf8)] {
            #expect(throws: (any Error).self) { try test.kernel.run(junk, context: KernelContext(unit: 0)) }
        }
    }
}
