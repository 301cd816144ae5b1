import ColonyCore
import ColonyNet
import Foundation

/// A shard's record set, indexed by unit, and the rules every record passes to enter it (DESIGN.md, Trust).
///
/// Every check is made here, the same whether a record comes from a worker (`submitted`), from another custodian
/// (merge, sync, hand-off) or is read back by a stranger re-verifying: a signature proves who wrote a record, the
/// authority chain and the other records prove the writer had the right to. `verdict` is a pure function of the
/// set: the same records give the same verdicts in any order and on any peer.
public struct ShardLedger: Sendable {
    public let job: JobID
    public let shard: Int
    public let units: Range<Int>
    public let policy: JobPolicy
    /// Who may lease at each epoch.
    public private(set) var authority: ShardAuthority
    public private(set) var records: [SHA256Digest: CustodyRecord] = [:]

    /// How far a record's time may be from the clock of the custodian a worker hands it to, in milliseconds; and
    /// how far in the future any record's time may be.
    public static let clockWindow: Int64 = 300_000
    /// How far outside its lease a seal's time may be (the worker's clock against the custodian's), in ms.
    public static let sealSlack: Int64 = 60_000
    /// The largest error text kept.
    public static let maxReason = 256

    struct Lease: Sendable {
        var worker: Who
        var custodian: Who
        var time: Int64
        var expires: Int64
        var id: SHA256Digest
        /// The worker's network, or its key when the policy turns the rule off: replicas count only from
        /// distinct values.
        var network: Who
        /// The network as the lease states it.
        var networkBytes: [UInt8]
        /// The worker's standing the lease claims (adaptive jobs).
        var claim: Int = 0
        /// The part of the claim earned in other shards (`CustodyRecord.prior`), and where.
        var prior: Int = 0
        var priorShards: [ShardRef] = []
        /// The epoch of the custodian set the lease was signed under.
        var epoch: Int = 0
    }

    struct Seal: Sendable {
        var worker: Who
        var seal: [UInt8]
        var time: Int64
    }

    struct Reveal: Sendable {
        var worker: Who
        var digest: [UInt8]
        var output: [UInt8]
        var time: Int64
        /// The seal a matching commit carries, hashed once when the reveal enters the ledger.
        var seal: [UInt8]
    }

    /// A custodian's spot-check draw on a worker's sealed unit (adaptive jobs).
    struct Draw: Sendable {
        var worker: Who
        var custodian: Who
        /// The seal the draw was made on.
        var seal: [UInt8]
        var value: Double
        /// When the custodian signed it, by its clock: the worker cannot know the draw before.
        var time: Int64
        /// What the kernel's check of a result run alone samples by (`CustodyRecord.drawSeed`).
        var seed: UInt64
    }

    struct UnitRecords: Sendable {
        var leases: [Lease] = []
        var commits: [Seal] = []
        /// Each worker's one reveal that counts: of its seal (`seal(of:)`), the earliest.
        var reveals: [Reveal] = []
        /// Reveals kept as records that do not count: a worker's later copies, or of a seal of its that is not the one
        /// that counts (it sealed twice, at two custodians). Kept apart, not dropped, so that the reveal that counts
        /// is the same at every custodian holding the same records, in whatever order they came.
        var spareReveals: [Reveal] = []
        var draws: [Draw] = []
        var errors: [(worker: Who, reason: String)] = []
        /// Leases given back by their own worker (`CustodyRecord.releaseReason`): (lease, worker who said so).
        var releases: [(lease: SHA256Digest, worker: Who)] = []
        /// The latest signed time of any of these records: a fact they decide is known by then at the latest.
        var latest: Int64 = .min

        func isReleased(_ lease: Lease) -> Bool { releases.contains { $0.lease == lease.id && $0.worker == lease.worker } }

        /// Leases still standing: not given back.
        var kept: [Lease] { leases.filter { !isReleased($0) } }

        /// Whether `worker` ended its lease with a result or an error.
        func ended(_ worker: Who) -> Bool {
            reveals.contains { $0.worker == worker } || errors.contains { $0.worker == worker }
        }

        /// Whether `draw` is by `lease`'s custodian on `worker`'s `seal`: only such draws decide its unit.
        func decides(_ draw: Draw, _ worker: Who, _ lease: Lease, _ seal: [UInt8]) -> Bool {
            draw.worker == worker && draw.custodian == lease.custodian && draw.seal == seal
        }

        /// Kept leases neither ended nor expired at `now`.
        func live(now: Int64) -> [Lease] { kept.filter { $0.expires > now && !ended($0.worker) } }

        /// Workers whose result may still come and pair with others: a live lease, or a seal whose lease ended less
        /// than a lease length ago (it waits for partners), and no reveal or error yet; not one that sits on its
        /// result (`sitsOnResult`).
        func inFlight(now: Int64, leaseSeconds: Int, alone: (Who) -> Bool, closing: (Who) -> Bool) -> [Who] {
            var workers: [Who] = []
            for lease in kept where !ended(lease.worker) && !workers.contains(lease.worker) {
                let sealed = seal(of: lease.worker)
                if let sealed, sitsOnResult(lease.worker, sealed, now: now, alone: alone, closing: closing) { continue }
                if lease.expires > now || (sealed != nil && lease.expires + Int64(leaseSeconds) * 1000 > now) {
                    workers.append(lease.worker)
                }
            }
            return workers
        }

        /// True when `worker`, whose seal is `mine`, has not revealed and could have for `ShardLedger.revealGrace`: another worker
        /// revealed the unit after that seal, or the worker was drawn to run it once (`alone`), that long ago, or it
        /// is a closing check's replica (`closing`), compared with a result already out, and sealed that long ago. An
        /// honest worker asks how its seals stand every 0.25 s during its lease and at least every 10 s after, so
        /// this one is gone (kill -9, host lost) or keeps its result back. It is waited for no longer: its slot opens
        /// for another replica. Before, a vanished worker's seal held its unit for its lease and a lease length after
        /// (two minutes at bench adaptive's 60 s leases, hours at a real job's; bench adaptive, vanish).
        func sitsOnResult(_ worker: Who, _ mine: Seal, now: Int64, alone: (Who) -> Bool, closing: (Who) -> Bool) -> Bool {
            let before = now - ShardLedger.revealGrace
            guard mine.time < before else { return false }
            if reveals.contains(where: { $0.worker != worker && $0.time >= mine.time && $0.time < before }) { return true }
            if closing(worker) { return true }
            guard let drawn = draws.lazy.filter({ $0.worker == worker && $0.seal == mine.seal }).map(\.time).min(), drawn < before else {
                return false
            }
            return alone(worker)
        }

        /// Whether a worker `custodian` leased the unit to sealed it and waits, out of flight (`flying`), to reveal:
        /// neither revealed nor ended with an error.
        func waitsUnpaired(by custodian: Who, flying: [Who]) -> Bool {
            commits.contains { commit in
                !flying.contains(commit.worker) && !answered(commit.worker) && vouching(commit.worker)?.custodian == custodian
            }
        }

        /// Distinct workers that sealed the unit and may still count with others: not ended by an error, and in flight
        /// (`flying`; without a clock, all) or revealed.
        func sealers(flying: [Who]?) -> [Who] {
            ShardLedger.distinct(commits.map(\.worker)).filter { sealer in
                !errors.contains { $0.worker == sealer } && (flying?.contains(sealer) ?? true || reveals.contains { $0.worker == sealer })
            }
        }

        /// The lease that vouches for `worker`'s result: its earliest lease whose time covers the worker's seal (the
        /// rule a commit is admitted by), else its earliest. A worker leased a unit again after a lease that never
        /// reached it is vouched for by the lease it worked under.
        func vouching(_ worker: Who) -> Lease? {
            var best: Lease?
            var covering: Lease?
            let sealed = seal(of: worker)?.time
            func earlier(_ lease: Lease, than current: Lease?) -> Bool {
                guard let current else { return true }
                return lease.time < current.time || (lease.time == current.time && lease.id < current.id)
            }
            for lease in leases where lease.worker == worker {
                if earlier(lease, than: best) { best = lease }
                if let sealed, lease.time - ShardLedger.sealSlack <= sealed, sealed <= lease.expires + ShardLedger.sealSlack,
                    !isReleased(lease), earlier(lease, than: covering)
                {
                    covering = lease
                }
            }
            return covering ?? best
        }

