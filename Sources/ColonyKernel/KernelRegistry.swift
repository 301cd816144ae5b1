/// The kernels compiled into this program, by name.
public struct KernelRegistry: Sendable {
    /// Every kernel, in the order given.
    public let kernels: [any ComputeKernel.Type]

    /// A registry of `kernels`; their names must be unique.
    public init(_ kernels: [any ComputeKernel.Type]) {
        var seen = Set<String>()
        for kernel in kernels {
            precondition(seen.insert(kernel.name).inserted, "two kernels are named \(kernel.name)")
        }
        self.kernels = kernels
    }

    /// The kernel type named `name`, if compiled in.
    public func kernelType(named name: String) -> (any ComputeKernel.Type)? {
        kernels.first { $0.name == name }
    }

    /// A new instance of the kernel named `name`, if compiled in.
    public func kernel(named name: String) -> (any ComputeKernel)? {
        kernelType(named: name).map { $0.init() }
    }

    /// The names, sorted, for error messages.
    public var names: [String] { kernels.map { $0.name }.sorted() }
}
