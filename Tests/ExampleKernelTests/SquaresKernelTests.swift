import ColonyKernel
import Foundation
import SquaresKernel
import Testing

/// The README's example kernel does what the README says.
@Suite struct SquaresKernelTests {
    @Test(arguments: [1, 2, 10, 1_000_001, 3_000_000])
    func sumsTheSquaresBelowN(n: Int) throws {
        let summary = try KernelHarness.runAll(SquaresKernel(), ["n": .int(n)])
        let exact = (0..<n).reduce(UInt64(0)) { $0 &+ UInt64($1) &* UInt64($1) }
        #expect(summary.values["sum"] == .int(Int(truncatingIfNeeded: exact)))
    }

    @Test func anInterruptedUnitGivesTheSameOutput() throws {
        let input = try SquaresKernel().units(for: KernelParameters(["n": 1_000_000]))[0]
        let whole = try SquaresKernel().run(input, context: KernelContext(unit: 0))
        let (resumed, interruptions) = try KernelHarness.runInterrupted(SquaresKernel(), input, every: 7)
        #expect(interruptions > 10)
        #expect(resumed == whole)
    }
}