        /// Whether `worker` did anything with the unit: sealed, revealed or ended it with an error.
        func acted(_ worker: Who) -> Bool {
            commits.contains { $0.worker == worker } || answered(worker)
        }

        /// Whether `worker` revealed the unit or ended it with an error.
        func answered(_ worker: Who) -> Bool {
            reveals.contains { $0.worker == worker } || errors.contains { $0.worker == worker }
        }

        /// Sets apart all but the reveal of `worker`'s that counts (see `reveals`), once a reveal or a seal of its came.
        mutating func countOneReveal(of worker: Who) {
            let all = reveals.filter { $0.worker == worker } + spareReveals.filter { $0.worker == worker }
            guard !all.isEmpty else { return }
            let counted = seal(of: worker)?.seal
            // The common case, one reveal of the seal that counts: nothing to set apart.
            if all.count == 1, all[0].seal == counted { return }
            reveals.removeAll { $0.worker == worker }
            spareReveals.removeAll { $0.worker == worker }
            let earliest = all.sorted { $0.time != $1.time ? $0.time < $1.time : $0.output.lexicographicallyPrecedes($1.output) }
            let first = earliest.firstIndex { $0.seal == counted }
            for (index, reveal) in earliest.enumerated() {
                if index == first { reveals.append(reveal) } else { spareReveals.append(reveal) }
            }
        }

        /// `worker`'s seal: its earliest commit.
        func seal(of worker: Who) -> Seal? {
            var best: Seal?
            for commit in commits where commit.worker == worker {
                if let current = best,
                    current.time < commit.time || (current.time == commit.time && !commit.seal.lexicographicallyPrecedes(current.seal))
                {
                    continue
                }
                best = commit
            }
            return best
        }
    }

    private(set) var perUnit: [UnitRecords]
    /// The keys behind the packed ones the records use.
    private(set) var names: [Who: Ed25519PublicKey] = [:]
    /// How outputs are compared (the kernel's `equivalent`); verdicts of validated units are kept with it.
    public let equivalence: @Sendable ([UInt8], [UInt8]) -> Bool
    /// Each unit's verdict once validated, computed when its records change: workers ask about units far more
    /// often than records arrive. (Validation does not depend on the clock; a later record recomputes it.)
    private(set) var validated: [UnitVerdict?]
    /// In an adaptive job, the verdict of each unit with a result and no quorum, without the clock (no live leases,
    /// no open slots), computed when its records change: what a unit validated by one result rests on. Leases and
    /// status answers go over every unit of the shard, most of them run once; computed on each, this took 15 % of
    /// an adaptive swarm's CPU (bench adaptive, perf; 1.4 % kept here, and the swarm's wall time fell by a fifth).
    private(set) var unquorate: [UnitVerdict?]
    /// What adaptive replication decides over the whole shard, computed when first asked after a change (a new
    /// box on each insert: copies of the ledger made before keep theirs).
    var adaptiveCache = AdaptiveCache()
    /// Each worker's latest lease admitted with a trusting claim (adaptive jobs) and its network, for the pairing
    /// rule (`pairing(_:for:now:askers:shared:)`).
    private(set) var trustingLeases: [Who: (time: Int64, network: Who)] = [:]
    /// Each worker's latest lease (adaptive jobs) and its network, for the pairing rule.
    private(set) var lessees: [Who: (time: Int64, network: Who)] = [:]
    /// The units each worker sealed and has not revealed or ended with an error (`keptBack`).
    private(set) var unrevealed: [Who: Set<Int>] = [:]
    /// The kernel's cheap check of a unit's output (`ComputeKernel.verify`), given the unit, the output and a seed:
    /// a result that would be accepted alone and fails it is a failed check (`refuted`). Nil where the policy turns
    /// it off or no kernel was given; it answers nil where the kernel has no check or the unit's input is a blob.
    /// Every re-verifier of an adaptive job needs the kernel compiled in, for this as for `equivalence`. Set by
    /// `init(manifest:shard:equivalence:verify:)`.
    private(set) var check: (@Sendable (Int, [UInt8], UInt64) -> Bool?)?
    /// The answers of `check`, kept across changes of the records (a check is a pure function of its arguments).
    let checked = Remembered<CheckedResult, Bool?>()
    /// How a re-verifier counts a lease's prior standing in the shards it cites (worker, lease time, shards → the
    /// count found there); nil takes the lease's word, as custodians do for the custodian that signed it.
    public var priorCheck: (@Sendable (Ed25519PublicKey, Int64, [ShardRef]) -> Int)? {
        didSet { adaptiveCache = AdaptiveCache() }
    }
    /// Each worker's failed checks in the job's other shards, by their lease times, as those shards' own records
    /// show them (`ownFailures`): in an adaptive job a failure anywhere in the job voids what the worker ran alone
    /// here since its last passed check, and its standing here (issue 14, Sleeper). Custodians set it from the
    /// shards they keep or gathered (`Custodian.shareFailures`), a re-verifier from every shard it gathered.
    public var foreignFailures: [Ed25519PublicKey: [Int64]] = [:] {
        didSet { if foreignFailures != oldValue { adaptiveCache = AdaptiveCache(keepingOwn: adaptiveCache) } }
    }

    public init(
        job: JobID, shard: Int, units: Range<Int>, policy: JobPolicy, authority: ShardAuthority,
        equivalence: @escaping @Sendable ([UInt8], [UInt8]) -> Bool = { $0 == $1 }
    ) {
        self.job = job
        self.shard = shard
        self.units = units
        self.policy = policy
        self.authority = authority
        self.equivalence = equivalence
        perUnit = Array(repeating: UnitRecords(), count: units.count)
        validated = Array(repeating: nil, count: units.count)
        unquorate = Array(repeating: nil, count: units.count)
    }

    /// An empty ledger of `shard` of `manifest`, with the manifest's authority, comparing outputs with
    /// `equivalence` (the kernel's).
    /// With `verify` (the kernel's, input, output and seed), results run alone whose inline input is in the
    /// manifest are checked with it, unless the policy turns that off (`JobPolicy.verifiesAlone`).
    public init(
        manifest: JobManifest, shard: Int, equivalence: @escaping @Sendable ([UInt8], [UInt8]) -> Bool = { $0 == $1 },
        verify: (@Sendable (Data, Data, UInt64) -> Bool?)? = nil
    ) {
        self.init(
            job: manifest.id, shard: shard, units: manifest.units(inShard: shard), policy: manifest.policy,
            authority: manifest.authority(ofShard: shard), equivalence: equivalence)
        if let verify, manifest.policy.isAdaptive, manifest.policy.verifiesAlone {
            let inputs = manifest.units
            check = { unit, output, seed in
                guard inputs.indices.contains(unit), case .inline(let input) = inputs[unit] else { return nil }
                return verify(Data(input), Data(output), seed)
            }
        }
    }

    /// Custodians in the initial set: what caps each one's share of a unit's attempts.
    var setSize: Int { authority.sets[0].count }
    /// How many replicas of a quorum one custodian's leases may vouch for: one, unless the publisher signed a set
    /// smaller than the quorum (a swarm with fewer reachable nodes than the quorum, as behind NATs); then the
    /// quorum is shared among them. Set changes never shrink a set below the quorum (`ShardAuthority.admit`).
    var custodianCapacity: Int { max(1, (policy.quorum + setSize - 1) / max(1, setSize)) }

    /// Leases one custodian may hold on one unit, ended or not (a corrupt custodian cannot grow the ledger).
    var leasesPerCustodian: Int { 2 * policy.maxAttempts + 4 }

    // MARK: Admission

