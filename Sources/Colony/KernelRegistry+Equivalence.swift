import ColonyKernel
import Foundation

extension KernelRegistry {
    /// How outputs of `kernel` are compared for quorum: its `equivalent`, or equal bytes for a kernel not
    /// compiled in.
    public func outputEquivalence(_ kernel: String) -> @Sendable ([UInt8], [UInt8]) -> Bool {
        guard let instance = self.kernel(named: kernel) else { return { $0 == $1 } }
        return { instance.equivalent(Data($0), Data($1)) }
    }

    /// The cheap check of `kernel`'s outputs (`ComputeKernel.verify(input:output:seed:)`) that custodians run on
    /// results accepted alone; nil for a kernel not compiled in (it answers nil for one that has no check).
    public func outputCheck(_ kernel: String) -> (@Sendable (Data, Data, UInt64) -> Bool?)? {
        guard let instance = self.kernel(named: kernel) else { return nil }
        return { instance.verify(input: $0, output: $1, seed: $2) }
    }
}
