/// Which jobs a donor lets a worker take, by publisher key and kernel name.
public struct JobAdmission: Sendable, Equatable {
    /// Publisher keys (lowercase hex) allowed; empty allows every one not blocked.
    public var allowedPublishers: Set<String> = []
    /// Publisher keys (lowercase hex) refused.
    public var blockedPublishers: Set<String> = []
    /// Kernel names allowed; empty allows every one not blocked.
    public var allowedKernels: Set<String> = []
    /// Kernel names refused.
    public var blockedKernels: Set<String> = []

    /// An admission from its lists; keys are compared in lowercase.
    public init(
        allowedPublishers: Set<String> = [], blockedPublishers: Set<String> = [], allowedKernels: Set<String> = [],
        blockedKernels: Set<String> = []
    ) {
        self.allowedPublishers = Set(allowedPublishers.map { $0.lowercased() })
        self.blockedPublishers = Set(blockedPublishers.map { $0.lowercased() })
        self.allowedKernels = allowedKernels
        self.blockedKernels = blockedKernels
    }

    /// Why a job of `kernel` published by the key `publisherHex` is refused, or nil when it may be worked on.
    /// A block wins over an allow.
    public func refusal(kernel: String, publisherHex: String) -> String? {
        let publisher = publisherHex.lowercased()
        if blockedPublishers.contains(publisher) { return "publisher \(publisher.prefix(12)) is blocked" }
        if !allowedPublishers.isEmpty && !allowedPublishers.contains(publisher) {
            return "publisher \(publisher.prefix(12)) is not among the allowed publishers"
        }
        if blockedKernels.contains(kernel) { return "kernel \(kernel) is blocked" }
        if !allowedKernels.isEmpty && !allowedKernels.contains(kernel) {
            return "kernel \(kernel) is not among the allowed kernels"
        }
        return nil
    }
}