    /// Checks `record` against every rule and adds it. `submitted` is true for a worker's record handed to this
    /// custodian (its time must then be near `now`, and it may not be a lease); false for records from other
    /// custodians or read back later. Returns false when the record adds nothing (already here); throws the
    /// refusal, with nothing changed, when a rule fails.
    @discardableResult
    public mutating func admit(
        _ record: CustodyRecord, id: SHA256Digest, now: Int64, submitted: Bool,
        equivalent: ([UInt8], [UInt8]) -> Bool = { $0 == $1 }
    ) throws(CustodyError) -> Bool {
        guard records[id] == nil else { return false }
        guard record.job == job, record.shard == shard else {
            throw CustodyError("unknown unit", "a record of another shard")
        }
        if let entry = record.entries.first(where: { !units.contains($0.unit) }) {
            throw CustodyError("unknown unit", "unit \(entry.unit) is not in shard \(shard) (\(units))")
        }
        guard Set(record.entries.map(\.unit)).count == record.entries.count else {
            throw CustodyError("malformed", "a unit appears twice in one record")
        }
        guard record.time <= now + Self.clockWindow else {
            throw CustodyError("clock", "the record's time is \((record.time - now) / 1000) s ahead of ours")
        }
        if submitted {
            guard record.kind != .lease else { throw CustodyError("malformed", "workers do not submit leases") }
            guard abs(record.time - now) <= Self.clockWindow else {
                throw CustodyError("clock", "the record's time is \((record.time - now) / 1000) s from ours; check the clock")
            }
        }
        guard record.isSignatureValid else {
            throw CustodyError("bad signature", "record by \(record.author.hex.prefix(12)) does not verify")
        }
        var drawSeals: [Int: [UInt8]]?
        switch record.kind {
        case .lease: try checkLease(record)
        // A worker's record that repeats what is here adds nothing when the worker hands it in; from another
        // custodian it is kept all the same, so that custodians who saw the copies in different orders converge
        // (each custodian takes at most one of them from the worker, so the copies are few).
        case .commit: if try !checkCommit(record, now: now, submitted: submitted, equivalent: equivalent), submitted { return false }
        case .reveal: if try !checkReveal(record, submitted: submitted), submitted { return false }
        case .draw: drawSeals = try checkDraw(record, submitted: submitted)
        case .error: try checkError(record, submitted: submitted)
        }
        insert(record, id: id, drawSeals: drawSeals)
        return true
    }

    /// A lease counts only when its author was a custodian of the epoch it names, with the policy's lease length
    /// and a well-formed network, within its share of the unit.
    private func checkLease(_ record: CustodyRecord) throws(CustodyError) {
        guard authority.set(at: record.epoch) != nil else {
            throw CustodyError("unknown epoch", "a lease of epoch \(record.epoch); epochs 0…\(authority.epoch) are known here")
        }
        guard authority.isMember(record.author, at: record.epoch) else {
            throw CustodyError(
                "not a custodian", "\(record.author.hex.prefix(12)) is not a custodian of shard \(shard) at epoch \(record.epoch)")
        }
        guard record.expires == record.time + Int64(policy.leaseSeconds) * 1000 else {
            throw CustodyError("malformed", "a lease lasts \(policy.leaseSeconds) s")
        }
        guard policy.isWellFormed(network: record.network) else {
            throw CustodyError("malformed", "the lease's network is not one the policy makes")
        }
        guard record.standing == 0 || (policy.isAdaptive && record.standing >= policy.trustAfter) else {
            throw CustodyError("malformed", "a lease claims a standing only in an adaptive job, and one that trusts")
        }
        for entry in record.entries {
            guard entry.hash.isEmpty, entry.data.isEmpty else { throw CustodyError("malformed", "a lease entry has no data") }
            let author = Who(record.author)
            let held = perUnit[entry.unit - units.lowerBound].leases.filter { $0.custodian == author }.count
            guard held < leasesPerCustodian else {
                throw CustodyError("over-leased", "custodian \(record.author.hex.prefix(12)) leased unit \(entry.unit) \(held) times")
            }
        }
    }

    /// A commit is the worker's own, made while it held a lease on each unit. Handed in by the worker, it must also
    /// be for units not yet decided, under a lease it has not given back, and not change a seal it made before.
    /// (Those three depend on what the custodian already holds, so another custodian merging the commit later does
    /// not apply them: custodians that saw records in different orders still converge to one set.) False when every
    /// seal is already here.
    private func checkCommit(
        _ record: CustodyRecord, now: Int64, submitted: Bool, equivalent: ([UInt8], [UInt8]) -> Bool
    ) throws(CustodyError) -> Bool {
        guard record.author == record.worker else { throw CustodyError("malformed", "a worker's record names another worker") }
        let author = Who(record.author)
        var new = false
        for entry in record.entries {
            guard entry.hash.count == 32, entry.data.isEmpty else { throw CustodyError("malformed", "a seal is 32 bytes") }
            let unit = perUnit[entry.unit - units.lowerBound]
            let leases = unit.leases.filter { $0.worker == author }
            guard !leases.isEmpty else {
                throw CustodyError("no lease", "worker \(record.author.hex.prefix(12)) holds no lease on unit \(entry.unit)")
            }
            // Clocks differ by a little: a seal may be stamped up to `sealSlack` outside its lease. A lease the worker
            // gave back takes no seal from it, but only as handed in: merged, a commit made before the release reached
            // this custodian is kept (the worker sealed, a custodian refused the commit for a unit decided meanwhile,
            // and it gave those units back), or custodians that saw the two in different orders held different sets
            // for good (CustodyConvergenceTests).
            guard
                leases.contains(where: {
                    $0.time - Self.sealSlack <= record.time && record.time <= $0.expires + Self.sealSlack
                        && !(submitted && unit.isReleased($0))
                })
            else {
                throw CustodyError("lease expired", "the seal of unit \(entry.unit) is not within a lease of its worker")
            }
            if let earlier = unit.seal(of: author) {
                if earlier.seal == entry.hash { continue }
                if submitted {
                    throw CustodyError("resealed", "worker \(record.author.hex.prefix(12)) sealed unit \(entry.unit) before")
                }
            }
            if submitted, verdict(unit: entry.unit, now: now, equivalent: equivalent).state != .open {
                throw CustodyError("unit closed", "unit \(entry.unit) is already decided")
            }
            new = true
        }
        return new
    }

    /// A reveal is the worker's own, of a unit it was leased and sealed, and matches its seal. False when every
    /// output is already here. Merged from another custodian, it may match any seal of the worker's here, and one
    /// that matches none may yet find its seal: a worker that sealed two outputs at two custodians and revealed each
    /// to its own would otherwise leave custodians holding different sets, by the order the seals came in
    /// (`UnitRecords.reveals` says which one counts).
    private func checkReveal(_ record: CustodyRecord, submitted: Bool) throws(CustodyError) -> Bool {
        guard record.author == record.worker else { throw CustodyError("malformed", "a worker's record names another worker") }
        let author = Who(record.author)
        var new = false
        for entry in record.entries {
            let unit = perUnit[entry.unit - units.lowerBound]
            guard unit.leases.contains(where: { $0.worker == author }) else {
                throw CustodyError("no lease", "worker \(record.author.hex.prefix(12)) holds no lease on unit \(entry.unit)")
            }
            guard let seal = unit.seal(of: author) else {
                throw CustodyError("reveal without commit", "unit \(entry.unit) has no seal from this worker")
            }
            guard entry.hash.count == 32, SHA256.hash(entry.data).bytes == entry.hash else {
                throw CustodyError("reveal does not match its commit", "unit \(entry.unit)")
            }
            let sealed = CustodyRecord.seal(worker: record.author, job: job, unit: entry.unit, digest: entry.hash)
            if sealed != seal.seal {
                guard !submitted else { throw CustodyError("reveal does not match its commit", "unit \(entry.unit)") }
                guard unit.commits.contains(where: { $0.worker == author && $0.seal == sealed }) else {
                    throw CustodyError("reveal without commit", "unit \(entry.unit) has no seal from this worker that the reveal matches")
                }
            }
            if !unit.reveals.contains(where: { $0.worker == author }) { new = true }
        }
        return new
    }

