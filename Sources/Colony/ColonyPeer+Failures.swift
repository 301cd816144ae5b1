import ColonyCore
import ColonyNet
import ColonyWork
import Foundation

/// Failed checks across a job's shards (issue 14, Sleeper). A worker's failed check in one shard voids what it ran
/// alone in the job's other shards (`ShardLedger.foreignFailures`). A custodian counts the failures of the shards it
/// keeps; the custodians of a shard are the three closest nodes to its key, so the custodians of another shard of
/// the same job seldom keep this one. A custodian whose shard shows failed checks says so (`co_failed`, naming the
/// shard and how many failures it shows, nothing more) to the custodians of the job's other shards; each that keeps
/// a shard of the job and not that one, and knows fewer failures there, gathers it from its custodians, every record
/// checked as `colony results` checks it, and counts the failures it shows there (`Custodian.adoptJobShard`), on
/// disk (`CustodyJournal.rememberFailures`) so that a restart keeps them.
///
/// A custodian tells at once when its shard shows a new failure, and again at every sync round each custodian of
/// the job's other shards that has not answered that it knows as many (`settled`): one that missed the hint (down,
/// busy, refusing for the moment) or that joined a shard's set later still learns of the failures.
///
/// The message is a hint, not evidence: a false one costs a gather, at most one per shard every
/// `Configuration.failureGatherInterval` (hints meanwhile are answered by one gather when the time is up), and at
/// most `failureGathersPending` shards waiting.
extension ColonyPeer {
    /// Shards waiting or being gathered for their failures, at most.
    static let failureGathersPending = 64
    /// Seconds at most between two gathers of a shard that keep finding fewer failures than hinted.
    static let failureGatherBackoff = 300.0

    struct FailureGathers {
        /// Shards waiting or being gathered: whether a hint came while it was gathered (it is gathered again), and
        /// the most failures a hint answered by the gather said the shard shows.
        var pending: [ShardRef: (again: Bool, hinted: Int)] = [:]
        /// Shards whose last gathers found fewer failures than hinted, with the count hinted and how many gathers in
        /// a row did. A failure in a unit not decided yet shows only to the shard's custodians (anyone else is given
        /// no reveal of it, `Custodian.publicRecords`), so it is told before a gather can find it: hints of no more
        /// failures than that wait twice as long after each such gather, up to `failureGatherBackoff`.
        var short: [ShardRef: (hinted: Int, times: Int)] = [:]
        /// When each shard was last gathered (bounded: entries older than the interval go).
        var last: [ShardRef: Date] = [:]
        /// Per shard kept here, the failures each custodian of the job's other shards said it knows there.
        var settled: [ShardRef: [Ed25519PublicKey: Int]] = [:]
        /// Hints sent and not answered yet, not sent again meanwhile.
        var sending: Set<FailureHint> = []
        var hintsSent = 0
        var gathered = 0
        /// Test hook: answers every hint as if it could not take it now (a hint lost or refused).
        var refusesHints = false
    }

    struct FailureHint: Hashable {
        var shard: ShardRef
        var to: Ed25519PublicKey
    }

    /// Hints sent, and shards gathered for their failures.
    public var failureGatherCounts: (hintsSent: Int, gathered: Int) { failureGathers.withLock { ($0.hintsSent, $0.gathered) } }

    /// Tells the custodians of the job's other shards about each shard kept here with a failure new since the last
    /// call, off the request's path (called after each request answered: shards are walked for their failures when
    /// their job's state is read, `Custodian.walkFailures`; the sync round tells again, `retellFailures`).
    func tellNewFailures() {
        // Nothing to count unless a walk found a new failure.
        let counts = custody.withLock { custodian -> [ShardRef: Int] in
            let refs = custodian.takeNewFailures()
            guard !refs.isEmpty else { return [:] }
            return custodian.keptFailureCounts().filter { refs.contains($0.key) }
        }
        guard !counts.isEmpty else { return }
        DispatchQueue.global().async { [self] in tellFailures(counts) }
    }

