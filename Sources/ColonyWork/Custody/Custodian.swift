import ColonyCore
import Foundation

/// A shard of a job.
public struct ShardRef: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var job: JobID
    public var shard: Int
    public init(job: JobID, shard: Int) {
        self.job = job
        self.shard = shard
    }
    public static func < (a: ShardRef, b: ShardRef) -> Bool { a.job != b.job ? a.job < b.job : a.shard < b.shard }
    public var description: String { "\(job.hex.prefix(12))/\(shard)" }
}

/// The custody logic of one peer, free of I/O (DESIGN.md, Custody): the manifests it knows, the record sets of
/// the shards it keeps, lease decisions, and the admission checks of `ShardLedger` that every record passes,
/// from a worker or from another custodian, before it changes state. Refusals are counted by reason.
public struct Custodian: Sendable {
    /// Signs leases, set changes and the error records that void a lease.
    public let identity: Identity
    public private(set) var manifests: [JobID: JobManifest] = [:]
    public private(set) var ledgers: [ShardRef: ShardLedger] = [:]
    /// Refusals by reason ("bad signature", "unknown job", "no lease", …).
    public private(set) var rejected: [String: Int] = [:]
    /// Records accepted, by kind.
    public private(set) var accepted: [String: Int] = [:]
    /// Error records this custodian signed while refusing a record (a reveal that did not match its seal), not
    /// yet taken by `takeEvidence` to be stored and sent to the other custodians.
    public private(set) var evidence: [CustodyRecord] = []
    /// Whether leases take a random part of the units open to the worker (so that no worker chooses its units);
    /// false takes the first ones, for tests that follow particular units.
    public var randomUnits = true
    /// How outputs of a kernel are compared; units of kernels not listed compare by digest only.
    public var equivalence: [String: @Sendable ([UInt8], [UInt8]) -> Bool] = [:]
    /// The cheap check of each kernel's outputs (`ComputeKernel.verify`, input, output, seed), run on results
    /// accepted alone (`ShardLedger.refuted`); kernels not listed are not checked.
    public var checks: [String: @Sendable (Data, Data, UInt64) -> Bool?] = [:]
    /// IDs of records refused per shard, so that anti-entropy does not ask for them again (bounded).
    private var refusedIDs: [ShardRef: [SHA256Digest: String]] = [:]
    /// The epoch of each shard whose set change this custodian signed: it signs one change per epoch.
    /// Per shard, the last set change this custodian signed (it signs one change per epoch, and that one again).
    private var signedChanges: [ShardRef: CustodySetChange] = [:]
    /// Per shard of an adaptive job, the trusted workers that asked this custodian for its units, each with when
    /// it last asked and its network: the pairing rule keeps a unit for one that could partner it from its first
    /// request, not only once it holds a lease in the shard (`ShardLedger.pairing`).
    private var trustedAskers: [ShardRef: [Who: (time: Int64, network: Who)]] = [:]
    /// Shards of other jobs this peer does not keep, gathered from their custodians (every record checked as a
    /// re-verifier checks it) to count the prior standing of workers whose evidence it looked up
    /// (`adoptPriorShards`), with their job's trust domain and when they were gathered.
    public private(set) var priorShards: [ShardRef: (domain: JobManifest.TrustDomain, ledger: ShardLedger, gathered: Int64)] = [:]

    /// Gathered shards kept for prior standings; past this the least recently gathered go.
    public static let priorShardLimit = 64

    /// Refused IDs remembered per shard.
    static let refusedLimit = 4096

    /// Reasons a merged record is refused for now, not for good (`merge`): it lacks a record that may still come, or
    /// its time is ahead of this custodian's clock.
    static let refusedForNow: Set<String> = ["no lease", "reveal without commit", "unknown epoch", "draw without seal", "lease expired", "clock"]

    public init(identity: Identity) {
        self.identity = identity
    }

    /// Jobs kept here and about the bytes their manifests hold in memory (`JobManifest.heldBytes`), apart for those
    /// whose manifest names this custodian (`named`) and the others (learned for a worker, or joined by a set change).
    public private(set) var held: [Bool: (jobs: Int, bytes: Int)] = [:]

    /// About the bytes the manifests kept here hold in memory, of both kinds.
    public var manifestBytes: Int { held.values.reduce(0) { $0 + $1.bytes } }

    /// Learns a job whose manifest the caller has checked.
    public mutating func add(_ manifest: JobManifest) {
        guard manifests.updateValue(manifest, forKey: manifest.id) == nil else { return }
        let named = Self.names(manifest, identity.publicKey)
        let before = held[named] ?? (0, 0)
        held[named] = (before.jobs + 1, before.bytes + manifest.heldBytes)
    }

    /// Shards kept here found with no open unit when a worker asked for units (`noteFinished`).
    public private(set) var finishedShards: Set<ShardRef> = []

    /// Notes that a shard kept here has no open unit: every unit is validated or failed.
    public mutating func noteFinished(_ ref: ShardRef) {
        guard ledgers[ref] != nil else { return }
        finishedShards.insert(ref)
        reopenedShards.remove(ref)
    }

    /// Whether workers may still find work in `job` here: it is known here, and not every shard of it this peer
    /// keeps is finished (a job it keeps no shard of is the worker's to judge).
    public func hasWorkLeft(_ job: JobID) -> Bool {
        guard let manifest = manifests[job] else { return false }
        var keepsAny = false
        for shard in 0..<manifest.shardCount where ledgers[ShardRef(job: job, shard: shard)] != nil {
            if !finishedShards.contains(ShardRef(job: job, shard: shard)) { return true }
            keepsAny = true
        }
        return !keepsAny
    }

