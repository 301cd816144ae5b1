import ColonyCore
import ColonyKernel
import Foundation

/// A job spec matched to a compiled-in kernel and split into unit inputs, ready to run.
public struct PreparedJob: Sendable {
    /// The spec it came from.
    public let spec: JobSpec
    /// The kernel that runs it.
    public let kernel: any ComputeKernel
    /// The unit inputs, in order.
    public let units: [Data]
    /// SHA-256 (hex) over the kernel's name and version and every unit input: equal for equal work, so a rerun
    /// of the same spec finds the outputs and checkpoints of the run it continues.
    public let workID: String

    /// Finds the spec's kernel in `registry`, checks the parameter names, and asks the kernel for the units.
    ///
    /// Throws `JobSpecError` (unknown kernel, misspelt parameter, no units) or the kernel's
    /// `KernelParameterError`; both name the file and the field.
    public init(spec: JobSpec, registry: KernelRegistry) throws {
        guard let kernelType = registry.kernelType(named: spec.kernel) else {
            throw JobSpecError(
                source: spec.source, field: "kernel", problem: "is \"\(spec.kernel)\", which is not compiled in",
                expected: "one of " + registry.names.joined(separator: ", ") + " (see colony kernels)")
        }
        let known = kernelType.parameters.map(\.name)
        if !known.isEmpty, let unknown = spec.parameters.unknownNames(known: known).first {
            throw JobSpecError(
                source: spec.source, field: "parameters.\(unknown)",
                problem: "is not a parameter of kernel \(kernelType.name)",
                expected: "only " + known.joined(separator: ", "))
        }
        let kernel = kernelType.init()
        let units: [Data]
        do {
            units = try kernel.units(for: spec.parameters)
        } catch let error as KernelParameterError {
            throw error
        } catch {
            throw JobSpecError(source: spec.source, field: "parameters", problem: "were refused: \(error)")
        }
        guard !units.isEmpty else {
            throw JobSpecError(
                source: spec.source, field: "parameters", problem: "give no work units",
                expected: "a range or size with something in it")
        }
        self.spec = spec
        self.kernel = kernel
        self.units = units
        self.workID = Self.workID(kernel: kernelType, units: units)
    }

    private static func workID(kernel: any ComputeKernel.Type, units: [Data]) -> String {
        var hash = SHA256()
        func add(_ bytes: Data) {
            var length = UInt64(bytes.count).bigEndian
            hash.update(Data(bytes: &length, count: 8))
            hash.update(bytes)
        }
        add(Data("colony:work:\(kernel.name):\(kernel.version)".utf8))
        for unit in units { add(unit) }
        return hash.finalize().hex
    }
}