    /// Tells again every custodian of a job's other shards that has not said it knows the failures a shard kept here
    /// shows (a sync round).
    func retellFailures() {
        let counts = custody.withLock { custodian in
            custodian.shareAllFailures()
            return custodian.keptFailureCounts()
        }
        failureGathers.withLock { state in state.settled = state.settled.filter { counts[$0.key] != nil } }
        tellFailures(counts)
    }

    /// Sends `co_failed` for each shard in `counts` (its failures) to each current custodian of the job's other
    /// shards that does not keep it, has not said it knows as many, and has no hint of it on the way.
    private func tellFailures(_ counts: [ShardRef: Int]) {
        guard !withholding else { return }
        for (ref, count) in counts.sorted(by: { $0.key < $1.key }) {
            guard let manifest = manifest(ref.job) else { continue }
            let keepers = Set(members(of: ref).map(\.key))
            var seen: Set<Ed25519PublicKey> = [identity.publicKey]
            var members: [CustodianMember] = []
            for shard in 0..<manifest.shardCount where shard != ref.shard {
                for member in self.members(of: ShardRef(job: ref.job, shard: shard))
                where !keepers.contains(member.key) && seen.insert(member.key).inserted {
                    members.append(member)
                }
            }
            let reachable = members.filter { mayTry($0.key) }
            let unsettled = failureGathers.withLock { state in
                reachable.filter { member in
                    let hint = FailureHint(shard: ref, to: member.key)
                    guard (state.settled[ref]?[member.key] ?? 0) < count, state.sending.insert(hint).inserted else { return false }
                    state.hintsSent += 1
                    return true
                }
            }
            guard !unsettled.isEmpty else { continue }
            let frame = CustodyWire.frame(
                "co_failed", jobFields(ref.job) + [("shard", .integer(Int64(ref.shard))), ("failures", .integer(Int64(count)))])
            for member in unsettled {
                forwardQueue(to: member.key).async { [self] in
                    var settled = false
                    defer {
                        failureGathers.withLock { state in
                            state.sending.remove(FailureHint(shard: ref, to: member.key))
                            if settled { state.settled[ref, default: [:]][member.key] = max(count, state.settled[ref]?[member.key] ?? 0) }
                        }
                    }
                    guard mayTry(member.key) else { return }
                    do throws(ColonyRequestError) {
                        let reply = try request(frame, to: member.endpoint, timeout: 10)
                        settled = CustodyWire.int(reply, "settled") == 1
                        noteReachable(member.key)
                    } catch {
                        if error.refusal == nil { noteUnreachable(member.key, member: member, error) }
                    }
                }
            }
        }
    }

    /// Answers `co_failed` for `shard` of `job`, which shows `failures` failed checks by the sender's count (nil:
    /// not said). Gathers the shard when this peer keeps another shard of its job and not that one, and knows fewer
    /// failures there. `gathering`: a gather will answer the hint; `settled`: the sender need not tell this peer
    /// again until it has more (this peer knows as many, keeps the shard, or the hint names no shard of an adaptive
    /// job it knows).
    func takeFailureHint(job: JobID, shard: Int, failures: Int?) -> (gathering: Bool, settled: Bool) {
        let ref = ShardRef(job: job, shard: shard)
        if failureGathers.withLock({ $0.refusesHints }) { return (false, false) }
        enum Standing { case unknown, settled, gather(JobManifest) }
        let standing = custody.withLock { custodian -> Standing in
            guard let manifest = custodian.manifests[job] else { return .unknown }
            guard manifest.policy.isAdaptive, (0..<manifest.shardCount).contains(shard), custodian.ledgers[ref] == nil else { return .settled }
            guard custodian.ledgers.keys.contains(where: { $0.job == job }) else { return .unknown }
            if let failures, let known = custodian.knownFailureCount(ref), known >= failures { return .settled }
            return .gather(manifest)
        }
        if case .settled = standing { return (false, true) }
        guard case .gather(let manifest) = standing else { return (false, false) }
        let hinted = failures ?? 0
        // Whether a gather will answer the hint, and the delay before one to start now (nil when one is waiting
        // or running already, or none may).
        let (gathering, delay) = failureGathers.withLock { state -> (Bool, Double?) in
            if let pending = state.pending[ref] {
                state.pending[ref] = (true, max(pending.hinted, hinted))
                return (true, nil)
            }
            guard state.pending.count < Self.failureGathersPending else { return (false, nil) }
            state.pending[ref] = (false, hinted)
            let now = Date()
            if state.last.count >= 4 * Self.failureGathersPending {
                state.last = state.last.filter { now.timeIntervalSince($0.value) < Self.failureGatherBackoff }
            }
            return (true, max(0, (state.last[ref] ?? .distantPast).timeIntervalSince(now) + gatherInterval(ref, hinted: hinted, state)))
        }
        if let delay { priorQueue.asyncAfter(deadline: .now() + delay) { [self] in gatherForFailures(ref, manifest) } }
        return (gathering, false)
    }