    /// Whether this peer keeps a shard of `job` that failures found in other shards reopened, not found finished
    /// since (`noteFinished`): a worker that let the job go
    /// as finished takes it up again when told so (`co_jobs`), since a failed check in another shard can void what
    /// a shard had validated.
    public func keepsOpenShard(_ job: JobID) -> Bool {
        reopenedShards.contains { $0.job == job }
    }

    /// Shards whose foreign failures changed (`shareFailures`) since they were last found finished.
    public private(set) var reopenedShards: Set<ShardRef> = []

    /// Forgets a job this peer only knew of, and returns its manifest: nil when it is not known here, its manifest
    /// names this custodian, or this custodian keeps a ledger of any of its shards (joined by a set change).
    @discardableResult
    public mutating func forget(_ job: JobID) -> JobManifest? {
        guard let manifest = manifests[job], !Self.names(manifest, identity.publicKey), !ledgers.keys.contains(where: { $0.job == job })
        else { return nil }
        manifests[job] = nil
        let before = held[false] ?? (0, 0)
        held[false] = (max(before.jobs - 1, 0), max(before.bytes - manifest.heldBytes, 0))
        return manifest
    }

    /// Whether `manifest`'s custodians include `key`.
    public static func names(_ manifest: JobManifest, _ key: Ed25519PublicKey) -> Bool { manifest.custody.nodes.contains { $0.key == key } }

    /// Counts a refusal and returns it.
    public mutating func refuse(_ error: CustodyError) -> CustodyError {
        rejected[error.reason, default: 0] += 1
        return error
    }

    private func ledgerKey(_ job: JobID, _ shard: Int) throws(CustodyError) -> (ShardRef, JobManifest) {
        guard let manifest = manifests[job] else { throw CustodyError("unknown job", "no job \(job.hex) here") }
        guard shard >= 0, shard < manifest.shardCount else {
            throw CustodyError("unknown unit", "job \(job.hex.prefix(12)) has \(manifest.shardCount) shards, not shard \(shard)")
        }
        return (ShardRef(job: job, shard: shard), manifest)
    }

    /// The ledger of a shard this peer keeps custody of (a member of its set at some epoch), created empty when
    /// new; refused otherwise, so that nobody can make a peer hold records of shards it does not keep.
    private mutating func custodyLedger(_ job: JobID, _ shard: Int) throws(CustodyError) -> (ShardRef, ShardLedger) {
        let (ref, manifest) = try ledgerKey(job, shard)
        if let ledger = ledgers[ref] { return (ref, ledger) }
        let ledger = ShardLedger(manifest: manifest, shard: shard, equivalence: equivalent(manifest), verify: checks[manifest.kernel])
        guard ledger.authority.wasMember(identity.publicKey) else {
            throw CustodyError("not a custodian", "this peer keeps no custody of shard \(shard) of job \(job.hex.prefix(12))")
        }
        ledgers[ref] = ledger
        return (ref, ledger)
    }

    /// Whether this peer is a custodian of the shard now (in the latest set it knows).
    public func isCustodian(_ ref: ShardRef) -> Bool { authority(ref)?.current.contains { $0.key == identity.publicKey } ?? false }

    /// The shard's authority as known here: the manifest's set and the changes held.
    public func authority(_ ref: ShardRef) -> ShardAuthority? {
        if let ledger = ledgers[ref] { return ledger.authority }
        guard let manifest = manifests[ref.job], ref.shard >= 0, ref.shard < manifest.shardCount else { return nil }
        return manifest.authority(ofShard: ref.shard)
    }

    private func equivalent(_ manifest: JobManifest) -> @Sendable ([UInt8], [UInt8]) -> Bool {
        equivalence[manifest.kernel] ?? { $0 == $1 }
    }

    // MARK: Leases

    /// A lease of the shard that `worker` was granted, by any custodian, but seems never to have received (live,
    /// nothing done under it, none of its units among those the worker says it holds): a worker whose request
    /// timed out after the lease was granted gets it on its next request, from any custodian that knows it.
    public func undeliveredLease(job: JobID, shard: Int, worker: Ed25519PublicKey, holding: Set<Int>, now: Int64) -> CustodyRecord? {
        ledgers[ShardRef(job: job, shard: shard)]?.undeliveredLeases(of: worker, holding: holding, now: now).first
    }

