import ColonyBlobs
import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Synchronization

/// What the records of a job say, re-verified from scratch: every record's signature, every unit's quorum.
public struct JobReport: Sendable {
    public var job: JobID
    public var manifest: JobManifest
    public var verdicts: [UnitVerdict]
    /// Records read and kept (their signatures verified).
    public var records: Int
    /// Records dropped because their signature did not verify.
    public var badSignatures: Int { refused["bad signature"] ?? 0 }
    /// Records and set changes dropped, by the rule they broke (a signature, the authority chain, a lease…).
    public var refused: [String: Int]
    /// Shards no custodian answered for.
    public var unreachableShards: [Int]
    /// Shards of other jobs, cited by leases for a worker's prior standing, that could not be gathered (no
    /// manifest found, or no custodian answered): those leases counted no prior here, so units run alone under them
    /// show as open. Asking again later may find them.
    public var unreachablePriorShards: [ShardRef] = []
    /// Each worker's facts in this job, derived from the re-verified records (`ShardLedger.evidence`), when
    /// `collect` was asked for them (`withEvidence`: blob inputs are fetched to weigh each unit's work).
    public var evidence: [Ed25519PublicKey: [EvidenceFact]] = [:]

    /// Units by state, attempts and invalid results.
    public var tally: VerdictTally { VerdictTally(verdicts) }
    public var validated: Int { tally.validated }
    public var failed: Int { tally.failed }
    public var inProgress: Int { tally.inProgress }
    public var waiting: Int { tally.units - tally.validated - tally.failed - tally.inProgress }
    public var attempts: Int { tally.attempts }
    /// Results that did not count (disagreed with the quorum, or did not match their seal).
    public var invalid: Int { tally.invalid }
    public var complete: Bool { tally.decided == tally.units }
}

