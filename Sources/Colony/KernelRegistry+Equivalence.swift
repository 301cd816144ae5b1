import ColonyKernel
import Foundation

extension KernelRegistry {
    /// How outputs of `kernel` are compared for quorum: its `equivalent`, or equal bytes for a kernel not
    /// compiled in.
    public func outputEquivalence(_ kernel: String) -> @Sendable ([UInt8], [UInt8]) -> Bool {
        guard let instance = self.kernel(named: kernel) else { return { $0 == $1 } }
        return { instance.equivalent(Data($0), Data($1)) }
    }
}