    /// Leases up to `count` open units of the shard to `worker`, seen at IPv4 `address`: never a unit it had
    /// before, never two live leases of one unit from this custodian, never two from one network, never more
    /// than the policy's open slots (`ShardLedger.mayLease`). Nil when the shard has nothing for this worker here.
    /// `holdingFresh`: the worker's standing elsewhere is being looked up (`ColonyPeer.lookUpPrior`); while it is
    /// not trusted here it is leased only units others started, and no fresh one to run as a new key's.
    public mutating func lease(
        job: JobID, shard: Int, worker: Ed25519PublicKey, address: UInt32, count: Int, now: Int64,
        excluding: Set<Int> = [], holdingFresh: Bool = false
    ) throws(CustodyError) -> CustodyRecord? {
        walkFailures(job)
        let ref: ShardRef
        var ledger: ShardLedger
        do throws(CustodyError) {
            (ref, ledger) = try custodyLedger(job, shard)
            guard ledger.authority.current.contains(where: { $0.key == identity.publicKey }) else {
                throw CustodyError("not a custodian", "this peer left the custodians of shard \(shard) (epoch \(ledger.authority.epoch))")
            }
        } catch {
            throw refuse(error)
        }
        // A worker that keeps a result back in any shard of the job kept here is leased nothing more in the job
        // until it reveals it, and is told so whether or not there is anything to lease: each unit it sits on waits
        // two lease periods for others (the peeker, which keeps back every cheat it learns is checked, took one unit
        // after another as a replica: bench adaptive --units 20000 --scenarios peeker, past 17 minutes; refused in
        // that shard alone, it went on in the others).
        for (other, kept) in ledgers where other.job == job {
            guard let unit = kept.keptBack(by: worker, now: now) else { continue }
            throw refuse(
                CustodyError(
                    "keeps a result back",
                    "worker \(worker.hex.prefix(12)) has not revealed unit \(unit) (shard \(other.shard)), which it could for \(ShardLedger.revealGrace / 1000) s"
                ))
        }
        let manifest = manifests[job]!
        let compare = equivalent(manifest)
        let network = manifest.policy.network(ofIPv4: address)
        // Adaptive replication caps the fresh units a worker takes by its standing (`freshUnitLimit`), and a worker
        // not trusted does not partner another while a trusted one could, nor share many units with one
        // (`ShardLedger.pairing`).
        let adaptive = manifest.policy.isAdaptive
        let prior = adaptive ? priorStanding(of: worker, for: ref, now: now) : (count: 0, shards: [])
        let counted = adaptive ? ledger.counted(prior: prior.count, of: worker, at: now) : 0
        let standing = adaptive ? ledger.standing(of: worker, at: now) + counted : 0
        let trusted = standing >= manifest.policy.trustAfter
        if adaptive, trusted {
            // Those that asked more than a lease period ago no longer count (`pairing`): forgotten here.
            let since = now - Int64(manifest.policy.leaseSeconds) * 1000
            var askers = trustedAskers[ref, default: [:]].filter { $0.value.time > since }
            let who = Who(worker)
            askers[who] = (now, Who(network: network, of: who))
            trustedAskers[ref] = askers
        }
        let pairing = adaptive && !trusted
        let askers = pairing ? trustedAskers[ref] ?? [:] : [:]
        // Units the worker says it holds already are left out: another custodian leased them to it, and this one
        // may not know yet.
        let eligible = ledger.units.filter {
            !excluding.contains($0)
                && ledger.mayLease(worker, network: network, unit: $0, by: identity.publicKey, now: now, equivalent: compare)
        }
        guard !eligible.isEmpty else { return nil }
        // The custodian chooses which units, not the worker: a random part of those it may lease. Units with a
        // replica already in flight come first, so that replicas of a unit run at about the same time and their
        // seals meet (spread at random over the shard, a seal waited for its partner until the shard came round:
        // the demo took 4 times longer). A lease is not capped below what the worker asks: capping it at half of
        // the open units cost 3 times the records and halved bench swarm, and colluders who time their requests
        // still got both replicas of many units (SECURITY.md, colluding cheaters).
        let limit = max(1, count)
        var freshLimit = adaptive && !trusted && holdingFresh ? 0 : ledger.freshUnitLimit(for: worker, now: now, standing: standing)
        var pairs = pairing ? ledger.sharedPairs() : [:]
        // A worker not trusted that holds a unit waiting on a verdict already takes no fresh unit here while another
        // custodian may lease it a unit another worker started (`ShardLedger.startedElsewhere`): told none,
        // elsewhere, it asks the next custodian.
        if pairing, freshLimit > 0, freshLimit < manifest.policy.trustAfter - standing,
            ledger.startedElsewhere(
                for: worker, network: network, besides: identity.publicKey, now: now, askers: askers, pairs: pairs, equivalent: compare)
        {
            freshLimit = 0
        }
        var generator = SystemRandomNumberGenerator()
        let candidates: [Int]
        if randomUnits {
            let (started, fresh) = ledger.splitByStart(eligible, now: now)
            candidates = started.shuffled(using: &generator) + fresh.shuffled(using: &generator).prefix(freshLimit)
        } else if freshLimit < eligible.count {
            let (started, fresh) = ledger.splitByStart(eligible, now: now)
            candidates = (started + fresh.prefix(freshLimit)).sorted()
        } else {
            candidates = eligible
        }
        // The pairing rule, unit by unit: units shared with a worker not trusted count from the first of this lease,
        // and one lease never shares more than the cap with one such worker, even when nobody else could partner
        // it yet (two colluders asking first at a shard's start).
        let me = Who(worker)
        var sharedHere: [Who: Int] = [:]
        var picked: [Int] = []
        for unit in candidates where picked.count < limit {
            if pairing {
                guard let holders = ledger.pairing(unit, for: worker, now: now, askers: askers, pairs: pairs),
                    holders.allSatisfy({ sharedHere[$0, default: 0] < ShardLedger.maxSharedUntrusted })
                else { continue }
                for holder in holders {
                    pairs[me, default: [:]][holder, default: 0] += 1
                    pairs[holder, default: [:]][me, default: 0] += 1
                    sharedHere[holder, default: 0] += 1
                }
            }
            picked.append(unit)
        }
        guard !picked.isEmpty else { return nil }
        // The shard has units to lease after all (a unit opened again).
        finishedShards.remove(ref)
        let chosen = picked.sorted().map { CustodyRecord.Entry(unit: $0) }
        // In an adaptive job the lease states the worker's standing when it trusts it: every custodian then
        // leaves the units to run once, whatever its own view of the shard (`ShardLedger`, Adaptive).
        // The part earned elsewhere counts while the worker has failed nothing in this shard.
        let claim = trusted ? standing : 0
        let priorCount = claim > 0 ? counted : 0
        var time = now
        var record: CustodyRecord
        var id: SHA256Digest
        repeat {
            // A lease equal to one given back (same worker, units and millisecond) would share its ID, and so its
            // release: move it on by a millisecond.
            record = CustodyRecord(
                kind: .lease, job: job, shard: shard, worker: worker,
                expires: time + Int64(manifest.policy.leaseSeconds) * 1000, epoch: ledger.authority.epoch,
                network: network, standing: claim, prior: priorCount, priorShards: priorCount > 0 ? prior.shards : [], entries: chosen,
                time: time, signedBy: identity)
            id = record.id
            time += 1
        } while ledger.records[id] != nil
        do {
            try ledger.admit(record, id: id, now: now, submitted: false, equivalent: compare)
        } catch {
            throw refuse(error)
        }
        ledgers[ref] = ledger
        accepted["lease", default: 0] += 1
        return record
    }