    /// Seconds at least between the last gather of `ref` and one for a hint of `hinted` failures.
    private func gatherInterval(_ ref: ShardRef, hinted: Int, _ state: FailureGathers) -> Double {
        let interval = configuration.failureGatherInterval
        guard let short = state.short[ref], hinted <= short.hinted else { return interval }
        return max(interval, min(Self.failureGatherBackoff, interval * Double(1 << min(short.times, 16))))
    }

    /// Gathers `ref` from its custodians and counts its failures in the shards of its job kept here; once more when
    /// hints came meanwhile.
    private func gatherForFailures(_ ref: ShardRef, _ manifest: JobManifest) {
        failureGathers.withLock { $0.last[ref] = Date() }
        let ledger = JobCollector.gather(
            manifest, shard: ref.shard, via: self, registry: configuration.registry, timeout: 5, attempts: 1, now: CustodyClock.now())
        let failures = ledger.ownFailures()
        adoptFailures(ref, failures)
        let found = ShardLedger.failureCount(failures)
        log("custody of \(ref.job.hex.prefix(12)): gathered shard \(ref.shard) for its failed checks: \(found) by \(failures.count) workers")
        let again = failureGathers.withLock { state -> Double? in
            state.gathered += 1
            let pending = state.pending[ref] ?? (false, 0)
            if found >= pending.hinted {
                state.short[ref] = nil
            } else {
                if state.short.count >= 4 * Self.failureGathersPending { state.short.removeAll() }
                let times = state.short[ref].map { $0.hinted >= pending.hinted ? $0.times + 1 : 1 } ?? 1
                state.short[ref] = (max(pending.hinted, state.short[ref]?.hinted ?? 0), times)
            }
            guard pending.again else {
                state.pending[ref] = nil
                return nil
            }
            state.pending[ref] = (false, pending.hinted)
            return gatherInterval(ref, hinted: pending.hinted, state)
        }
        onCustodyChange?()
        if let again { priorQueue.asyncAfter(deadline: .now() + again) { [self] in gatherForFailures(ref, manifest) } }
    }

    /// Counts `failures`, found in `ref` (a shard of a job kept here that this peer does not keep), in the job's
    /// shards kept here, and writes the job's gathered failures to the journal.
    func adoptFailures(_ ref: ShardRef, _ failures: [Ed25519PublicKey: [Int64]]) {
        do {
            // The job's gathered failures, read and written in one step: two gathers of its shards finishing at once
            // do not write each other's out.
            try journal.rememberFailures(of: ref.job) {
                custody.withLock { custodian -> [Int: [Ed25519PublicKey: [Int64]]]? in
                    guard custodian.adoptJobFailures(ref, failures, now: CustodyClock.now()) else { return nil }
                    return Dictionary(
                        uniqueKeysWithValues: custodian.jobShards.filter { $0.key.job == ref.job }.map { ($0.key.shard, $0.value.failures) })
                }
            }
        } catch {
            log("custody journal: \(error)")
        }
    }
}