    /// A draw is made by a custodian of an adaptive job on units the worker sealed under that custodian's lease:
    /// each entry a signature, by the record's author, of the draw message over one of the worker's seals.
    /// Returns the seal each entry's signature covers, so that it is verified once.
    private func checkDraw(_ record: CustodyRecord, submitted: Bool) throws(CustodyError) -> [Int: [UInt8]] {
        guard policy.isAdaptive else { throw CustodyError("malformed", "a draw in a job without adaptive replication") }
        guard !submitted else { throw CustodyError("malformed", "workers do not submit draws") }
        let (author, worker) = (Who(record.author), Who(record.worker))
        var seals: [Int: [UInt8]] = [:]
        for entry in record.entries {
            let unit = perUnit[entry.unit - units.lowerBound]
            guard entry.hash.isEmpty, entry.data.count == 64 else { throw CustodyError("malformed", "a draw is a 64-byte signature") }
            // A draw may come before its lease (the lease's forward failed, the commit's and draw's came through),
            // and before the set change that made its author a custodian: refused for now, not for good, or the
            // custodian held every record but the draw for ever, and the units it decided to run alone stayed open
            // there (demo --adaptive, trusted: 502 open at one custodian, 2 at the others).
            guard authority.wasMember(record.author) else {
                throw CustodyError("unknown epoch", "a draw on unit \(entry.unit) by \(record.author.hex.prefix(12)), a custodian at no epoch known here")
            }
            guard unit.leases.contains(where: { $0.worker == worker && $0.custodian == author }) else {
                throw CustodyError("no lease", "a draw on unit \(entry.unit) by a custodian that did not lease it to the worker (here)")
            }
            guard let seal = Self.drawnSeal(unit, entry, record) else {
                // The seal may not have arrived yet (a draw merged before its commit): refused for now, not for good.
                throw CustodyError("draw without seal", "the draw on unit \(entry.unit) is not its custodian's signature of a seal of the worker here")
            }
            seals[entry.unit] = seal
        }
        return seals
    }

    /// The seal of the worker's that a draw entry's signature covers, if any.
    private static func drawnSeal(_ unit: UnitRecords, _ entry: CustodyRecord.Entry, _ record: CustodyRecord) -> [UInt8]? {
        let worker = Who(record.worker)
        return unit.commits.first {
            $0.worker == worker
                && record.author.isValidSignature(
                    entry.data, for: CustodyRecord.drawMessage(job: record.job, unit: entry.unit, worker: record.worker, seal: $0.seal))
        }?.seal
    }

    /// An error ends leases: the worker's own (it failed or gave the unit back), or a custodian's void of a
    /// worker's lease (its reveal did not match its seal).
    private func checkError(_ record: CustodyRecord, submitted: Bool) throws(CustodyError) {
        if record.author != record.worker {
            // Merged, its author may have joined by a set change not here yet: refused for now, not for good.
            guard authority.wasMember(record.author) else {
                if !submitted {
                    throw CustodyError("unknown epoch", "\(record.author.hex.prefix(12)) ends another worker's lease and is a custodian at no epoch known here")
                }
                throw CustodyError("not a custodian", "only custodians end other workers' leases")
            }
        }
        let worker = Who(record.worker)
        for entry in record.entries {
            guard entry.hash.isEmpty, entry.data.count <= Self.maxReason else {
                throw CustodyError("malformed", "an error entry is a reason of at most \(Self.maxReason) bytes")
            }
            let unit = perUnit[entry.unit - units.lowerBound]
            guard unit.leases.contains(where: { $0.worker == worker }) else {
                throw CustodyError("no lease", "worker \(record.worker.hex.prefix(12)) holds no lease on unit \(entry.unit)")
            }
            if let lease = CustodyRecord.releasedLease(entry.data) {
                guard record.author == record.worker else { throw CustodyError("malformed", "a release names a lease of its own worker") }
                // Merged, the lease it names may not be here yet (the worker's second lease of the unit).
                guard unit.leases.contains(where: { $0.id == lease && $0.worker == worker }) else {
                    throw CustodyError(submitted ? "malformed" : "no lease", "a release names a lease of its own worker, not one here")
                }
            } else if submitted, unit.errors.contains(where: { $0.worker == worker }) {
                throw CustodyError("duplicate", "unit \(entry.unit) already has an error for this worker")
            }
        }
    }

    /// Adds a record that passed `admit`.
    /// `drawSeals`: for a draw, the seals `checkDraw` matched (absorbed records find theirs again).
    private mutating func insert(_ record: CustodyRecord, id: SHA256Digest, drawSeals: [Int: [UInt8]]? = nil) {
        records[id] = record
        let (author, worker) = (Who(record.author), Who(record.worker))
        names[author] = record.author
        names[worker] = record.worker
        let network = Who(network: record.network, of: worker)
        adaptiveCache = AdaptiveCache()
        defer {
            // Units with enough results to be validated: their verdict, kept while no record changes it.
            for entry in record.entries {
                let index = entry.unit - units.lowerBound
                validated[index] = nil
                unquorate[index] = nil
                let reveals = perUnit[index].reveals.count
                guard reveals >= policy.quorum || (policy.isAdaptive && reveals > 0) else { continue }
                let verdict = computeVerdict(unit: entry.unit, now: nil, equivalent: equivalence)
                if verdict.state == .validated { validated[index] = verdict } else if policy.isAdaptive { unquorate[index] = verdict }
            }
        }
        // Once per lease, not per unit leased.
        if record.kind == .lease, policy.isAdaptive {
            if record.time > lessees[worker]?.time ?? .min { lessees[worker] = (record.time, network) }
            if record.standing >= policy.trustAfter, record.time > trustingLeases[worker]?.time ?? .min {
                trustingLeases[worker] = (record.time, network)
            }
        }
        for entry in record.entries {
            let index = entry.unit - units.lowerBound
            perUnit[index].latest = max(perUnit[index].latest, record.time)
            switch record.kind {
            case .lease:
                perUnit[index].leases.append(
                    Lease(
                        worker: worker, custodian: author, time: record.time, expires: record.expires, id: id, network: network,
                        networkBytes: record.network, claim: record.standing, prior: record.prior, priorShards: record.priorShards,
                        epoch: record.epoch))
            case .commit:
                perUnit[index].commits.append(Seal(worker: author, seal: entry.hash, time: record.time))
                perUnit[index].countOneReveal(of: author)
                if !perUnit[index].answered(author) { unrevealed[author, default: []].insert(entry.unit) }
            case .draw:
                let seal = drawSeals?[entry.unit] ?? Self.drawnSeal(perUnit[index], entry, record) ?? []
                perUnit[index].draws.append(
                    Draw(
                        worker: worker, custodian: author, seal: seal, value: CustodyRecord.drawValue(entry.data), time: record.time,
                        seed: CustodyRecord.drawSeed(entry.data)))
            case .reveal:
                unrevealed[author]?.remove(entry.unit)
                perUnit[index].reveals.append(
                    Reveal(
                        worker: author, digest: entry.hash, output: entry.data, time: record.time,
                        seal: CustodyRecord.seal(worker: record.author, job: job, unit: entry.unit, digest: entry.hash)))
                perUnit[index].countOneReveal(of: author)
            case .error:
                if let lease = CustodyRecord.releasedLease(entry.data) {
                    perUnit[index].releases.append((lease, author))
                } else {
                    unrevealed[worker]?.remove(entry.unit)
                    perUnit[index].errors.append((worker, String(decoding: entry.data.prefix(200), as: UTF8.self)))
                }
            }
        }
    }

    /// Adds the records of another ledger of the same shard that this process admitted itself, without checking
    /// them again (a view over several in-process custodians, such as the demo's progress).
    public mutating func absorb(_ other: ShardLedger) {
        for (id, record) in other.records where records[id] == nil { insert(record, id: id) }
        for change in other.authority.allChanges { _ = try? authority.admit(change, minimumMembers: policy.quorum) }
    }

    /// Admits a change of the custodian set.
    @discardableResult
    public mutating func admit(_ change: CustodySetChange) throws(CustodyError) -> Bool {
        guard change.job == job, change.shard == shard else { throw CustodyError("unknown unit", "a change of another shard") }
        return try authority.admit(change, minimumMembers: policy.quorum)
    }

    /// All records, in a fixed order (by ID).
    /// Whether a record here was signed by or names `key` (as worker or as custodian): a lookup, not a scan.
    public func mentions(_ key: Ed25519PublicKey) -> Bool { names[Who(key)] != nil }