    // MARK: Records from workers

    /// Admits a worker's commit, reveal or error record (`ShardLedger.admit`). Every entry must pass, or the
    /// record is refused whole and nothing changes. Returns the records added: the worker's, and for a reveal that
    /// does not match its seal, the custodian's error record that ends that worker's lease (so its slot reopens).
    public mutating func submit(_ record: CustodyRecord, now: Int64) throws(CustodyError) -> [CustodyRecord] {
        let ref: ShardRef
        var ledger: ShardLedger
        let compare: ([UInt8], [UInt8]) -> Bool
        do {
            (ref, ledger) = try custodyLedger(record.job, record.shard)
            compare = equivalent(manifests[record.job]!)
        } catch {
            throw refuse(error)
        }
        do {
            guard try ledger.admit(record, id: record.id, now: now, submitted: true, equivalent: compare) else { return [] }
            var added = [record]
            if record.kind == .commit, let draw = draw(on: record, in: ledger, now: now),
                (try? ledger.admit(draw, id: draw.id, now: now, submitted: false, equivalent: compare)) == true
            {
                added.append(draw)
                accepted["draw", default: 0] += 1
            }
            ledgers[ref] = ledger
            accepted[record.kind.rawValue, default: 0] += 1
            noteUnwalked(record.job, [record.shard])
            return added
        } catch {
            if error.reason == "reveal does not match its commit", record.author == record.worker {
                // Evidence and a freed slot: the custodian ends the lease of a worker whose reveal was not what
                // it sealed (a copied or invented result).
                let void = CustodyRecord(
                    kind: .error, job: record.job, shard: record.shard, worker: record.author,
                    entries: record.entries.map { CustodyRecord.Entry(unit: $0.unit, data: Array(error.reason.utf8)) },
                    time: now, signedBy: identity)
                if (try? ledger.admit(void, id: void.id, now: now, submitted: false, equivalent: compare)) == true {
                    ledgers[ref] = ledger
                    evidence.append(void)
                }
            }
            throw refuse(error)
        }
    }

    /// `worker`'s prior standing for a lease in `ref`: its passed checks since its latest failure in the other
    /// shards this custodian keeps or gathered (`adoptPriorShards`) of jobs of the same kernel and publisher (this
    /// job's included: anyone can publish a job, with custodians and workers of its own), counted over the
    /// `CustodyRecord.maxPriorShards` shards where it was most recently leased, which the lease cites. Trust
    /// follows a worker across shards and jobs, as BOINC's counter follows a host across work units; a re-verifier
    /// gathers those shards and counts again (`ShardLedger.priorCheck`).
    func priorStanding(of worker: Ed25519PublicKey, for ref: ShardRef, now: Int64) -> (count: Int, shards: [ShardRef]) {
        guard let domain = manifests[ref.job]?.trustDomain else { return (0, []) }
        var byShard: [(ref: ShardRef, checks: [CheckFact], latest: Int64)] = []
        let kept = ledgers.lazy.filter { other, _ in other != ref && self.manifests[other.job]?.trustDomain == domain }.map { ($0.key, $0.value) }
        let gathered = priorShards.lazy.filter { other, shard in other.job != ref.job && shard.domain == domain && self.ledgers[other] == nil }
            .map { ($0.key, $0.value.ledger) }
        for (other, ledger) in Array(kept) + Array(gathered) {
            let checks = ledger.checks(of: worker)
            if let latest = checks.map(\.time).max() { byShard.append((other, checks, latest)) }
        }
        let cited = byShard.sorted { $0.latest != $1.latest ? $0.latest > $1.latest : $0.ref < $1.ref }.prefix(CustodyRecord.maxPriorShards)
        let count = ShardLedger.priorStanding(cited.flatMap(\.checks), at: now)
        return (count, count > 0 ? cited.map(\.ref).sorted() : [])
    }

    /// Keeps `shards` of the job `manifest`, gathered from their custodians at `now`, for the prior standing of the
    /// workers in them (`priorStanding`): trust a worker earned in shards this peer does not keep, found through its
    /// evidence key (issue 14, Evidence). Shards kept here are left alone.
    public mutating func adoptPriorShards(_ shards: [ShardLedger], of manifest: JobManifest, now: Int64) {
        for ledger in shards where ledger.job == manifest.id {
            let ref = ShardRef(job: ledger.job, shard: ledger.shard)
            guard ledgers[ref] == nil else { continue }
            priorShards[ref] = (manifest.trustDomain, ledger, now)
        }
        while priorShards.count > Self.priorShardLimit, let oldest = priorShards.min(by: { $0.value.gathered < $1.value.gathered })?.key {
            priorShards[oldest] = nil
        }
    }

    /// The draw this custodian owes on a worker's commit in an adaptive job: its signature of each seal made
    /// under its lease while the worker stood trusted (`ShardLedger`, Adaptive). Nil when none is owed.
    private func draw(on commit: CustodyRecord, in ledger: ShardLedger, now: Int64) -> CustodyRecord? {
        let owed = ledger.unitsToDraw(worker: commit.author, units: commit.entries.map(\.unit), by: identity.publicKey)
        guard !owed.isEmpty else { return nil }
        let entries = owed.map { unit, seal in
            let message = CustodyRecord.drawMessage(job: commit.job, unit: unit, worker: commit.author, seal: seal)
            return CustodyRecord.Entry(unit: unit, data: [UInt8](identity.signature(for: message)))
        }
        return CustodyRecord(
            kind: .draw, job: commit.job, shard: commit.shard, worker: commit.author, entries: entries, time: now,
            signedBy: identity)
    }

