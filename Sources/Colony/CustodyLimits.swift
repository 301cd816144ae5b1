import ColonyNet
import ColonyWork

/// How many jobs others can make this peer keep. Anyone can sign a job naming a peer as custodian and publish it
/// there (`co_publish`), or announce jobs for its worker to find, and every job kept holds its manifest in memory
/// for good; so the jobs kept are capped in number and in the bytes their manifests hold, and the new jobs published
/// from one address are rate limited, so that one address cannot take the whole allowance. The caps apply apart to
/// the jobs whose manifests name this peer as custodian and to the others (learned for its worker, joined by a set
/// change): a flood of either leaves the other's allowance whole. A peer at its cap refuses custody offers
/// (`co_offer`), so publishers choose other custodians.
public struct CustodyLimits: Sendable, Equatable {
    /// Jobs of each kind kept at most.
    public var maxJobs = 4_096
    /// Bytes the kept manifests of each kind may hold in memory (`JobManifest.heldBytes`: inline inputs, text and a
    /// little per unit); a 16 MiB manifest is at most 1/64 of the default.
    public var maxManifestBytes = 1 << 30
    /// New jobs one IPv4 address may publish here: a burst of 64, then one a minute. Jobs this peer joins by a
    /// custody set change (a hand-off, signed by the job's custodians) count against the caps above only: a
    /// custodian leaving hands all its jobs to a few others at once.
    public var newJobsPerAddress: RateLimit? = RateLimit(datagramsPerSecond: 1.0 / 60, burst: 64, trackedAddresses: 4_096)

    public init() {}

    /// Why a job of `heldBytes` may not be kept beside `custodian`'s jobs of its kind (`named`: its manifest names
    /// this peer as custodian), or nil when it may; `heldBytes` nil asks whether any could be (a custody offer,
    /// before the manifest exists).
    func refusal(keeping heldBytes: Int?, named: Bool, beside custodian: Custodian) -> CustodyError? {
        let kind = named ? "jobs in its custody" : "jobs it knows of but does not keep custody of"
        let (count, bytes) = custodian.held[named] ?? (0, 0)
        guard count < maxJobs else {
            return CustodyError("custody full", "this peer keeps \(count) \(kind), its limit; choose other custodians")
        }
        guard bytes + (heldBytes ?? 0) <= maxManifestBytes, bytes < maxManifestBytes else {
            return CustodyError(
                "custody full",
                "the manifests of the \(kind) hold \(bytes) bytes of \(maxManifestBytes)\(heldBytes.map { "; this one needs \($0)" } ?? ""); choose other custodians")
        }
        return nil
    }
}
