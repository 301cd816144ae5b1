import ColonyKernel
import Foundation

/// A kernel whose units cost microseconds: unit i's output is i² as 8 bytes; the summary is their sum. It
/// measures what the swarm itself costs per unit (`colony bench swarm`) and drives the protocol tests.
public struct TallyKernel: ComputeKernel {
    public static let name = "tally"
    public static let version = 1
    public static let summary = "Squares each unit's number (microseconds per unit): measures the swarm's own cost"
    public static let parameters = [KernelParameterInfo("units", "how many units, 1 to 1,000,000 (required)")]

    /// The most units a job may have; unit i's input is i.
    static let maximumUnits = 1_000_000

    public init() {}

    public func units(for parameters: KernelParameters) throws -> [Data] {
        let count = try parameters.int("units", in: 1...Self.maximumUnits)
        return (0..<count).map { withUnsafeBytes(of: UInt64($0).littleEndian) { Data($0) } }
    }

    public func run(_ input: Data, context: KernelContext) throws -> Data {
        // The bytes come from the publisher: exactly one unit number that `units(for:)` could have made.
        guard input.count == 8 else {
            throw KernelDataError(kernel: Self.name, what: "unit input", reason: "\(input.count) bytes, not 8")
        }
        let value = input.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard value < Self.maximumUnits else {
            throw KernelDataError(
                kernel: Self.name, what: "unit input", reason: "unit number \(value) is not below \(Self.maximumUnits)")
        }
        return withUnsafeBytes(of: (value &* value).littleEndian) { Data($0) }
    }

    public func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        var sum: UInt64 = 0
        for (index, output) in outputs.enumerated() {
            guard output.count == 8 else {
                throw KernelDataError(kernel: Self.name, what: "output \(index)", reason: "\(output.count) bytes, not 8")
            }
            sum &+= output.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        }
        return KernelSummary(values: ["units": .int(outputs.count), "sum": .string(String(sum))], headline: "sum of squares \(sum)")
    }
}