    // MARK: Exchange between custodians

    /// Merges records and set changes another custodian holds (anti-entropy, forwarding, hand-off): each passes the
    /// same checks as a worker's submission (`ShardLedger.admit`), changes first, then leases, commits, reveals
    /// and errors, so that what a record needs arrives before it. Refusals are counted and change nothing.
    /// Returns what was new here.
    public mutating func merge(
        _ records: [CustodyRecord], changes: [CustodySetChange] = [], now: Int64
    ) -> (records: [CustodyRecord], changes: [CustodySetChange]) {
        var addedChanges: [CustodySetChange] = []
        for change in changes.sorted(by: { $0.epoch < $1.epoch }) {
            do throws(CustodyError) {
                // A change may make this peer a custodian of a shard it did not keep: the ledger is kept once the
                // chain, with the change, names this peer.
                let (ref, manifest) = try ledgerKey(change.job, change.shard)
                var ledger = ledgers[ref] ?? ShardLedger(
                    manifest: manifest, shard: change.shard, equivalence: equivalent(manifest), verify: checks[manifest.kernel])
                if try ledger.admit(change) {
                    addedChanges.append(change)
                }
                guard ledger.authority.wasMember(identity.publicKey) else {
                    throw CustodyError("not a custodian", "this peer keeps no custody of shard \(change.shard)")
                }
                ledgers[ref] = ledger
            } catch {
                _ = refuse(error)
            }
        }
        var added: [CustodyRecord] = []
        for record in CustodyRecord.inAdmissionOrder(records) {
            let id = record.id
            do throws(CustodyError) {
                var (ref, ledger) = try custodyLedger(record.job, record.shard)
                if refusedIDs[ref]?[id] != nil { continue }
                do {
                    if try ledger.admit(record, id: id, now: now, submitted: false, equivalent: equivalent(manifests[record.job]!)) {
                        ledgers[ref] = ledger
                        added.append(record)
                    }
                } catch {
                    // Refused for good unless it lacked a record that may still come (its lease, its seal, the set
                    // change its author's membership rests on), or this custodian's clock may yet reach its time: a
                    // seal made under a worker's second lease of a unit came before that lease, where the first was
                    // here ("lease expired"), and was refused for good, so custodians held different sets for ever.
                    if !Self.refusedForNow.contains(error.reason),
                        refusedIDs[ref, default: [:]].count < Self.refusedLimit
                    {
                        refusedIDs[ref, default: [:]][id] = "\(record.kind) by \(record.author.hex.prefix(4)): \(error.reason)"
                    }
                    throw error
                }
            } catch {
                _ = refuse(error)
            }
        }
        for (job, records) in Dictionary(grouping: added, by: \.job) { noteUnwalked(job, Set(records.map(\.shard))) }
        return (added, addedChanges)
    }

    /// Notes that records of `shards` of `job` were added: they are walked for their failures when the job's state
    /// is next read (`walkFailures`), not now. A shard takes many records between two reads of it (a seal, a draw and a
    /// reveal per unit, each also forwarded to the shard's other custodians), and every walk reads all its records.
    private mutating func noteUnwalked(_ job: JobID, _ shards: Set<Int>) {
        guard let manifest = manifests[job], manifest.policy.isAdaptive, manifest.shardCount > 1 else { return }
        unwalked[job, default: []].formUnion(shards)
    }

    /// Walks the shards of `job` kept here whose records changed since they were last walked for their failures, and
    /// shares what they show (`shareFailures`). Every read of a job's state calls it first: a lease, verdicts, the
    /// public records, the jobs with work left, and the copy a peer hands out.
    public mutating func walkFailures(_ job: JobID) {
        guard let shards = unwalked.removeValue(forKey: job) else { return }
        shareFailures(job, walked: shards)
    }

    /// A copy of this custodian with `job` walked (`walkFailures`), for a read that cannot change this one; nil
    /// when nothing of the job is left to walk. The walks of the shards' own records are kept in their caches, so
    /// the next `walkFailures` here does not repeat them. Callers that can should call `walkFailures` first.
    private func walkedCopy(_ job: JobID) -> Custodian? {
        guard unwalked[job] != nil else { return nil }
        var walked = self
        walked.walkFailures(job)
        return walked
    }

    /// `walkFailures` for every job.
    public mutating func walkAllFailures() {
        for job in unwalked.keys.sorted() { walkFailures(job) }
    }

    /// Per job, the shards kept here whose records changed since they were last walked for their failures.
    private var unwalked: [JobID: Set<Int>] = [:]

    /// `shareFailures` for every adaptive job of more than one shard kept here (a sync round).
    public mutating func shareAllFailures() {
        let jobs = Set(ledgers.keys.map(\.job)).filter { manifests[$0].map { $0.policy.isAdaptive && $0.shardCount > 1 } ?? false }
        for job in jobs.sorted() { shareFailures(job, walked: nil) }
    }

