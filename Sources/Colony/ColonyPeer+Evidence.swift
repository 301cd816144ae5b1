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
        evidenceQueue.async { [self] in announce(under: key) }
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

    // MARK: Prior standing from evidence elsewhere

    struct PriorLookups {
        var workers: [Ed25519PublicKey: Date] = [:]
        /// Workers whose lookup is waiting or running, and since when.
        var running: [Ed25519PublicKey: Date] = [:]
        /// Workers whose first lookup here for a job has ended (the latest `priorHeldKept`): fresh units of a job
        /// are held back for a worker's first lookup in it only (`holdsFreshUnits`).
        var lookedUp = RecentIDs<LookedUp>(limit: ColonyPeer.priorHeldKept)
        var jobs: [JobID: Date] = [:]
        var pending = 0
        var mostPending = 0
        var started = 0
        var finished = 0
    }

    struct LookedUp: Hashable {
        var worker: Ed25519PublicKey
        var job: JobID
    }

    /// Lookups started, and the most that were ever waiting or running at once (`lookUpPrior`).
    var priorLookupCounts: (started: Int, mostPending: Int) { priorLookups.withLock { ($0.started, $0.mostPending) } }
    /// Lookups that have ended.
    var priorLookupsFinished: Int { priorLookups.withLock { $0.finished } }

    /// Seconds before a worker's prior standing is looked up again (sooner when the last lookup found nothing to
    /// gather: the custodians of its earlier jobs may not have announced themselves yet), and before a job gathered
    /// for one is gathered again.
    static let priorLookupInterval = 300.0
    static let priorRetryInterval = 10.0
    static let priorGatherInterval = 60.0
    /// Jobs gathered per lookup, and lookups waiting at most: a flood of new keys asking for leases costs
    /// this many gathers and no more.
    static let priorLookupJobs = 4
    static let priorLookupsPending = 8

    /// Seconds at most that a custodian holds back fresh units from a worker whose lookup is waiting or running
    /// (`holdsFreshUnits`): a lookup whose sources do not answer costs the worker no more than this.
    static let priorHoldSeconds = 10.0
    /// Workers remembered as looked up once in a job, so that a lookup again holds nothing back; one forgotten
    /// (after this many others) is held again for one lookup at most.
    static let priorHeldKept = 4096

    /// Whether a lease of an adaptive job to `worker`, if it is not trusted here, holds back fresh units: its
    /// prior standing is being looked up, or will be when it is leased without trust (`lookUpPrior` is due). A
    /// worker that earned its trust in shards kept elsewhere was leased, at each custodian keeping none of them, a
    /// new key's 10 fresh units to run replicated before the lookup ended (AdaptiveSwarmTests, trust carried into
    /// the next job: 63 of 100 units ran once in one CI run, 84–89 when alone). Units others started, replicated
    /// anyway, are still leased, and the worker asks the shard's other custodians and again shortly.
    ///
    /// Only a worker's first lookup here in a job holds anything back. A lookup that found nothing is due again
    /// after `priorRetryInterval`; held at each one, a new key whose evidence sources an attacker slows (a lookup
    /// then lasts up to `priorHoldSeconds`) was held from fresh units about half the time, at every custodian. Trust
    /// found by a later lookup still counts from the lease after it.
    func holdsFreshUnits(for worker: Ed25519PublicKey, in job: JobID) -> Bool {
        guard looksUpPriors else { return false }
        let now = Date()
        return priorLookups.withLock { state in
            if state.lookedUp.contains(LookedUp(worker: worker, job: job)) { return false }
            if let since = state.running[worker] { return now.timeIntervalSince(since) < Self.priorHoldSeconds }
            if let last = state.workers[worker], now < last { return false }
            return state.pending < Self.priorLookupsPending
        }
    }

    /// Turns the lookups off (tests that compare with and without them).
    public var looksUpPriors: Bool {
        get { !priorLookupsOff.load(ordering: .relaxed) }
        set { priorLookupsOff.store(!newValue, ordering: .relaxed) }
    }

    /// Finds, in the background, the trust `worker` earned in shards this custodian does not keep: the jobs its
    /// evidence key names (`discoverEvidence`) besides `job`, of its kernel and publisher, are gathered from their
    /// custodians (every record checked as `colony results` checks it) and their shards kept for
    /// `Custodian.priorStanding`. A custodian counted a prior only from the shards it happened to keep; in a swarm
    /// of more than a few peers, the three custodians of a new job's shard seldom keep any shard where a worker
    /// earned its trust, so trust did not carry from job to job (AdaptiveSwarmTests: a sleeper trusted by none of a
    /// job's custodians). At most once per `priorLookupInterval` per worker (`priorRetryInterval` when nothing was
    /// found); the worker's next request for units finds the standing.
    func lookUpPrior(of worker: Ed25519PublicKey, for job: JobManifest) {
        guard looksUpPriors else { return }
        let now = Date()
        let due = priorLookups.withLock { state -> Bool in
            if let last = state.workers[worker], now < last { return false }
            guard state.pending < Self.priorLookupsPending else { return false }
            state.workers = state.workers.filter { now < $0.value }
            state.workers[worker] = now + Self.priorLookupInterval
            state.running[worker] = now
            state.pending += 1
            state.mostPending = max(state.mostPending, state.pending)
            state.started += 1
            return true
        }
        guard due else { return }
        priorQueue.async { [self] in
            defer {
                priorLookups.withLock { state in
                    state.running[worker] = nil
                    state.lookedUp.insert(LookedUp(worker: worker, job: job.id))
                    state.pending -= 1
                    state.finished += 1
                }
            }
            var jobs: [(job: JobID, root: BlobID)] = []
            for found in discoverEvidence(of: worker) where found.job != job.id {
                if !jobs.contains(where: { $0.job == found.job }) { jobs.append((found.job, found.root)) }
            }
            if jobs.isEmpty { priorLookups.withLock { $0.workers[worker] = Date() + Self.priorRetryInterval } }
            var gathered = 0
            for (other, root) in jobs where gathered < Self.priorLookupJobs {
                let fresh = priorLookups.withLock { state -> Bool in
                    if let last = state.jobs[other], Date().timeIntervalSince(last) < Self.priorGatherInterval { return false }
                    state.jobs = state.jobs.filter { Date().timeIntervalSince($0.value) < Self.priorGatherInterval }
                    state.jobs[other] = Date()
                    return true
                }
                guard fresh else { continue }
                gathered += 1
                // The manifest is read, not kept (`fetchManifest` `keeping`), and the records are gathered only for
                // a job of the same kernel and publisher.
                guard let manifest = try? fetchManifest(other, root: root, hint: [], keeping: false),
                    manifest.trustDomain == job.trustDomain
                else { continue }
                // Not the shards this peer keeps custody of: it counts priors in those from its own records, and
                // `adoptPriorShards` leaves them alone (in a swarm of 8 with 3 custodians a shard, 3 in 8 of the
                // job's shards were gathered for nothing: bench adaptive --scenarios trusted).
                let kept = custody.withLock { custodian in
                    Set((0..<manifest.shardCount).filter { custodian.ledgers[ShardRef(job: other, shard: $0)] != nil })
                }
                let found = JobCollector.gather(
                    manifest, root: root, via: self, registry: configuration.registry, timeout: 5, attempts: 1, now: CustodyClock.now(),
                    skipping: kept)
                // Every other shard, not only the worker's: the job is not gathered again for a while, for anyone.
                let shards = found.ledgers.filter { !$0.records.isEmpty }
                custody.withLock { $0.adoptPriorShards(shards, of: found.manifest, now: CustodyClock.now()) }
            }
        }
    }
}