    public var sortedRecords: [CustodyRecord] { records.sorted { $0.key < $1.key }.map(\.value) }

    // MARK: Queries used by custodians and workers

    /// True when `custodian` may lease `unit` to `worker` on `network` now: the worker holds no live lease on the
    /// unit and never sealed, revealed or failed it, the custodian holds no live lease on it and has attempts left, no live lease or result
    /// comes from the same network, and the unit has an open slot.
    public func mayLease(
        _ worker: Ed25519PublicKey, network: [UInt8], unit: Int, by custodian: Ed25519PublicKey, now: Int64,
        equivalent: ([UInt8], [UInt8]) -> Bool
    ) -> Bool {
        let owned = slots(of: custodian, unit: unit)
        guard owned > 0 else { return false }
        let custodianKey = custodian
        let (worker, custodian) = (Who(worker), Who(custodian))
        let records = perUnit[unit - units.lowerBound]
        // A lease that ran out with nothing done under it (it may never have reached the worker: issue 12) does
        // not bar the worker; one live, or anything the worker did with the unit, does.
        guard !records.kept.contains(where: { $0.worker == worker && $0.expires > now }), !records.acted(worker) else { return false }
        let live = records.live(now: now)
        // A seal this custodian vouches for that waits for partners past its time in flight (its worker waits to
        // reveal until a partner comes) can pair only with a replica another custodian leases. A new replica from
        // this one never could: the unit goes to another owner of a slot first, and this custodian leases it only
        // once each of those holds a replica in flight (the new one pairs with those; the seal may be a crashed
        // worker's). Under load, leases ran out before partners came, and one custodian whose workers asked it first
        // leased the unit to all three workers of a swarm in turn; no two could pair, and the unit never finished
        // (SwarmProcessTests: 3 of 13 units, every worker having acted on them). Replicated jobs only: in an adaptive
        // one, a seal out of flight is mostly one kept back (`sitsOnResult`), and only the owner of a unit's first
        // slot may start it again (below), so deferring to the other owner could leave the unit to nobody.
        let flying = inFlight(unit, now: now)
        if !policy.isAdaptive, records.waitsUnpaired(by: custodian, flying: flying) {
            let holding = Set(flying.compactMap { records.vouching($0)?.custodian })
            if slotOwners(unit: unit).contains(where: { Who($0) != custodian && !holding.contains(Who($0)) }) { return false }
        }
        // Adaptive replication: a unit nobody computes yet is started by the owner of its first slot only. Two
        // custodians leasing it at once to trusted workers (neither knowing of the other's lease yet) would each
        // let their worker reveal alone, and the two results could never pair. So too a unit whose only results
        // are one no new replica pairs with: voided, set aside for a recheck, or the one a closing check compares
        // against (two closing replicas leased at once each revealed at once, the checked result was voided, and
        // with every worker of a 4-worker swarm acted on it the unit never finished: AdaptiveSwarmTests, sleeper).
        if policy.isAdaptive, flying.isEmpty,
            slotOwners(unit: unit).first != custodianKey
        {
            let state = adaptive
            let aside = state.rechecked[unit] ?? []
            let pairable = records.reveals.contains { reveal in
                !aside.contains(reveal.worker) && state.voided[unit] != reveal.worker && state.closing[unit] != reveal.worker
            }
            if !pairable { return false }
        }
        // Replica slots belong to custodians (DESIGN.md, Trust): slot j of the unit to member (unit + j) mod c of the
        // current set, so that custodians never over-lease without agreeing first. A replica this custodian
        // leased that is live, or sealed and waiting for partners, holds its slot.
        let holding = Set(records.kept.filter { $0.custodian == custodian && flying.contains($0.worker) }.map(\.worker)).count
        let key = Who(network: network, of: worker)
        // A slot held by a replica that cannot pair with the others in flight (same network or custodian: leased at
        // once by two custodians) holds nothing; `openSlots` below counts only those that can pair. Past its slots, a
        // custodian leases only a replica that adds to those that can pair: not one more of its own beside its own.
        // A worker that sealed after its lease ran out came back into flight after its custodian had leased the unit
        // again, and with both in flight that custodian leased it to each of a 4-worker swarm's other workers in turn;
        // none of the 4 replicas it vouched for could pair, and the other owner of a slot never had the unit to lease
        // (bench adaptive, 10 s leases under load: 6 units open for good in 1 run of about 50; the swarm test's stall
        // at 1199/1200 in CI).
        guard holding < owned || Self.useful(records, flying, capacity: custodianCapacity, adding: (custodian, key))
            > Self.useful(records, flying, capacity: custodianCapacity)
        else { return false }
        let mine = Set(records.kept.filter { $0.custodian == custodian }.map(\.worker)).count
        guard mine < policy.attemptsPerCustodian(custodians: setSize) else { return false }
        guard !live.contains(where: { $0.network == key }) else { return false }
        // A result already in from that network: a second replica there could not count.
        let setAside = self.setAside(unit)
        let revealedFrom = records.reveals.filter { !setAside.contains($0.worker) }.compactMap { records.vouching($0.worker)?.network }
        guard !revealedFrom.contains(key) else { return false }
        return openSlots(unit: unit, now: now, equivalent: equivalent) > 0
    }

    /// The workers in flight on `unit` (`UnitRecords.inFlight`), knowing which of them were drawn to run it once and
    /// which are a closing check's replica (a peeker sat on one for its whole lease: bench adaptive, collatz-4e7,
    /// peeker, 93 s against 37).
    func inFlight(_ unit: Int, now: Int64) -> [Who] {
        perUnit[unit - units.lowerBound].inFlight(
            now: now, leaseSeconds: policy.leaseSeconds,
            alone: { worker in policy.isAdaptive && adaptive.runsOnce.contains(UnitWorker(unit: unit, worker: worker)) },
            closing: { worker in policy.isAdaptive && adaptive.closing[unit].map { $0 != worker } == true })
    }

    /// `verdict(…).openSlots`, without grouping outputs while the unit has no result yet (a custodian asks this of
    /// every unit of a shard for each lease).
    func openSlots(unit: Int, now: Int64, equivalent: ([UInt8], [UInt8]) -> Bool) -> Int {
        let records = perUnit[unit - units.lowerBound]
        guard records.reveals.isEmpty else { return verdict(unit: unit, now: now, equivalent: equivalent).openSlots }
        if policy.isAdaptive, awaitsSingle(unit, now: now) { return 0 }
        let attempts = Self.attempts(records.kept, share: policy.attemptsPerCustodian(custodians: setSize))
        guard attempts < policy.maxAttempts else { return 0 }
        let inFlight = Self.useful(records, inFlight(unit, now: now), capacity: custodianCapacity)
        return max(0, min(policy.replicas - inFlight, policy.maxAttempts - attempts))
    }

    /// How many replicas in flight could count together toward a quorum: the largest part of them leased by
    /// distinct custodians to distinct networks. Two workers behind one NAT, leased the same unit at once by two
    /// custodians, are one: counting them as two left a unit waiting for partners that could never pair (netlab).
    /// With `adding`, a replica that custodian would lease to a worker on that network counts too.
    static func useful(_ records: UnitRecords, _ inFlight: [Who], capacity: Int, adding: (custodian: Who, network: Who)? = nil) -> Int {
        func candidate(_ worker: Who, _ custodian: Who, _ network: Who) -> Candidate {
            Candidate(
                reveal: Reveal(worker: worker, digest: [], output: [], time: .max, seal: []), sealTime: 0, custodian: custodian,
                network: network, networkBytes: [])
        }
        var candidates = inFlight.compactMap { worker in records.vouching(worker).map { candidate(worker, $0.custodian, $0.network) } }
        if let adding { candidates.append(candidate(adding.network, adding.custodian, adding.network)) }
        return matching(candidates, capacity: capacity).count
    }

    /// The replica slots of `unit` that `custodian` owns in the current set: slot j belongs to member
    /// (unit + round + j) mod c, round-robin when replicas > c. The round is the unit's attempts over its replicas:
    /// a unit whose replicas failed to agree moves its slots on, so that a custodian that never lets its slot
    /// produce an agreeing result (SECURITY.md, one corrupt custodian) holds a unit back for some rounds only.
    public func slots(of custodian: Ed25519PublicKey, unit: Int) -> Int {
        let set = authority.current
        guard let index = set.firstIndex(where: { $0.key == custodian }) else { return 0 }
        let round = self.round(unit)
        return (0..<policy.replicas).filter { (unit + round + $0) % set.count == index }.count
    }