    /// Gives each shard of `job` kept here the failed checks of its workers found in the job's other shards kept or
    /// gathered here (`ShardLedger.foreignFailures`): a sleeper caught in one shard loses what it ran alone in the
    /// others since its last passed check there, and its trust there (issue 14, Sleeper).
    ///
    /// Only the shards in `walked` (every shard kept, when nil) are walked for their own failures; the others count
    /// as last walked (`ownFailuresFound`). A custodian walks the shards records came in for since the job's state
    /// was last read (`walkFailures`), and every shard at each sync round (`shareAllFailures`). Any kind of record
    /// can show a failure: a lease or a seal that arrives after the reveals (records come in any order) can decide a
    /// unit, and with it an outvoted result or a seal never revealed (a version that walked only after reveals and
    /// errors stalled the vanishing-host test).
    public mutating func shareFailures(_ job: JobID, walked: Set<Int>? = nil) {
        guard let manifest = manifests[job], manifest.policy.isAdaptive, manifest.shardCount > 1 else { return }
        if walked == nil { unwalked[job] = nil }
        let refs = walked.map { $0.map { ShardRef(job: job, shard: $0) } } ?? ledgers.keys.filter { $0.job == job }
        for ref in refs {
            guard let found = ledgers[ref]?.ownFailures() else { continue }
            // A failure new here is told to the custodians of the job's other shards (`takeNewFailures`).
            let before = ownFailuresFound[ref] ?? [:]
            if found.contains(where: { worker, times in !Set(times).isSubset(of: before[worker] ?? []) }) { newFailures.insert(ref) }
            ownFailuresFound[ref] = found
        }
        // Each shard of the job kept here (as last walked) or gathered here (`jobShards`), with its own failures.
        let kept = ledgers.keys.filter { $0.job == job }
        let failures = kept.map { (shard: $0.shard, failures: ownFailuresFound[$0] ?? [:]) }
            + jobShards.filter { $0.key.job == job && ledgers[$0.key] == nil }.map { (shard: $0.key.shard, failures: $0.value.failures) }
        failureCounts[job] = failures.reduce(0) { count, shard in count + shard.failures.values.reduce(0) { $0 + $1.count } }
        for ref in kept {
            let foreign = ShardLedger.failures(in: failures, besides: ref.shard)
            guard ledgers[ref]?.foreignFailures != foreign else { continue }
            ledgers[ref]?.foreignFailures = foreign
            // Its worker's results voided: a shard found finished may have open units again.
            finishedShards.remove(ref)
            reopenedShards.insert(ref)
        }
    }

    /// The failed checks known here in `job`, in the shards kept or gathered here: told to workers with each lease
    /// answer, so that one that found shards done asks them again when it grows (a failure voids results run alone
    /// in every shard).
    public func failureCount(_ job: JobID) -> Int { failureCounts[job] ?? 0 }

    /// Per job, the failed checks known here when failures were last shared (`shareFailures`): a lease answer says
    /// it without walking the job's shards.
    private var failureCounts: [JobID: Int] = [:]

    /// The own failures of each shard kept here when last walked for them (`shareFailures`).
    private var ownFailuresFound: [ShardRef: [Ed25519PublicKey: [Int64]]] = [:]

    /// Shards kept here whose records show a worker's failed check not told yet to the custodians of the job's
    /// other shards, which may keep none of this one.
    public private(set) var newFailures: Set<ShardRef> = []

    /// The shards kept here with failures new since the last call: the peer tells the custodians of the job's other
    /// shards, which gather the shard and count them (`adoptJobShard`).
    public mutating func takeNewFailures() -> Set<ShardRef> {
        defer { newFailures.removeAll() }
        return newFailures
    }

    /// The failed checks of shards of jobs kept here that this peer does not keep, gathered from their custodians
    /// because one of them said a worker failed a check there (`adoptJobShard`): they count in the shards kept here
    /// (`shareFailures`), each found from the records as a re-verifier finds it.
    public private(set) var jobShards: [ShardRef: (failures: [Ed25519PublicKey: [Int64]], gathered: Int64)] = [:]

    /// Gathered shards kept for their failures; past this the least recently gathered go.
    public static let jobShardLimit = 256

    /// Keeps the failures `ledger` shows, a shard of a job kept here that this peer does not keep, gathered from its
    /// custodians at `now` (`jobShards`), and shares them with the job's shards kept here. Whether it was kept.
    @discardableResult
    public mutating func adoptJobShard(_ ledger: ShardLedger, now: Int64) -> Bool {
        adoptJobFailures(ShardRef(job: ledger.job, shard: ledger.shard), ledger.ownFailures(), now: now)
    }

    /// Keeps the failures found at `now` in `ref`, a shard of a job kept here that this peer does not keep (gathered,
    /// or read back from the journal), each worker's earliest `ShardLedger.maxForeignFailures`, and shares them with
    /// the job's shards kept here. Whether they were kept.
    @discardableResult
    public mutating func adoptJobFailures(_ ref: ShardRef, _ failures: [Ed25519PublicKey: [Int64]], now: Int64) -> Bool {
        guard let manifest = manifests[ref.job], (0..<manifest.shardCount).contains(ref.shard), ledgers[ref] == nil,
            ledgers.keys.contains(where: { $0.job == ref.job })
        else { return false }
        jobShards[ref] = (failures.mapValues { Array($0.sorted().prefix(ShardLedger.maxForeignFailures)) }, now)
        while jobShards.count > Self.jobShardLimit, let oldest = jobShards.min(by: { $0.value.gathered < $1.value.gathered })?.key {
            jobShards[oldest] = nil
        }
        shareFailures(ref.job, walked: [])
        return true
    }

    /// The failed checks gathered here in `ref`, a shard this peer does not keep (`jobShards`); nil when none was
    /// gathered. Each worker's counted up to `ShardLedger.maxForeignFailures` (as a hint counts them).
    public func knownFailureCount(_ ref: ShardRef) -> Int? { jobShards[ref].map { ShardLedger.failureCount($0.failures) } }

