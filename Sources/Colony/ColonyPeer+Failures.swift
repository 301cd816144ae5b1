import ColonyCore
import ColonyNet
import ColonyWork
import Foundation

/// Failed checks across a job's shards (issue 14, Sleeper). A worker's failed check in one shard voids what it ran
/// alone in the job's other shards (`ShardLedger.foreignFailures`). A custodian counts the failures of the shards it
/// keeps; the custodians of a shard are the three closest nodes to its key, so the custodians of another shard of
/// the same job seldom keep this one. A custodian that finds a new failure in a shard it keeps says so (`co_failed`,
/// naming the shard, nothing more) to the custodians of the job's other shards; each that keeps a shard of the job
/// and not that one gathers it from its custodians, every record checked as `colony results` checks it, and counts
/// the failures it shows there (`Custodian.adoptJobShard`). The message is a hint, not evidence: a false one costs a
/// gather, at most one per shard every `Configuration.failureGatherInterval` (hints meanwhile are answered by one
/// gather when the time is up), and at most `failureGathersPending` shards waiting.
extension ColonyPeer {
    /// Shards waiting or being gathered for their failures, at most.
    static let failureGathersPending = 64

    struct FailureGathers {
        /// Shards waiting or being gathered; true when a hint came while it was gathered (it is gathered again).
        var pending: [ShardRef: Bool] = [:]
        /// When each shard was last gathered (bounded: entries older than the interval go).
        var last: [ShardRef: Date] = [:]
        var hintsSent = 0
        var gathered = 0
    }

    /// Hints sent, and shards gathered for their failures.
    public var failureGatherCounts: (hintsSent: Int, gathered: Int) { failureGathers.withLock { ($0.hintsSent, $0.gathered) } }

    /// Tells the custodians of the job's other shards about each shard kept here with a failure new since the last
    /// call, off the request's path (called after records were added).
    func tellNewFailures() {
        let refs = custody.withLock { $0.takeNewFailures() }
        guard !refs.isEmpty, !withholding else { return }
        DispatchQueue.global().async { [self] in
            for ref in refs.sorted() {
                guard let manifest = manifest(ref.job) else { continue }
                let keepers = Set(members(of: ref).map(\.key))
                var told: Set<Ed25519PublicKey> = [identity.publicKey]
                var members: [CustodianMember] = []
                for shard in 0..<manifest.shardCount where shard != ref.shard {
                    for member in self.members(of: ShardRef(job: ref.job, shard: shard))
                    where !keepers.contains(member.key) && told.insert(member.key).inserted {
                        members.append(member)
                    }
                }
                let frame = CustodyWire.frame("co_failed", jobFields(ref.job) + [("shard", .integer(Int64(ref.shard)))])
                for member in members where mayTry(member.key) {
                    failureGathers.withLock { $0.hintsSent += 1 }
                    forwardQueue(to: member.key).async { [self] in
                        guard mayTry(member.key) else { return }
                        do throws(ColonyRequestError) {
                            _ = try request(frame, to: member.endpoint, timeout: 10)
                            noteReachable(member.key)
                        } catch {
                            if error.refusal == nil { noteUnreachable(member.key, member: member, error) }
                        }
                    }
                }
            }
        }
    }

    /// Answers `co_failed`: gathers the shard named when this peer keeps another shard of its job and not that one.
    /// Returns whether it will.
    func takeFailureHint(job: JobID, shard: Int) -> Bool {
        let ref = ShardRef(job: job, shard: shard)
        let manifest = custody.withLock { custodian -> JobManifest? in
            guard let manifest = custodian.manifests[job], manifest.policy.isAdaptive, (0..<manifest.shardCount).contains(shard),
                custodian.ledgers[ref] == nil, custodian.ledgers.keys.contains(where: { $0.job == job })
            else { return nil }
            return manifest
        }
        guard let manifest else { return false }
        let interval = configuration.failureGatherInterval
        // Whether a gather will answer the hint, and the delay before one to start now (nil when one is waiting
        // or running already, or none may).
        let (gathering, delay) = failureGathers.withLock { state -> (Bool, Double?) in
            if state.pending[ref] != nil {
                state.pending[ref] = true
                return (true, nil)
            }
            guard state.pending.count < Self.failureGathersPending else { return (false, nil) }
            state.pending[ref] = false
            let now = Date()
            if state.last.count >= 4 * Self.failureGathersPending { state.last = state.last.filter { now.timeIntervalSince($0.value) < interval } }
            return (true, max(0, (state.last[ref] ?? .distantPast).timeIntervalSince(now) + interval))
        }
        if let delay { priorQueue.asyncAfter(deadline: .now() + delay) { [self] in gatherForFailures(ref, manifest) } }
        return gathering
    }

    /// Gathers `ref` from its custodians and counts its failures in the shards of its job kept here; once more after
    /// `failureGatherInterval` when hints came meanwhile.
    private func gatherForFailures(_ ref: ShardRef, _ manifest: JobManifest) {
        failureGathers.withLock { $0.last[ref] = Date() }
        let ledger = JobCollector.gather(
            manifest, shard: ref.shard, via: self, registry: configuration.registry, timeout: 5, attempts: 1, now: CustodyClock.now())
        let found = ledger.ownFailures().count
        custody.withLock { $0.adoptJobShard(ledger, now: CustodyClock.now()) }
        log("custody of \(ref.job.hex.prefix(12)): gathered shard \(ref.shard) for its failed checks: \(found) workers failed there")
        let again = failureGathers.withLock { state -> Bool in
            state.gathered += 1
            if state.pending[ref] == true {
                state.pending[ref] = false
                return true
            }
            state.pending[ref] = nil
            return false
        }
        onCustodyChange?()
        if again {
            priorQueue.asyncAfter(deadline: .now() + configuration.failureGatherInterval) { [self] in gatherForFailures(ref, manifest) }
        }
    }
}