    /// The custodians that own a slot of `unit` now, in slot order.
    public func slotOwners(unit: Int) -> [Ed25519PublicKey] {
        let set = authority.current
        let round = self.round(unit)
        return (0..<policy.replicas).map { set[(unit + round + $0) % set.count].key }
    }

    /// The custodians that own a slot of `unit` now or owned one in the round before: a replica leased in the last
    /// round and still in flight when that round's other replicas ended (one ended early by an error, or revealed
    /// alone in an adaptive job) keeps its partners. Counting only this round's owners left such a worker waiting
    /// for a partner the verdict counted on, its unit stalled until its lease ran out (bench adaptive, sleeper).
    /// `set`: those of an earlier epoch's set instead of the current one (`ownedBefore`).
    func owners(_ unit: Int, in set: [CustodianMember]? = nil) -> Set<Who> {
        let set = set ?? authority.current
        let round = self.round(unit)
        return Set((max(0, round - 1)...round).flatMap { round in
            (0..<policy.replicas).map { Who(set[(unit + round + $0) % set.count].key) }
        })
    }

    /// How many rounds of replicas `unit` has used up: its attempts that ended (a result or an error) without
    /// validating it, over `replicas`. Replicas still out do not move the round, so partners keep their slots.
    func round(_ unit: Int) -> Int {
        let records = perUnit[unit - units.lowerBound]
        let ended = records.kept.filter { records.ended($0.worker) }
        return Self.attempts(ended, share: policy.attemptsPerCustodian(custodians: setSize)) / max(1, policy.replicas)
    }

    /// `units` split into those started, with a replica in flight (live, or sealed and waiting) or a result in, and
    /// the others. A unit with a result and none in flight waits for a replica: counted as fresh, it was refused to
    /// every untrusted worker whose own results waited for partners (`freshUnitLimit`), and a swarm of 6 new keys,
    /// 2 of them colluders, leased nothing until its leases were a lease period old, again and again (bench
    /// adaptive, 600 units, 6 peers, colluders: past 150 s in 3 runs of 5; AdaptiveSwarmTests).
    func splitByStart(_ units: [Int], now: Int64) -> (started: [Int], fresh: [Int]) {
        var started: [Int] = []
        var fresh: [Int] = []
        for unit in units {
            let records = perUnit[unit - self.units.lowerBound]
            if records.reveals.isEmpty && inFlight(unit, now: now).isEmpty {
                fresh.append(unit)
            } else {
                started.append(unit)
            }
        }
        return (started, fresh)
    }

    /// The leases of `worker` still live at `now` with at least half their time left, under which it did nothing
    /// yet (no seal, result, error or release) and none of whose units it says it holds: leases whose answer was
    /// lost on the way to the worker. Any custodian that knows such a lease hands it to the worker again.
    public func undeliveredLeases(of worker: Ed25519PublicKey, holding: Set<Int>, now: Int64) -> [CustodyRecord] {
        let who = Who(worker)
        let half = Int64(policy.leaseSeconds) * 500
        var found: [CustodyRecord] = []
        for (id, record) in records where record.kind == .lease && record.worker == worker && record.expires - half > now {
            let untouched = record.entries.allSatisfy { entry in
                let unit = perUnit[entry.unit - units.lowerBound]
                return !holding.contains(entry.unit) && !unit.acted(who) && !unit.releases.contains { $0.lease == id }
            }
            if untouched { found.append(record) }
        }
        return found.sorted { $0.time < $1.time }
    }

    /// True when `worker` was ever leased `unit`.
    public func wasLeased(_ worker: Ed25519PublicKey, unit: Int) -> Bool {
        let worker = Who(worker)
        return perUnit[unit - units.lowerBound].leases.contains { $0.worker == worker }
    }

    /// How many sealed workers could complete a quorum with `worker`'s result now: itself and those leased by
    /// another custodian on another network that had not revealed when it sealed (DESIGN.md, Copy-proof: a seal
    /// made after a reveal never pairs with it). Without a worker, or one with no seal: sealed workers yet to
    /// reveal. A worker reveals once this reaches the quorum. With `now`, a sealer yet to reveal counts only while
    /// it is in flight (`UnitRecords.inFlight`): a worker that died after sealing is no partner once its lease and
    /// wait are over (netlab kill-custodian: every later worker revealed at once, paired with the dead seal, and
    /// each result stood alone until the unit had no worker left to lease).
    public func partners(of worker: Ed25519PublicKey?, unit: Int, now: Int64? = nil) -> Int {
        // A unit drawn to run once needs no partner: its worker reveals now (adaptive replication).
        if policy.isAdaptive, let worker, adaptive.runsOnce.contains(UnitWorker(unit: unit, worker: Who(worker))) {
            return policy.quorum
        }
        // The replica of a closing check reveals at once too: it is compared with a result already out.
        if let worker, revealsAsClosingReplica(worker, unit: unit, now: now) { return policy.quorum }
        let records = perUnit[unit - units.lowerBound]
        // A sealer whose lease ended in an error will never reveal; one yet to reveal that is no longer in flight
        // may never.
        let sealers = records.sealers(flying: now.map { inFlight(unit, now: $0) })
        guard let worker = worker.map(Who.init), let mine = records.seal(of: worker), let lease = records.vouching(worker) else {
            return sealers.filter { sealer in !records.reveals.contains { $0.worker == sealer } }.count
        }
        // Those that could count with it: leased by a custodian owning a slot of the unit now or in the round before (its first replica
        // only: a custodian minting leases to friends whose seals would make honest workers reveal too soon gets
        // one), another custodian, another network, and no reveal before its seal.
        let owners = self.owners(unit)
        // Each custodian counts once (`custodianCapacity` times when the set is smaller than the quorum).
        var counted: [Who: Int] = [lease.custodian: 1]
        var partners = 1
        var others: [(sealer: Who, lease: Lease)] = []
        for sealer in sealers where sealer != worker {
            if let theirs = records.vouching(sealer) { others.append((sealer, theirs)) }
        }
        others.sort { a, b in a.lease.time != b.lease.time ? a.lease.time < b.lease.time : a.lease.id < b.lease.id }
        for (sealer, theirs) in others
        where (owners.contains(theirs.custodian) || ownedBefore(theirs, unit: unit)) && counted[theirs.custodian, default: 0] < custodianCapacity {
            guard theirs.network != lease.network,
                records.reveals.filter({ $0.worker == sealer }).allSatisfy({ $0.time >= mine.time })
            else { continue }
            counted[theirs.custodian, default: 0] += 1
            partners += 1
        }
        return partners
    }

    /// True when `lease`, signed under an earlier set than the current one and before the change that ended that
    /// set, came from a custodian owning a slot of `unit` in that set (this round or the one before). A custodian
    /// that leaves the set (a node stopped or restarted hands its custody over) owns no slot in the new one, and the
    /// seals of the workers it had leased to stopped counting as partners: their partners waited to reveal until the
    /// seal fell out of flight, a lease period after the lease, and the unit took a fresh replica (netlab restart:
    /// 66 s against 15 s, in 1 run of 2). A lease it signs at its old epoch after the change still counts for nothing.
    func ownedBefore(_ lease: Lease, unit: Int) -> Bool {
        guard lease.epoch < authority.epoch, let set = authority.set(at: lease.epoch),
            lease.time <= authority.changes[lease.epoch].time
        else { return false }
        return owners(unit, in: set).contains(lease.custodian)
    }