    /// The failed checks of each shard kept here that showed any when last walked for them (`shareFailures`), in
    /// adaptive jobs of more than one shard: what the custodians of the job's other shards are told (`co_failed`)
    /// until each says it knows as many. Walks nothing.
    public func keptFailureCounts() -> [ShardRef: Int] {
        var counts: [ShardRef: Int] = [:]
        for (ref, failures) in ownFailuresFound {
            let count = ShardLedger.failureCount(failures)
            if count > 0 { counts[ref] = count }
        }
        return counts
    }

    /// All records of a shard by ID (empty when unknown): for its other custodians, without hashing them again.
    public func recordsByID(_ ref: ShardRef) -> [SHA256Digest: CustodyRecord] { ledgers[ref]?.records ?? [:] }

    /// All records of a shard (empty when unknown): for its other custodians.
    public func records(_ ref: ShardRef) -> [CustodyRecord] { ledgers[ref]?.sortedRecords ?? [] }

    /// The records anyone may read: reveals of undecided units stay with the custodians, so nobody can copy a
    /// result before their own seal counts (DESIGN.md, Trust: copy-proof).
    public func publicRecords(_ ref: ShardRef, now: Int64) -> [CustodyRecord] {
        if let walked = walkedCopy(ref.job) { return walked.publicRecords(ref, now: now) }
        guard let ledger = ledgers[ref], let manifest = manifests[ref.job] else { return [] }
        let undecided = Set(ledger.verdicts(now: now, equivalent: equivalent(manifest)).filter { $0.state == .open }.map(\.unit))
        return ledger.sortedRecords.filter { record in
            record.kind != .reveal || record.entries.allSatisfy { !undecided.contains($0.unit) }
        }
    }

    /// The shard's set changes (the authority chain past the manifest).
    public func changes(_ ref: ShardRef) -> [CustodySetChange] { ledgers[ref]?.authority.allChanges ?? [] }

    /// IDs of the shard's records and changes, for comparing sets.
    public func recordIDs(_ ref: ShardRef) -> Set<SHA256Digest> {
        guard let ledger = ledgers[ref] else { return [] }
        return Set(ledger.records.keys).union(ledger.authority.allChanges.map(\.id))
    }

    /// IDs this custodian refused and will not ask for again (a view, not a copy: asked on every sync).
    public func refused(_ ref: ShardRef) -> [SHA256Digest: String].Keys { (refusedIDs[ref] ?? [:]).keys }

    /// Why each record this custodian refused for good was refused: its kind, author and reason (a stall's trace).
    public func refusals(_ ref: ShardRef) -> [String] { (refusedIDs[ref] ?? [:]).values.sorted() }

    /// The verdicts of a shard's units at `now` (of `units` only, when given).
    public func verdicts(_ ref: ShardRef, now: Int64, units: Set<Int>? = nil) -> [UnitVerdict]? {
        if let walked = walkedCopy(ref.job) { return walked.verdicts(ref, now: now, units: units) }
        guard let manifest = manifests[ref.job], ref.shard >= 0, ref.shard < manifest.shardCount else { return nil }
        let ledger = ledgers[ref] ?? ShardLedger(manifest: manifest, shard: ref.shard)
        let compare = equivalent(manifest)
        guard let units else { return ledger.verdicts(now: now, equivalent: compare) }
        return ledger.units.filter { units.contains($0) }.map { ledger.verdict(unit: $0, now: now, equivalent: compare) }
    }

    /// What a worker leased nothing learns of the shard at `now`: whether every unit is decided, and whether an open
    /// unit has a slot that a custodian (this one or another of the set) may still lease. Read from the newest unit
    /// back and ended at the first open unit with a slot (while a shard runs its untouched units are there, or
    /// scattered at random): a whole pass of the shard's verdicts at each "none" cost a custodian as much again as
    /// the lease that found nothing, at every idle worker's poll (`AdaptiveSwarmTests`: a tenth of the process's
    /// CPU). Nil for a shard this custodian does not know.
    public func leaseOutlook(_ ref: ShardRef, now: Int64) -> (done: Bool, elsewhere: Bool)? {
        if let walked = walkedCopy(ref.job) { return walked.leaseOutlook(ref, now: now) }
        guard let manifest = manifests[ref.job], ref.shard >= 0, ref.shard < manifest.shardCount else { return nil }
        let ledger = ledgers[ref] ?? ShardLedger(manifest: manifest, shard: ref.shard)
        let compare = equivalent(manifest)
        var done = true
        for unit in ledger.units.reversed() {
            let verdict = ledger.verdict(unit: unit, now: now, equivalent: compare)
            guard verdict.state == .open else { continue }
            done = false
            if verdict.openSlots > 0 { return (false, true) }
        }
        return (done, false)
    }

    /// For `worker` (or anyone), per unit of the shard: how many sealed workers could complete a quorum with it
    /// (`ShardLedger.partners`), at `now` when given.
    public func partners(_ ref: ShardRef, worker: Ed25519PublicKey?, units: Set<Int>? = nil, now: Int64? = nil) -> [Int: Int] {
        if let walked = walkedCopy(ref.job) { return walked.partners(ref, worker: worker, units: units, now: now) }
        guard let ledger = ledgers[ref] else { return [:] }
        return Dictionary(
            uniqueKeysWithValues: ledger.units.filter { units?.contains($0) ?? true }.map { ($0, ledger.partners(of: worker, unit: $0, now: now)) })
    }

    /// Those of `units` that `worker` sealed as a closing check's one replica and would be told to reveal at once
    /// (`ShardLedger.revealsAsClosingReplica`).
    public func closingReplicaUnits(_ ref: ShardRef, worker: Ed25519PublicKey, units: Set<Int>, now: Int64) -> Set<Int> {
        if let walked = walkedCopy(ref.job) { return walked.closingReplicaUnits(ref, worker: worker, units: units, now: now) }
        guard let ledger = ledgers[ref] else { return [] }
        return units.filter { ledger.units.contains($0) && ledger.revealsAsClosingReplica(worker, unit: $0, now: now) }
    }