/// Gathers a job's records from its custodians and recomputes every verdict (DESIGN.md: "The publisher (or
/// anyone) collects the records, re-verifies signatures and quorum, fetches the validated outputs, checks their
/// digests"). Every record passes the same checks a custodian makes (`ShardLedger.admit`): signatures, the
/// authority chain from the publisher's manifest, leases, seals and bounds.
public enum JobCollector {
    /// Collects and re-verifies `job` through `peer`. `root` or the job's announcement finds the manifest.
    /// Custodians are asked at once, each for up to `timeout` seconds: one that is cut off costs a refresh that
    /// long, not one wait per custodian (`status --watch` printed nothing for half a minute: issue 12). One that did
    /// not answer is asked again, up to `attempts` times in all; a refresh loop, which asks again anyway, asks once.
    public static func collect(
        _ job: JobID, root: BlobID? = nil, via peer: ColonyPeer, registry: KernelRegistry, timeout: Double = 10,
        attempts: Int = 2, withEvidence: Bool = false, progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> JobReport {
        let now = CustodyClock.now()
        let gathered = try gather(
            job, root: root, via: peer, registry: registry, timeout: timeout, attempts: attempts, now: now, progress: progress)
        let manifest = gathered.manifest
        // A unit's input, for the kernel's `work`: inline in the manifest, or fetched (and checked) from its blob.
        func input(_ unit: Int) -> Data? {
            guard manifest.units.indices.contains(unit) else { return nil }
            switch manifest.units[unit] {
            case .inline(let bytes): return Data(bytes)
            case .blob(let root, let size): return try? peer.fetchInput(root: root, size: size)
            }
        }
        let equivalent = registry.outputEquivalence(manifest.kernel)
        var verdicts: [UnitVerdict] = []
        var evidence: [Ed25519PublicKey: [EvidenceFact]] = [:]
        let kernel = registry.kernel(named: manifest.kernel)
        // Leases that claim a standing earned elsewhere are counted again in the shards they cite.
        let priors = PriorVerifier(job: gathered, peer: peer, registry: registry, timeout: timeout, now: now)
        var ledgers = gathered.ledgers
        if manifest.policy.isAdaptive {
            for shard in ledgers.indices {
                ledgers[shard].priorCheck = { worker, time, shards in priors.count(of: worker, at: time, in: shards, excludingShard: shard) }
            }
            // A failed check in any shard counts in every other (`ShardLedger.foreignFailures`), each shard's by
            // its own records.
            ShardLedger.shareFailures(among: &ledgers)
        }
        for ledger in ledgers {
            let shardVerdicts = ledger.verdicts(now: now, equivalent: equivalent)
            verdicts += shardVerdicts
            if withEvidence {
                let workUnit = kernel.map { type(of: $0).workUnit } ?? "units"
                let work = { (unit: Int, output: Data) -> Double in
                    guard let kernel, let input = input(unit) else { return kernel == nil ? 1 : 0 }
                    return kernel.work(input: input, output: output)
                }
                for (worker, facts) in ledger.evidence(
                    now: now, equivalent: equivalent, work: work, workUnit: workUnit, verdicts: shardVerdicts)
                {
                    evidence[worker, default: []] += facts
                }
            }
        }
        return JobReport(
            job: job, manifest: manifest, verdicts: verdicts, records: gathered.kept, refused: gathered.refused,
            unreachableShards: gathered.unreachable, unreachablePriorShards: priors.unreachable.withLock { $0.sorted() },
            evidence: evidence)
    }

    /// A job's shards as its custodians' records rebuild them, every record admitted by the custodians' rules.
    struct Gathered: Sendable {
        var manifest: JobManifest
        var ledgers: [ShardLedger]
        var kept = 0
        var refused: [String: Int] = [:]
        var unreachable: [Int] = []
    }

    static func gather(
        _ job: JobID, root: BlobID? = nil, via peer: ColonyPeer, registry: KernelRegistry, timeout: Double, attempts: Int = 2,
        now: Int64, progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> Gathered {
        let manifest = try peer.fetchManifest(job, root: root, hint: [])
        return gather(manifest, root: root, via: peer, registry: registry, timeout: timeout, attempts: attempts, now: now, progress: progress)
    }

    /// The records of the job `manifest` describes, from its custodians (a manifest read, not kept, by `peer`: a job
    /// cited for a worker's prior standing). The shards in `skipping` are not asked for: their ledgers are left
    /// without records.
    static func gather(
        _ manifest: JobManifest, root: BlobID?, via peer: ColonyPeer, registry: KernelRegistry, timeout: Double, attempts: Int = 2,
        now: Int64, skipping: Set<Int> = [], progress: (Int, Int) -> Void = { _, _ in }
    ) -> Gathered {
        let job = manifest.id
        let equivalent = registry.outputEquivalence(manifest.kernel)
        let check = registry.outputCheck(manifest.kernel)
        var fields = peer.jobFields(job)
        if let root, !fields.contains(where: { $0.0 == "root" }) { fields.append(("root", .bytes(root.root.bytes))) }
        var gathered = Gathered(manifest: manifest, ledgers: [])
        for shard in 0..<manifest.shardCount {
            if skipping.contains(shard) {
                gathered.ledgers.append(ShardLedger(manifest: manifest, shard: shard, equivalence: equivalent, verify: check))
                continue
            }
            gathered.ledgers.append(
                gather(
                    manifest, shard: shard, fields: fields, via: peer, equivalent: equivalent, check: check, timeout: timeout,
                    attempts: attempts, now: now, into: &gathered))
            progress(shard + 1, manifest.shardCount)
        }
        return gathered
    }

    /// The records of one shard of the job `manifest` describes, from its custodians: a shard of a job kept here
    /// that this peer does not keep, gathered for the failed checks it shows (`ColonyPeer+Failures.swift`).
    static func gather(
        _ manifest: JobManifest, shard: Int, via peer: ColonyPeer, registry: KernelRegistry, timeout: Double, attempts: Int, now: Int64
    ) -> ShardLedger {
        var gathered = Gathered(manifest: manifest, ledgers: [])
        return gather(
            manifest, shard: shard, fields: peer.jobFields(manifest.id), via: peer,
            equivalent: registry.outputEquivalence(manifest.kernel), check: registry.outputCheck(manifest.kernel), timeout: timeout,
            attempts: attempts, now: now, into: &gathered)
    }

    /// One shard's records, from every custodian of every epoch, counted into `gathered` (kept, refused,
    /// unreachable).
    private static func gather(
        _ manifest: JobManifest, shard: Int, fields: [(String, BencodeValue)], via peer: ColonyPeer,
        equivalent: @escaping @Sendable ([UInt8], [UInt8]) -> Bool, check: (@Sendable (Data, Data, UInt64) -> Bool?)?, timeout: Double,
        attempts: Int, now: Int64, into gathered: inout Gathered
    ) -> ShardLedger {
        var ledger = ShardLedger(manifest: manifest, shard: shard, equivalence: equivalent, verify: check)
        var asked: Set<Ed25519PublicKey> = []
        var answered = false
        // Every custodian of every epoch is asked: a set change read from one names the custodians to ask next.
        // Each round asks those not asked yet, all at once; their answers are admitted in set order.
        while true {
            var round: [CustodianMember] = []
            for member in ledger.authority.sets.joined() where !asked.contains(member.key) && round.count < 32 {
                asked.insert(member.key)
                round.append(member)
            }
            guard !round.isEmpty, asked.count <= 256 else { break }
            let frame = CustodyWire.frame("co_records", fields + [("shard", .integer(Int64(shard)))])
            for items in ask(round, frame, via: peer, timeout: timeout, attempts: attempts) {
                answered = true
                for change in items.changes.sorted(by: { $0.epoch < $1.epoch }) {
                    do {
                        try ledger.admit(change)
                    } catch {
                        gathered.refused[error.reason, default: 0] += 1
                    }
                }
                for record in CustodyRecord.inAdmissionOrder(items.records) {
                    do {
                        if try ledger.admit(record, id: record.id, now: now, submitted: false, equivalent: equivalent) { gathered.kept += 1 }
                    } catch {
                        gathered.refused[error.reason, default: 0] += 1
                    }
                }
            }
        }
        if !answered { gathered.unreachable.append(shard) }
        return ledger
    }

    /// Asks every member of `round` for `frame` at once, and those that did not answer again after a moment, up to
    /// `attempts` times in all: a reply lost to a busy custodian would leave the collection short of the records
    /// only it serves (a corrupt custodian withholds its own, so the honest ones' matter). The items come back in
    /// the round's order.
    static func ask(
        _ round: [CustodianMember], _ frame: Frame, via peer: ColonyPeer, timeout: Double, attempts: Int
    ) -> [(records: [CustodyRecord], changes: [CustodySetChange])] {
        let replies = Mutex<[Int: (records: [CustodyRecord], changes: [CustodySetChange])]>([:])
        var pending = Array(round.indices)
        for attempt in 0..<max(1, attempts) where !pending.isEmpty {
            if attempt > 0 { Thread.sleep(forTimeInterval: retryPause) }
            let indices = pending
            DispatchQueue.concurrentPerform(iterations: indices.count) { position in
                let index = indices[position]
                guard let reply = try? peer.request(frame, to: round[index].endpoint, timeout: timeout),
                    let items = try? CustodyWire.items(reply)
                else { return }
                replies.withLock { $0[index] = items }
            }
            let answered = replies.withLock { Set($0.keys) }
            pending = pending.filter { !answered.contains($0) }
        }
        return replies.withLock { $0 }.sorted { $0.key < $1.key }.map(\.value)
    }

    /// The pause before asking a custodian that did not answer again. A sleep is right here: `collect` is a blocking
    /// call of commands and tests, on no event loop, and there is no event to await; a custodian that dropped a reply
    /// under load would likely drop one asked again at once.
    static let retryPause = 0.5

    /// Counts a lease's prior standing again from the records of the shards it cites (`ShardLedger.priorCheck`):
    /// shards of the job being collected, and of other jobs of the same kernel and publisher, each job gathered once
    /// (at most `jobLimit`). A shard that cannot be gathered, or of another kernel or publisher, counts nothing:
    /// anyone can publish a job of a kernel, with custodians and workers of its own, whose records show any pass.
    final class PriorVerifier: Sendable {
        let job: Gathered
        let peer: ColonyPeer
        let registry: KernelRegistry
        let timeout: Double
        let now: Int64
        /// Each cited job gathered: its shards (none when of another kernel or publisher), and those that could not
        /// be gathered (every cited one when its manifest was not found).
        let others = Mutex<[JobID: (ledgers: [ShardLedger], unreachable: Set<Int>?)]>([:])
        /// Cited shards that could not be gathered (`JobReport.unreachablePriorShards`).
        let unreachable = Mutex<Set<ShardRef>>([])
        static let jobLimit = 32
        /// Each cited shard's checks of a worker, built once: the walk of a shard asks for every lease that claims a
        /// prior, and each ask built them again from the cited shard's facts (half the walks' time of the observers
        /// re-verifying a trusted job of 4,000 units). The gathered shards do not change, so neither do they.
        private let checksBuilt = Remembered<WorkerInShard, [CheckFact]>()
        private struct WorkerInShard: Hashable, Sendable {
            var shard: ShardRef
            var worker: Ed25519PublicKey
        }

        init(job: Gathered, peer: ColonyPeer, registry: KernelRegistry, timeout: Double, now: Int64) {
            (self.job, self.peer, self.registry, self.timeout, self.now) = (job, peer, registry, timeout, now)
        }

        func count(of worker: Ed25519PublicKey, at time: Int64, in shards: [ShardRef], excludingShard shard: Int) -> Int {
            var checks: [CheckFact] = []
            for cited in Set(shards) {
                let ledgers: [ShardLedger]
                if cited.job == job.manifest.id {
                    ledgers = cited.shard == shard ? [] : job.ledgers
                } else {
                    let other = self.ledgers(of: cited.job)
                    if other.unreachable?.contains(cited.shard) ?? true { unreachable.withLock { _ = $0.insert(cited) } }
                    ledgers = other.ledgers
                }
                guard ledgers.indices.contains(cited.shard) else { continue }
                checks += checksBuilt.value(WorkerInShard(shard: cited, worker: worker)) { ledgers[cited.shard].checks(of: worker) }
            }
            return ShardLedger.recountedPrior(checks, at: time)
        }

        func ledgers(of cited: JobID) -> (ledgers: [ShardLedger], unreachable: Set<Int>?) {
            if let known = others.withLock({ $0[cited] }) { return known }
            // Past the limit a cited job is not gathered: its shards count nothing, and are reported.
            guard others.withLock({ $0.count }) < Self.jobLimit else { return ([], nil) }
            var found: (ledgers: [ShardLedger], unreachable: Set<Int>?) = ([], [])
            // Read, not kept, and gathered only when of the same kernel and publisher.
            do throws(CustodyError) {
                let manifest = try peer.fetchManifest(cited, root: nil, hint: [], keeping: false)
                if manifest.trustDomain == job.manifest.trustDomain {
                    let gathered = JobCollector.gather(manifest, root: nil, via: peer, registry: registry, timeout: timeout, now: now)
                    found = (gathered.ledgers, Set(gathered.unreachable))
                }
            } catch {
                found = ([], nil)
            }
            others.withLock { $0[cited] = found }
            return found
        }
    }

    /// Lets the kernel assemble the validated outputs into `directory`. Every unit must be validated.
    public static func assemble(_ report: JobReport, registry: KernelRegistry, into directory: URL) throws -> KernelSummary {
        guard let kernel = registry.kernel(named: report.manifest.kernel) else {
            throw CustodyError("unknown kernel", "\(report.manifest.kernel) is not compiled into this program")
        }
        var outputs: [Data] = []
        for verdict in report.verdicts {
            guard verdict.state == .validated, let output = verdict.output else {
                throw CustodyError("incomplete", "unit \(verdict.unit) is \(verdict.state.rawValue), not validated")
            }
            outputs.append(Data(output))
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try kernel.assemble(outputs, parameters: try report.manifest.kernelParameters(), into: directory)
    }
}