    /// True when `worker` sealed `unit` as the one replica of a closing check and may reveal at once: it is compared
    /// with the checked result, already out. Not while another worker but the checked one has sealed the unit or
    /// holds a lease of it in flight: two custodians whose views lagged each other each leased a closing replica,
    /// both revealed at once, and when the first differed from the checked result the fresh quorum could not pair
    /// with the second (a seal made after a reveal never pairs with it): with 4 workers no worker was left (bench
    /// adaptive, 1,200 units, 4 peers, sleeper: 4 stalls in about 300 runs). The two replicas wait for each other
    /// then, as partners (`partners`), and pair if the check takes a fresh quorum. The custodian answering learns
    /// the others' records before it says so (`ColonyPeer.syncBeforeClosingReveal`). With `now`, a sealer that never
    /// revealed and is no longer in flight (it sat on its seal, or is gone) does not count: a peeker sat on a closing
    /// replica, and every honest replica after it waited for it as a partner it could never have (bench adaptive,
    /// collatz-4e7, peeker: a stall of 700 s).
    public func revealsAsClosingReplica(_ worker: Ed25519PublicKey, unit: Int, now: Int64?) -> Bool {
        let who = Who(worker)
        guard policy.isAdaptive, let checked = adaptive.closing[unit], checked != who else { return false }
        let records = perUnit[unit - units.lowerBound]
        guard records.seal(of: who) != nil else { return false }
        let flying = now.map { self.inFlight(unit, now: $0) }
        return Set(records.sealers(flying: flying)).union(flying ?? []).subtracting([who, checked]).isEmpty
    }

    /// The latest time (the sealer's clock) a worker other than `worker` sealed `unit`, or 0. Seals count with a
    /// reveal only when stamped no later than the first reveal (`independent`); the times are the workers' own, so
    /// a worker told its quorum is complete stamps its reveal no earlier than this. Otherwise a partner whose
    /// clock ran ahead of its own sealed "after" the reveal, the pair never counted, and with two networks the
    /// unit could not finish.
    /// How long a worker may keep a sealed result back once it could reveal it, in milliseconds. An honest worker
    /// asks how its seals stand every 0.25 s during its lease and at least every 10 s after, and reveals on stopping.
    public static let revealGrace: Int64 = 30_000

    /// A unit `worker` sealed and has not revealed although it could have for `revealGrace`: its seal and every other
    /// seal of the unit are that old, and the custodians count a quorum with its seal (partners, a draw to run once,
    /// or a closing check) or the unit is decided. Nil when there is none.
    public func keptBack(by worker: Ed25519PublicKey, now: Int64) -> Int? {
        let who = Who(worker)
        let before = now - Self.revealGrace
        for unit in (unrevealed[who] ?? []).sorted() {
            let index = unit - units.lowerBound
            let records = perUnit[index]
            guard let seal = records.seal(of: who), seal.time < before,
                !records.commits.contains(where: { $0.worker != who && $0.time >= before })
            else { continue }
            if validated[index] != nil || partners(of: worker, unit: unit, now: now) >= policy.quorum { return unit }
        }
        return nil
    }

    public func latestSeal(unit: Int, except worker: Ed25519PublicKey?) -> Int64 {
        let except = worker.map(Who.init)
        return perUnit[unit - units.lowerBound].commits.filter { $0.worker != except }.map(\.time).max() ?? 0
    }

    // MARK: Validation

    /// The reason given for an agreeing result whose seal came after the result was revealed: it may be a copy.
    public static let sealedLate = "sealed after the result was revealed"

    /// The verdict on every unit of the shard. `now` (milliseconds) decides which leases are still live; without
    /// it every lease not ended by a result counts as ended (for re-verification after the fact).
    public func verdicts(now: Int64?, equivalent: ([UInt8], [UInt8]) -> Bool) -> [UnitVerdict] {
        units.map { verdict(unit: $0, now: now, equivalent: equivalent) }
    }

    /// The verdict on one unit (DESIGN.md, Trust):
    /// - a reveal counts when it matches its worker's seal and a lease vouches for it;
    /// - reveals group by equivalent outputs; a group validates when `quorum` of its reveals were leased by
    ///   distinct custodians to workers on distinct networks, every one of them sealed before any of them revealed
    ///   (a seal made after a reveal could be a copy of it);
    /// - of groups that validate, the one that completed first wins (then the larger, then the smaller digest):
    ///   one group at most can, unless a quorum of custodians or colluders on a quorum of networks were assigned
    ///   the unit (SECURITY.md).
    public func verdict(unit: Int, now: Int64?, equivalent: ([UInt8], [UInt8]) -> Bool) -> UnitVerdict {
        let index = unit - units.lowerBound
        guard policy.isAdaptive else { return validated[index] ?? computeVerdict(unit: unit, now: now, equivalent: equivalent) }
        let state = adaptive
        if let base = validated[index] { return adapted(base, now: now, in: state) }
        // A unit validated by one result: like one validated by a quorum, its verdict changes with its records only,
        // but for the leases live at `now` (it has no open slot).
        guard state.single[unit] != nil, var base = unquorate[index] else {
            return adapted(computeVerdict(unit: unit, now: now, equivalent: equivalent), now: now, in: state)
        }
        base.liveLeases = Self.live(perUnit[index], now: now)
        return adapted(base, now: now, in: state)
    }

    /// How many distinct workers hold a lease of the unit live at `now` and not ended by a result or an error; none
    /// without `now`.
    static func live(_ records: UnitRecords, now: Int64?) -> Int {
        distinct(records.kept.filter { lease in !records.ended(lease.worker) && (now.map { lease.expires > $0 } ?? false) }.map(\.worker)).count
    }

    /// `excluding`: workers whose results do not count (a cold quorum rechecked, `ShardLedger.recheck`).
    func computeVerdict(unit: Int, now: Int64?, equivalent: ([UInt8], [UInt8]) -> Bool, excluding: [Who] = []) -> UnitVerdict {
        // A unit has a handful of records: scans of short arrays here, not sets of keys.
        let records = perUnit[unit - units.lowerBound]
        var invalid: [(Who, String)] = []
        var valid: [Candidate] = []
        for reveal in records.reveals.sorted(by: Self.revealOrder)
        where !valid.contains(where: { $0.reveal.worker == reveal.worker }) && !excluding.contains(reveal.worker) {
            guard !invalid.contains(where: { $0.0 == reveal.worker }) else { continue }
            guard let lease = records.vouching(reveal.worker) else {
                invalid.append((reveal.worker, "no lease"))
                continue
            }
            guard let seal = records.seal(of: reveal.worker), reveal.seal == seal.seal else {
                invalid.append((reveal.worker, "reveal does not match its commit"))
                continue
            }
            valid.append(
                Candidate(
                    reveal: reveal, sealTime: seal.time, custodian: lease.custodian, network: lease.network,
                    networkBytes: lease.networkBytes))
        }
        // Groups of equivalent outputs, built in a fixed order (digest, then worker) so that the result does not
        // depend on the order records arrived in.
        let ordered = valid.sorted {
            $0.reveal.digest != $1.reveal.digest
                ? $0.reveal.digest.lexicographicallyPrecedes($1.reveal.digest)
                : $0.reveal.worker < $1.reveal.worker
        }
        var groups: [[Candidate]] = []
        for candidate in ordered {
            if let index = groups.firstIndex(where: {
                $0[0].reveal.digest == candidate.reveal.digest || equivalent($0[0].reveal.output, candidate.reveal.output)
            }) {
                groups[index].append(candidate)
            } else {
                groups.append([candidate])
            }
        }
        let counted = groups.map { Self.independent($0, quorum: policy.quorum, capacity: custodianCapacity) }
        let kept = records.kept
        let live = Self.live(records, now: now)
        // A lease given back does not count as an attempt; each custodian counts for at most its share.
        let attempts = Self.attempts(kept, share: policy.attemptsPerCustodian(custodians: setSize))
        var verdict = UnitVerdict(
            unit: unit, state: .open, output: nil, agreeing: [], attempts: attempts, liveLeases: live,
            commits: Self.distinct(records.commits.map(\.worker)).count, invalid: invalid.map { (name($0.0), $0.1) },
            openSlots: 0)
        let winner = counted.indices.filter { counted[$0].members.count >= policy.quorum }.min { a, b in
            let (x, y) = (counted[a], counted[b])
            if x.completed != y.completed { return x.completed < y.completed }
            if x.members.count != y.members.count { return x.members.count > y.members.count }
            return a < b
        }
        if let winner {
            let members = counted[winner].members
            verdict.state = .validated
            verdict.output = members[0].reveal.output
            verdict.custodians = members.map { name($0.custodian) }
            verdict.networks = members.map(\.networkBytes)
            // Beyond those counted, a replica agrees when it sealed before any other of its group revealed; one
            // that sealed after could have copied.
            let group = groups[winner]
            for candidate in group {
                let firstOtherReveal = group.filter { $0.reveal.worker != candidate.reveal.worker }.map(\.reveal.time).min() ?? .max
                if members.contains(where: { $0.reveal.worker == candidate.reveal.worker }) || candidate.sealTime <= firstOtherReveal {
                    verdict.agreeing.append(name(candidate.reveal.worker))
                } else {
                    verdict.invalid.append((name(candidate.reveal.worker), Self.sealedLate))
                }
            }
            for (index, group) in groups.enumerated() where index != winner {
                for candidate in group { verdict.invalid.append((name(candidate.reveal.worker), "disagrees with the quorum")) }
            }
            return verdict
        }
        if attempts >= policy.maxAttempts {
            if live == 0 { verdict.state = .failed }
            return verdict
        }
        // New replicas: none while the results in and the seals in flight can still make a quorum; otherwise, as a
        // new seal pairs only with replicas still to reveal (never with a result already out), enough in flight for
        // a fresh quorum (`replicas` before the first result).
        let inFlight = now.map { self.inFlight(unit, now: $0) } ?? []
        // Sealed replicas still to reveal may join any group: candidates that reveal last.
        let pending: [Candidate] = inFlight.compactMap { worker in
            guard let seal = records.seal(of: worker), let lease = records.vouching(worker) else { return nil }
            let reveal = Reveal(worker: worker, digest: [], output: [], time: .max, seal: seal.seal)
            return Candidate(
                reveal: reveal, sealTime: seal.time, custodian: lease.custodian, network: lease.network, networkBytes: [])
        }
        let pairing = groups.map { Self.independent($0 + pending, quorum: policy.quorum, capacity: custodianCapacity).members.count }.max() ?? 0
        if pairing < policy.quorum {
            let target = valid.isEmpty ? policy.replicas : policy.quorum
            verdict.openSlots = max(0, min(target - Self.useful(records, inFlight, capacity: custodianCapacity), policy.maxAttempts - attempts))
        }
        return verdict
    }

