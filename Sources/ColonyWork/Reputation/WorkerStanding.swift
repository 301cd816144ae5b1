import ColonyCore

/// A worker's standing, computed the same way by every peer from its evidence (issue 14, Reputation and Credit).
///
/// The rule is BOINC's adaptive-replication counter: in canonical order (`EvidenceFact.canonicalOrder`), each
/// valid result adds one to `consecutiveValid`, and any invalid result, error or expired lease sets it back to
/// zero. A new key has no evidence and so stands at zero: a Sybil's fresh keys gain it nothing. Credit is the work
/// of its valid results, in the kernel's units.
public struct WorkerStanding: Sendable, Equatable {
    /// Valid results since the last invalid result, error or expired lease.
    public var consecutiveValid = 0
    public var valid = 0
    public var invalid = 0
    public var errors = 0
    public var expired = 0
    /// Agreeing results sealed too late to count (`EvidenceFact.Kind.late`); they change nothing else.
    public var late = 0
    /// The work of its valid results (`ComputeKernel.work(input:output:)`), by what each kernel counts (`workUnit`): work of
    /// different kernels is never added together.
    public var credit: [String: Double] = [:]

    public init() {}

    /// The standing `facts` give, whatever order they come in.
    public init(_ facts: some Sequence<EvidenceFact>) {
        for fact in Set(facts).sorted(by: EvidenceFact.canonicalOrder) {
            switch fact.kind {
            case .valid:
                valid += 1
                consecutiveValid += 1
                credit[fact.workUnit, default: 0] += fact.work
            case .invalid:
                invalid += 1
                consecutiveValid = 0
            case .error:
                errors += 1
                consecutiveValid = 0
            case .expired:
                expired += 1
                consecutiveValid = 0
            case .late:
                late += 1
            }
        }
    }

    /// Each worker's standing from the facts of several shards and jobs.
    public static func standings(_ evidence: [[Ed25519PublicKey: [EvidenceFact]]]) -> [Ed25519PublicKey: WorkerStanding] {
        var merged: [Ed25519PublicKey: [EvidenceFact]] = [:]
        for part in evidence {
            for (worker, facts) in part { merged[worker, default: []] += facts }
        }
        return merged.mapValues { WorkerStanding($0) }
    }
}
