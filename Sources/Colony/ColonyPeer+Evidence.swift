import ColonyBlobs
import ColonyCore
import ColonyDHT
import ColonyNet
import ColonyWork
import Foundation

/// Finding a worker's evidence without a server (issue 14, Evidence): a custodian that leases units to a worker
/// announces itself in the DHT under `JobKeys.evidence(worker:)`, and answers `co_evidence` with the jobs whose
/// records it keeps name that worker. The worker announces nothing and is asked nothing, so it cannot leave a job
/// out; anyone then gathers and re-verifies those jobs' records (`colony credit --worker KEY`).
extension ColonyPeer {
    /// Seconds before a custodian announces itself again under a worker's evidence key.
    static let evidenceAnnounceInterval = 900.0
    /// Workers whose evidence keys a custodian keeps announced (and the DHT republishes); past this the oldest is
    /// withdrawn, so that fresh keys leasing and walking away cannot grow its republishing without end.
    static let evidenceAnnounceLimit = 2000
    /// Announces one evidence key at a time: an announce waits on a DHT lookup for up to 30 s.
    static let evidenceQueue = DispatchQueue(label: "colony.peer.evidence")

    /// Announces this peer under `worker`'s evidence key, in the background, at most once per interval, and only
    /// while others can dial it back (an unreachable peer's announcement would name an address nobody can use).
    func announceEvidence(of worker: Ed25519PublicKey) {
        guard reach.isReachable else { return }
        let now = Date()
        let network = configuration.network
        let (due, withdrawn) = evidenceAnnounced.withLock { announced -> (Bool, Ed25519PublicKey?) in
            if let last = announced[worker], now.timeIntervalSince(last) < Self.evidenceAnnounceInterval {
                return (false, nil)
            }
            var withdrawn: Ed25519PublicKey?
            if announced[worker] == nil, announced.count >= Self.evidenceAnnounceLimit,
                let oldest = announced.min(by: { $0.value < $1.value })?.key
            {
                announced[oldest] = nil
                withdrawn = oldest
            }
            announced[worker] = now
            return (true, withdrawn)
        }
        if let withdrawn, let target = NodeID(bytes: JobKeys.evidence(worker: withdrawn, network: network)) {
            blobs.node.withNode { node, _ in (node.unpublish(target), []) }
        }
        guard due else { return }
        let key = JobKeys.evidence(worker: worker, network: network)
        Self.evidenceQueue.async { [self] in announce(under: key) }
    }

    /// The jobs (ID and manifest root) whose records kept here name `worker`, at most 1000.
    func jobsWithEvidence(of worker: Ed25519PublicKey) -> [BencodeValue] {
        let jobs = custody.withLock { custodian -> Set<JobID> in
            var jobs: Set<JobID> = []
            for (ref, ledger) in custodian.ledgers where !jobs.contains(ref.job) {
                if ledger.mentions(worker) { jobs.insert(ref.job) }
                if jobs.count >= 1000 { break }
            }
            return jobs
        }
        return jobs.sorted().compactMap { job in
            root(of: job).map { .list([.bytes(job.bytes), .bytes($0.root.bytes)]) }
        }
    }

    /// Jobs with evidence of `worker`: (job, manifest root, the custodian that said so), from every custodian
    /// announced under its evidence key, and this peer's own custody.
    public func discoverEvidence(of worker: Ed25519PublicKey) -> [(job: JobID, root: BlobID, source: Endpoint)] {
        var sources = peers(under: JobKeys.evidence(worker: worker, network: configuration.network))
        if custody.withLock({ !$0.ledgers.isEmpty }) { sources.append(endpoint) }
        let frame = CustodyWire.frame("co_evidence", [("worker", .bytes(Array(worker.rawRepresentation)))])
        var seen: Set<Endpoint> = []
        return jobLists(asking: sources.filter { seen.insert($0).inserted }, with: frame)
    }
}