    /// Attempts `kept` leases count for: distinct workers per custodian, each custodian up to its share.
    static func attempts(_ kept: [Lease], share: Int) -> Int {
        var byCustodian: [Who: [Who]] = [:]
        for lease in kept where !(byCustodian[lease.custodian]?.contains(lease.worker) ?? false) {
            byCustodian[lease.custodian, default: []].append(lease.worker)
        }
        return byCustodian.values.reduce(0) { $0 + min(share, $1.count) }
    }

    /// A valid reveal with what vouches for it.
    struct Candidate {
        var reveal: Reveal
        var sealTime: Int64
        var custodian: Who
        var network: Who
        var networkBytes: [UInt8]
    }

    /// The key behind a packed one (every packed key in the records came from a key inserted with them).
    func name(_ who: Who) -> Ed25519PublicKey { names[who]! }

    /// The largest part of a group that counts toward quorum: distinct custodians, distinct networks, and every
    /// seal before every reveal. With when it reached `quorum` (the quorum-th reveal's time).
    static func independent(_ group: [Candidate], quorum: Int, capacity: Int = 1) -> (members: [Candidate], completed: Int64) {
        var best: [Candidate] = []
        // The part that counts starts at one of its reveals: try each reveal time as the first.
        for start in Set(group.map(\.reveal.time)).sorted() {
            // Sealed before the part's first reveal, or in its millisecond: a worker whose seal completes a quorum
            // reveals at once, and its partner, told so, reveals at once too, so either's seal may share the
            // millisecond of the first reveal. Netlab found units left open for good when the strict rule refused
            // such a pair, both ways round (issue 12; CI nat-only, 2026-12-04: a result from each of the only two
            // networks, so no third replica could be leased). Copying needs the reveal, which no custodian serves
            // to workers while the unit is undecided; a millisecond adds nothing to that.
            let eligible = group.filter { $0.reveal.time >= start && $0.sealTime <= start }
            guard eligible.count > best.count else { continue }
            let matched = matching(eligible, capacity: capacity)
            if matched.count > best.count { best = matched }
        }
        let times = best.map(\.reveal.time).sorted()
        return (best, times.count >= quorum ? times[quorum - 1] : .max)
    }

    /// A largest subset with pairwise distinct networks in which each custodian vouches for at most `capacity`
    /// candidates: a maximum bipartite matching between custodians (each `capacity` times) and networks, each
    /// candidate an edge (Kuhn's augmenting paths; a unit has a few candidates).
    static func matching(_ candidates: [Candidate], capacity: Int = 1) -> [Candidate] {
        // Network → the candidate matched to it and the custodian's copy that holds it.
        var networkOwner: [Who: (index: Int, copy: Int)] = [:]
        func augment(_ custodian: Who, _ copy: Int, _ visited: inout Set<Who>) -> Bool {
            for (index, candidate) in candidates.enumerated() where candidate.custodian == custodian {
                guard visited.insert(candidate.network).inserted else { continue }
                if let owner = networkOwner[candidate.network] {
                    guard augment(candidates[owner.index].custodian, owner.copy, &visited) else { continue }
                }
                networkOwner[candidate.network] = (index, copy)
                return true
            }
            return false
        }
        for custodian in distinct(candidates.map(\.custodian)) {
            for copy in 0..<max(1, capacity) {
                var visited: Set<Who> = []
                _ = augment(custodian, copy, &visited)
            }
        }
        return networkOwner.values.map(\.index).sorted().map { candidates[$0] }
    }

    /// The workers of `workers` once each, in first-seen order.
    static func distinct<T: Equatable>(_ workers: [T]) -> [T] {
        var seen: [T] = []
        for worker in workers where !seen.contains(worker) { seen.append(worker) }
        return seen
    }

    private static func revealOrder(_ a: Reveal, _ b: Reveal) -> Bool {
        if a.time != b.time { return a.time < b.time }
        return a.digest.lexicographicallyPrecedes(b.digest)
    }
}

/// A key (or a network) packed into four words, so that the ledger's many comparisons of who did what cost four
/// integer compares and no reference counting (comparing `Ed25519PublicKey`s was a large share of a custodian's
/// time). Up to 32 bytes, with their count.
struct Who: Hashable, Comparable, Sendable {
    private let a: UInt64
    private let b: UInt64
    private let c: UInt64
    private let d: UInt64
    private let count: UInt8

    /// The first 32 bytes as four big-endian words. Not generic: walks make one per record and lease, and an
    /// unspecialized generic over the bytes cost a seventh of a debug build's CPU in the adaptive swarm tests.
    private init(raw: UnsafeRawBufferPointer) {
        let used = min(32, raw.count)
        func word(_ index: Int) -> UInt64 {
            var word: UInt64 = 0
            for offset in 0..<8 where index * 8 + offset < used { word |= UInt64(raw[index * 8 + offset]) << UInt64(56 - 8 * offset) }
            return word
        }
        (a, b, c, d) = (word(0), word(1), word(2), word(3))
        count = UInt8(used)
    }

    init(bytes: [UInt8]) { self = bytes.withUnsafeBytes { Who(raw: $0) } }

    init(_ key: Ed25519PublicKey) { self = key.rawRepresentation.withUnsafeBytes { Who(raw: $0) } }

    /// The network a worker counts under, as a lease states it: the network's bytes, or the worker itself when the
    /// policy turns the rule off (an empty network).
    init(network: [UInt8], of worker: Who) { self = network.isEmpty ? worker : Who(bytes: network) }

    static func < (x: Who, y: Who) -> Bool { (x.a, x.b, x.c, x.d, x.count) < (y.a, y.b, y.c, y.d, y.count) }

    /// A draw among workers for `seed`: the first value of the seeded generator for the seed and the key's words.
    /// Spread, not secrecy: anyone can compute it.
    func draw(_ seed: UInt64) -> UInt64 {
        var generator = SeededGenerator(seed: seed ^ a ^ b ^ c ^ d)
        return generator.next()
    }
}