    /// Per unit of `units` (every unit when nil), the latest time a worker other than `worker` sealed it, in that
    /// worker's clock; 0 for none. A worker stamps its reveal no earlier, so that a partner whose clock runs ahead
    /// of its own still sealed "before" the reveal (`ShardLedger.latestSeal`).
    public func latestSeals(_ ref: ShardRef, except worker: Ed25519PublicKey?, units: Set<Int>? = nil) -> [Int: Int64] {
        guard let ledger = ledgers[ref] else { return [:] }
        return Dictionary(
            uniqueKeysWithValues: ledger.units.filter { units?.contains($0) ?? true }.map { ($0, ledger.latestSeal(unit: $0, except: worker)) })
    }

    /// The evidence records signed since the last call.
    public mutating func takeEvidence() -> [CustodyRecord] {
        defer { evidence = [] }
        return evidence
    }

    /// Forgets shards (handed to other custodians).
    public mutating func drop(_ ref: ShardRef) {
        ledgers[ref] = nil
        trustedAskers[ref] = nil
        ownFailuresFound[ref] = nil
        unwalked[ref.job]?.remove(ref.shard)
        reopenedShards.remove(ref)
    }

    // MARK: Changing a set

    /// Proposes the next epoch's set of a shard: the current set with `leaving` replaced by `joining`, signed by
    /// this custodian (a member of the current set).
    public mutating func proposeChange(
        _ ref: ShardRef, leaving: Ed25519PublicKey, joining: CustodianMember, now: Int64
    ) throws(CustodyError) -> CustodySetChange {
        let ledger: ShardLedger
        do {
            (_, ledger) = try custodyLedger(ref.job, ref.shard)
        } catch {
            throw refuse(error)
        }
        let current = ledger.authority.current
        guard current.contains(where: { $0.key == identity.publicKey }), current.contains(where: { $0.key == leaving }),
            !current.contains(where: { $0.key == joining.key })
        else { throw CustodyError("bad authority", "a change replaces a member of the current set with a newcomer") }
        let epoch = ledger.authority.epoch + 1
        // Proposed before and not made (too few co-signed: one could still reach the member then), the same change
        // is proposed again, with the newcomer chosen then. Refused, the custodian whose turn it is to replace a
        // silent member never could, and the shard kept it for good (AdaptiveSwarmTests, vanish: "signed a change
        // to epoch 1 already" every 5 s for 300 s, 523 units open).
        if let earlier = signedChanges[ref], earlier.epoch >= epoch {
            guard earlier.epoch == epoch, !earlier.members.contains(where: { $0.key == leaving }) else {
                throw CustodyError("bad authority", "this custodian signed a change to epoch \(epoch) already")
            }
            return earlier
        }
        var change = CustodySetChange(
            job: ref.job, shard: ref.shard, epoch: epoch, members: current.map { $0.key == leaving ? joining : $0 }, time: now)
        change.sign(by: identity)
        signedChanges[ref] = change
        return change
    }

    /// Takes back the set change this custodian signed last for a shard, as its journal kept it across a restart:
    /// from then on it signs that change again and no other to its epoch. Ignored unless it carries this custodian's
    /// valid signature and is not older than one it holds.
    public mutating func restoreSigned(_ change: CustodySetChange) {
        let message = change.unsignedValue().encoded()
        guard change.signatures.contains(where: { $0.key == identity.publicKey && $0.key.isValidSignature($0.signature, for: message) })
        else { return }
        let ref = ShardRef(job: change.job, shard: change.shard)
        if let held = signedChanges[ref], held.epoch >= change.epoch { return }
        signedChanges[ref] = change
    }

    /// Co-signs a change another custodian proposed, when this custodian is in the current set, signed no other
    /// change to that epoch, and the change only replaces one member for which `mayLeave` holds (it asked to leave,
    /// or this custodian cannot reach it either) by a newcomer.
    public mutating func cosign(
        _ proposal: CustodySetChange, mayLeave: (CustodianMember) -> Bool
    ) throws(CustodyError) -> CustodySetChange {
        do throws(CustodyError) {
            let (ref, ledger) = try custodyLedger(proposal.job, proposal.shard)
            let current = ledger.authority.current
            guard proposal.epoch == ledger.authority.epoch + 1, current.contains(where: { $0.key == identity.publicKey })
            else { throw CustodyError("bad authority", "not a change of the current set of a shard kept here") }
            // The one change it signed to this epoch it signs again (its proposer asks again), no other.
            if let earlier = signedChanges[ref], earlier.epoch >= proposal.epoch,
                earlier.epoch != proposal.epoch || earlier.unsignedValue() != proposal.unsignedValue()
            {
                throw CustodyError("bad authority", "this custodian signed a change to epoch \(proposal.epoch) already")
            }
            let leaving = current.filter { member in !proposal.members.contains { $0.key == member.key } }
            let joining = proposal.members.filter { member in !current.contains { $0.key == member.key } }
            guard proposal.members.count == current.count, leaving.count == 1, joining.count == 1,
                leaving[0].key != identity.publicKey, mayLeave(leaving[0])
            else { throw CustodyError("bad authority", "the change does not replace one member that may leave") }
            var signed = proposal
            if !signed.signatures.contains(where: { $0.key == identity.publicKey }) { signed.sign(by: identity) }
            signedChanges[ref] = signed
            return signed
        } catch {
            throw refuse(error)
        }
    }
}
