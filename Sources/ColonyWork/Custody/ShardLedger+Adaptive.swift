import ColonyCore
import Foundation
import Synchronization

// MARK: Adaptive replication (issue 14)
//
// In a job whose policy is adaptive, a unit leased to a worker that stood at `trustAfter` or more consecutive valid
// results in the shard when the lease was signed may run once: BOINC's adaptive replication, without its server.
//
// - Standing at a lease is computed from the shard's records alone, in the order of the custodian-signed lease
//   times: results in a validated quorum and results accepted alone count up; a result outvoted, an error, or a
//   lease that ended without a result (counted once its lease and the wait for partners are over) resets it.
// - The worker cannot tell whether its unit will be checked: the lease looks the same either way. Once the worker
//   has sealed (and so is bound to its output), the custodian that leased the unit signs the draw message over the
//   seal (`CustodyRecord.Kind.draw`); the unit is spot-checked when the draw's value falls below
//   max(minimum rate, 1/standing). A checked unit takes its replicas as any other unit; one drawn to run once is
//   validated by its worker's result alone, and anyone re-verifying recomputes the standing and the draw.
// - A result outvoted (a failed check) voids every result the worker had accepted alone since its last passed
//   check: those units open again and are computed afresh (their result came before any new seal, so it never
//   pairs with them). Standing after the failure starts from zero, so units leased after the cheat are never
//   accepted alone on the strength of the time before it.
//
// What this trusts: the custodian that leased the unit. It could sign draws that never check a colluding worker
// (a second signature of the same message is possible for a signer that does not follow RFC 8032's nonce); the
// quorum of distinct custodians protects replicated units from it, not units that run once. SECURITY.md says so.

/// The adaptive decisions over one shard, kept until the ledger changes.
final class AdaptiveCache: Sendable {
    let state = Mutex<AdaptiveState?>(nil)
    /// The decisions by the shard's records alone, without `ShardLedger.foreignFailures` (`ownFailures`); the same
    /// as `state` while there are none.
    let own = Mutex<AdaptiveState?>(nil)
    /// `ShardLedger.ownFailures`, from `own`: asked after every change of any shard of the job a custodian keeps.
    let failures = Mutex<[Ed25519PublicKey: [Int64]]?>(nil)

    init() {}

    /// A cache for the same records with other foreign failures: the decisions by the records alone still hold.
    init(keepingOwn other: AdaptiveCache) {
        own.withLock { $0 = other.own.withLock { $0 } }
        failures.withLock { $0 = other.failures.withLock { $0 } }
    }
}

/// A result run alone that the kernel's check was asked of (`ShardLedger.check`): the answers are remembered by
/// unit, worker and seed, nil for a check that cannot be run (a kernel without one, a blob input), asked once like
/// the others.
struct CheckedResult: Hashable, Sendable {
    var unit: Int
    var worker: Who
    var seed: UInt64
}

/// A worker on a unit.
struct UnitWorker: Hashable, Sendable {
    var unit: Int
    var worker: Who
}

/// A worker's check in a shard, as its prior standing elsewhere counts it (`ShardLedger.checks`).
public struct CheckFact: Sendable, Equatable {
    /// The time of the lease.
    public var time: Int64
    public var passed: Bool
    /// A lease without a result fails from here on; .min for a failure known at once.
    public var deadline: Int64 = .min
    /// For a failure, the latest signed time of the unit's records that show it: a custodian may have learnt of it
    /// no earlier (`ShardLedger.recountedPrior`).
    public var known: Int64 = .min
    /// For a passed check, the other workers whose results agreed with it.
    public var partners: [Ed25519PublicKey] = []

    public init(time: Int64, passed: Bool, deadline: Int64 = .min, known: Int64 = .min, partners: [Ed25519PublicKey] = []) {
        self.time = time
        self.passed = passed
        self.deadline = deadline
        self.known = known
        self.partners = partners
    }
}

/// One fact of a worker's history in the shard, as adaptive replication counts it.
struct AdaptiveFact: Sendable {
    enum Kind: Sendable {
        /// Its result was in a replicated quorum: a passed check.
        case checked
        /// Its result was accepted alone.
        case single
        /// Its result was outvoted or did not match its seal, or it withheld a result drawn for a spot check: a failed
        /// check.
        case failed
        /// It reported an error.
        case error
        /// Its lease has no result yet: counts as expired from `deadline` on.
        case unanswered
    }

    /// The unit of a failed check in another shard of the job (`ShardLedger.foreignFailures`).
    static let abroad = -1

    var kind: Kind
    /// The time of the lease.
    var time: Int64
    var unit: Int
    var deadline: Int64 = .max
    /// For a failure or error, the latest signed time of the unit's records when it was decided (`CheckFact.known`).
    var known: Int64 = .min
    /// For a passed check, the other workers whose results agreed.
    var partners: [Who] = []
    /// For a passed check, whether it was a sample of this worker's results: the lease claimed trust, so only a
    /// draw made after the worker sealed could replicate the unit, and no other worker had leased the unit before
    /// it (a spot check or closing check of it). Only such a check clears the results it had accepted alone. A
    /// worker can tell that its result will be compared when it is leased a unit another holds (it checks the other's
    /// result) or that others computed before (reopened), or is leased without trust (after an error, say), and be
    /// honest there alone.
    var sampled = false
    /// When the worker could first know the draw on its seal, and whose clock says so: the earliest draw of its
    /// lease's custodian on it (`ShardLedger.drawn`). A result accepted alone was sealed before; a worker checked
    /// may know it from then on.
    var drawn: (time: Int64, custodian: Who)?

    /// True when this fact resets the standing of leases signed at `time`: a failure or error before it, or a
    /// lease without a result whose deadline had passed by then.
    func resets(at time: Int64) -> Bool { time > resetsAfter }

    /// The latest lease time whose standing this fact leaves alone: it resets those of leases signed after
    /// (`resets`).
    var resetsAfter: Int64 {
        switch kind {
        case .failed, .error: time
        case .unanswered: max(time, deadline)
        case .checked, .single: .max
        }
    }
}

struct AdaptiveState: Sendable {
    /// Units validated by one worker's result alone.
    var single: [Int: Who] = [:]
    /// Units whose result accepted alone was voided by a later failed check of its worker.
    var voided: [Int: Who] = [:]
    /// Units reopened for a closing check, with the worker checked: one result (`closingPick`; two from a long run)
    /// each worker had accepted alone since its last passed check, once every unit of the shard is decided; one more
    /// replica is leased.
    var closing: [Int: Who] = [:]
    /// Results that would have been accepted alone and failed the kernel's check (`ShardLedger.refuted`), with
    /// their worker: failed checks, and the units take fresh replicas (they are in `voided` too).
    var refuted: [Int: Who] = [:]
    /// Results accepted alone that a closing check confirmed, with the replica that agreed.
    var confirmed: [Int: Who] = [:]
    /// Sealed units drawn to run once, whose worker may reveal at once.
    var runsOnce: Set<UnitWorker> = []
    /// Each worker's facts, in lease order.
    var facts: [Who: [AdaptiveFact]] = [:]
    /// Cold quorums in doubt, with their workers, whose results no longer count (`ShardLedger.recheck`).
    var rechecked: [Int: [Who]] = [:]
    /// Those of them whose fresh quorum is not in yet.
    var recheckOpen: Set<Int> = []
}

extension ShardLedger {
    /// The reason given for a result accepted alone, then voided by a later failed check of its worker.
    public static let voided = "voided: a later spot-check of this worker failed"
    /// The reason given for a result run alone that failed the kernel's check.
    public static let refutedReason = "run alone and failed the kernel's check"

    /// The units whose result run alone the kernel's check refutes now, with their worker. Only while the unit is
    /// open: once a fresh quorum decides it, the result is outvoted there like any other.
    public func refutedResults() -> [(unit: Int, worker: Ed25519PublicKey)] {
        adaptive.refuted.sorted { $0.key < $1.key }.map { ($0.key, name($0.value)) }
    }

    /// True when `output`, `worker`'s result of `unit` drawn to run alone by a draw with `seed`, fails the kernel's
    /// check (`check`). The seed comes from the draw, which the worker could not know when it sealed its output:
    /// a check that samples cannot be steered. A check the kernel does not have, or that cannot be run (a blob
    /// input), refutes nothing.
    func refuted(_ unit: Int, _ worker: Who, output: [UInt8], seed: UInt64) -> Bool {
        guard let check else { return false }
        // The walk asks after every change of the shard's records, for every result run alone: each is checked
        // once. A check that cannot be run counts as passed.
        let passed = checked.value(CheckedResult(unit: unit, worker: worker, seed: seed)) { check(unit, output, seed) }
        return passed == false
    }

    /// The adaptive decisions of the shard, computed once per change of the records.
    var adaptive: AdaptiveState {
        if foreignFailures.isEmpty { return ownAdaptive }
        return adaptiveCache.state.withLock { cached in
            if let cached { return cached }
            let state = computeAdaptive(foreign: foreignFailures)
            cached = state
            return state
        }
    }

    /// The adaptive decisions by the shard's records alone, without failures found in other shards.
    var ownAdaptive: AdaptiveState {
        adaptiveCache.own.withLock { cached in
            if let cached { return cached }
            let state = computeAdaptive(foreign: [:])
            cached = state
            return state
        }
    }

    /// The lease times of each worker's failed checks in this shard, by its records alone (`foreignFailures` left
    /// out, so that no shard's failures rest on another's): what the job's other shards take as foreign failures.
    public func ownFailures() -> [Ed25519PublicKey: [Int64]] {
        guard policy.isAdaptive else { return [:] }
        if let known = adaptiveCache.failures.withLock({ $0 }) { return known }
        var failures: [Ed25519PublicKey: [Int64]] = [:]
        for (worker, facts) in ownAdaptive.facts {
            let times = facts.filter { $0.kind == .failed && $0.unit != AdaptiveFact.abroad }.map(\.time)
            if !times.isEmpty { failures[name(worker)] = Array(Set(times)).sorted() }
        }
        adaptiveCache.failures.withLock { $0 = failures }
        return failures
    }

    /// The failures of `shards` (other shards of one job, each by its own records: `ownFailures`), merged, each
    /// worker's at most `maxForeignFailures`, the earliest: what each of them takes as `foreignFailures` but its own.
    public static func failures(in shards: [(shard: Int, failures: [Ed25519PublicKey: [Int64]])], besides shard: Int)
        -> [Ed25519PublicKey: [Int64]]
    {
        var merged: [Ed25519PublicKey: Set<Int64>] = [:]
        for other in shards where other.shard != shard {
            for (worker, times) in other.failures { merged[worker, default: []].formUnion(times) }
        }
        return merged.mapValues { Array($0.sorted().prefix(maxForeignFailures)) }
    }

    /// Gives each of `ledgers` (shards of one job) the others' failures as its foreign failures: how a re-verifier
    /// that gathered every shard counts a failed check in every shard.
    public static func shareFailures(among ledgers: inout [ShardLedger]) {
        let failures = ledgers.map { (shard: $0.shard, failures: $0.ownFailures()) }
        for index in ledgers.indices { ledgers[index].foreignFailures = Self.failures(in: failures, besides: ledgers[index].shard) }
    }

    /// How many failed checks `failures` holds, each worker's counted up to `maxForeignFailures`: what a hint tells
    /// of a shard, and what a custodian that gathered the shard compares it with.
    public static func failureCount(_ failures: [Ed25519PublicKey: [Int64]]) -> Int {
        failures.values.reduce(0) { $0 + min($1.count, maxForeignFailures) }
    }

    /// Foreign failures kept per worker: the earliest voids its run alone and takes its standing; later ones void
    /// what it ran alone on trust earned again in between.
    public static let maxForeignFailures = 64

    /// `worker`'s consecutive valid results in this shard among leases signed before `time` (milliseconds), plus
    /// `prior` (its standing earned elsewhere) while it has failed nothing here.
    public func standing(of worker: Ed25519PublicKey, at time: Int64, prior: Int = 0) -> Int {
        Self.standing(adaptive.facts[Who(worker)] ?? [], at: time) + counted(prior: prior, of: worker, at: time)
    }

    /// Debugging aid (`COLONY_BENCH_TRACE`): `worker`'s facts in the shard in lease order, one letter each (s alone,
    /// c checked, C a check that sampled its run, f failed, F failed in another shard, e error, u unanswered), the units of its closing checks
    /// still open and of those passed, and how many of its results are voided.
    public func adaptiveTrace(of worker: Ed25519PublicKey) -> String {
        let state = adaptive
        let who = Who(worker)
        let facts = state.facts[who] ?? []
        let letters = facts.map { fact -> String in
            switch fact.kind {
            case .single: "s"
            case .checked: fact.sampled ? "C" : "c"
            case .failed: fact.unit == AdaptiveFact.abroad ? "F" : "f"
            case .error: "e"
            case .unanswered: "u"
            }
        }.joined()
        let closing = state.closing.filter { $0.value == who }.keys.sorted()
        let confirmed = state.confirmed.filter { unit, checker in checker != who && facts.contains { $0.unit == unit } }.keys.sorted()
        return "facts \(letters); closing \(closing); confirmed \(confirmed); voided \(state.voided.filter { $0.value == who }.count)"
    }

    /// Debugging aid (`COLONY_BENCH_TRACE`): the adaptive decisions on `unit`, with each sealer's partner count.
    public func adaptiveTrace(ofUnit unit: Int, now: Int64) -> String {
        let state = adaptive
        func short(_ who: Who?) -> String { who.map { String(name($0).hex.prefix(4)) } ?? "-" }
        let records = perUnit[unit - units.lowerBound]
        let sealers = Self.distinct(records.commits.map(\.worker))
        return "single \(short(state.single[unit])), voided \(short(state.voided[unit])), closing \(short(state.closing[unit])), "
            + "confirmed \(short(state.confirmed[unit])), runs once \(state.runsOnce.filter { $0.unit == unit }.map { short($0.worker) }), "
            + "rechecked \(state.rechecked[unit].map { $0.map { short($0) } } ?? []), recheck open \(state.recheckOpen.contains(unit)), "
            + "partners \(sealers.map { "\(short($0)) \(partners(of: name($0), unit: unit, now: now))" })"
    }

    /// How much of a prior standing counts for `worker` at `time`: all of it while it has failed nothing here.
    public func counted(prior: Int, of worker: Ed25519PublicKey, at time: Int64) -> Int {
        prior > 0 && Self.unbroken(adaptive.facts[Who(worker)] ?? [], at: time) ? prior : 0
    }

    /// True when no fact known by `time` resets the standing.
    static func unbroken(_ facts: [AdaptiveFact], at time: Int64) -> Bool {
        !facts.contains { $0.resets(at: time) }
    }

    /// `worker`'s checks in this shard, for its prior standing in other jobs and shards: results in a replicated
    /// quorum (passed), outvoted results and errors (failed), and leases without a result (failed from their
    /// deadline). Results accepted alone are left out: they rest on a standing themselves.
    public func checks(of worker: Ed25519PublicKey) -> [CheckFact] {
        (adaptive.facts[Who(worker)] ?? []).compactMap { fact in
            switch fact.kind {
            case .checked: CheckFact(time: fact.time, passed: true, partners: fact.partners.map(name))
            // A failure in another shard counts there.
            case .failed where fact.unit == AdaptiveFact.abroad: nil
            case .failed, .error: CheckFact(time: fact.time, passed: false, known: fact.known)
            case .unanswered: CheckFact(time: fact.time, passed: false, deadline: fact.deadline)
            case .single: nil
            }
        }
    }

    /// How long after the records that show a failure a re-verifier counts it against a prior standing a lease
    /// claims (`recountedPrior`), in milliseconds: longer than a custodian takes to hear of records signed elsewhere.
    public static let priorGrace: Int64 = 60_000

    /// A lease's prior standing counted again by a re-verifier from the cited shards' records as they ended
    /// (`priorCheck`): as `priorStanding` counts, but a failure only once its records were `priorGrace` old when
    /// the lease was signed. A failure found later, though of an earlier lease (a checked seal its worker never
    /// revealed, a result outvoted once its replicas came in), was unknown to the custodian that counted the claim:
    /// counted from its lease's time, the re-verifier found less than every custodian had and left the results
    /// run alone on that claim unvalidated, though nobody would ever compute them again (AdaptiveSwarmTests,
    /// vanish: 56 units). The custodians' own count (`Custodian.priorStanding`) takes every failure they know.
    public static func recountedPrior(_ checks: [CheckFact], at time: Int64) -> Int {
        priorStanding(checks.filter { $0.passed || $0.known + priorGrace < time }, at: time)
    }

    /// Passed checks with one partner that count toward a prior standing, for a worker that has failed a check.
    public static let maxPriorChecksPerPartner = 2

    /// The prior standing `checks` give at `time`: passed checks of leases signed before `time` since the latest
    /// failure known by then. A worker that has failed any check known by then must earn it with diverse partners:
    /// at most `maxPriorChecksPerPartner` checks count per partner (a check counts while one of its partners is
    /// under that). Two colluders who pass each other's wrong results in a replicated job, between failures
    /// against honest workers, would otherwise bring that run of passes to an adaptive job as trust.
    public static func priorStanding(_ checks: [CheckFact], at time: Int64) -> Int {
        var lastFailure = Int64.min
        for check in checks where !check.passed && check.time < time && check.deadline < time {
            lastFailure = max(lastFailure, check.time)
        }
        let passes = checks.filter { $0.passed && $0.time < time && $0.time > lastFailure }
        guard lastFailure > .min else { return passes.count }
        var perPartner = PartnerCount<Ed25519PublicKey>()
        // In time order, then by partners, so that every re-verifier counts the same whatever order it gathered in.
        let keyed: [(check: CheckFact, key: String)] = passes.map { check in (check, check.partners.map(\.hex).sorted().joined()) }
        let ordered = keyed.sorted { a, b in a.check.time != b.check.time ? a.check.time < b.check.time : a.key < b.key }
        return ordered.filter { perPartner.counts($0.check.partners) }.count
    }

    /// Passed checks counted at most `maxPriorChecksPerPartner` per partner: a check counts while one of its
    /// partners is under that (or it names none), and then counts against each of them.
    struct PartnerCount<Partner: Hashable> {
        private var seen: [Partner: Int] = [:]

        mutating func counts(_ partners: [Partner]) -> Bool {
            guard partners.isEmpty || partners.contains(where: { seen[$0, default: 0] < maxPriorChecksPerPartner }) else { return false }
            for partner in partners { seen[partner, default: 0] += 1 }
            return true
        }
    }

    /// How many fresh units (none of whose replicas is out) `custodian` may lease `worker` now in an adaptive job:
    /// a worker not yet trusted holds at most `trustAfter` − standing units that wait on a verdict, so that it
    /// earns trust before it takes many units; a trusted one, at most its standing per lease, so that trust is
    /// spent no faster than it was earned. Units already started by others (their second replica) are not capped.
    /// `standing`: the worker's, with the part of its prior standing that counts (`standing(of:at:prior:)`).
    ///
    /// A unit the worker revealed waits on a verdict while one may still come: a replica of it is in flight, or a
    /// worker leased in the shard within the last lease period could still take it (it has not acted on the unit
    /// and is on another network than the worker). A failed unit, or one every worker about has acted on with no
    /// quorum, waits on nothing: counted for good, a few such units (colluders' outputs outvoting nobody) brought
    /// every untrusted worker's limit to 0 and stalled a whole shard (AdaptiveSwarmTests, new keys only).
    public func freshUnitLimit(for worker: Ed25519PublicKey, now: Int64, standing: Int) -> Int {
        guard policy.isAdaptive else { return .max }
        if standing >= policy.trustAfter { return standing }
        let who = Who(worker)
        let state = adaptive
        let since = now - Int64(policy.leaseSeconds) * 1000
        let network = lessees[who]?.network
        var waiting = 0
        for (index, records) in perUnit.enumerated()
        where validated[index] == nil && state.single[units.lowerBound + index] == nil && unquorate[index]?.state != .failed {
            let inFlight = self.inFlight(units.lowerBound + index, now: now)
            if inFlight.contains(who) {
                waiting += 1
                continue
            }
            guard records.reveals.contains(where: { $0.worker == who }) else { continue }
            let partnerAbout = lessees.contains { candidate, latest in
                candidate != who && latest.time > since && latest.network != network && !records.acted(candidate)
            }
            if !inFlight.isEmpty || partnerAbout { waiting += 1 }
        }
        return max(0, policy.trustAfter - standing - waiting)
    }

    /// Whether another custodian of the set than `custodian` may lease `worker` (not trusted) the next replica of a
    /// unit another worker started, under the pairing rule as `askers` and `pairs` (`sharedPairs`) stand here. While one may,
    /// `custodian` leases the worker no fresh unit once it holds one waiting on a verdict (`Custodian.lease`): the
    /// worker goes there and the unit pairs.
    /// Two new keys that asked the same custodian first took fresh units from it up to the cap, each needing a
    /// replica only another custodian could lease (the slots of a unit belong to distinct custodians), and computed
    /// 16 replicated results each before they stood at 10 instead of 10 (bench adaptive, mersenne-10k, 2 peers, new
    /// keys: 58–61 % CPU overhead in 3 runs of 6 against 39–48 %).
    func startedElsewhere(
        for worker: Ed25519PublicKey, network: [UInt8], besides custodian: Ed25519PublicKey, now: Int64,
        askers: [Who: (time: Int64, network: Who)], pairs: [Who: [Who: Int]], equivalent: ([UInt8], [UInt8]) -> Bool
    ) -> Bool {
        guard policy.isAdaptive else { return false }
        let who = Who(worker)
        for (index, records) in perUnit.enumerated() where !records.leases.isEmpty && !records.acted(who) {
            let unit = units.lowerBound + index
            guard records.kept.contains(where: { $0.worker != who && $0.expires > now && !records.ended($0.worker) }) else { continue }
            let others = Set(slotOwners(unit: unit)).subtracting([custodian])
            guard others.contains(where: { mayLease(worker, network: network, unit: unit, by: $0, now: now, equivalent: equivalent) }) else {
                continue
            }
            if pairing(unit, for: worker, now: now, askers: askers, pairs: pairs) != nil { return true }
        }
        return false
    }

    /// The pairing rule against colluders: a worker not trusted does not partner another worker not trusted on a unit
    /// while a trusted worker could take it instead, nor on more than `maxSharedUntrusted` units of the shard while
    /// any other worker could; so a quorum has a trusted member where one can, and two untrusted workers share few.
    ///
    /// Colluders returning one agreed wrong output validate it only when both replicas of a unit go to them, about f²
    /// of the replicated units. A colluder's result paired with an honest worker's is outvoted and resets its
    /// standing, so colluders stay untrusted unless they earn trust on each other's results, which the cap on shared
    /// units stops (two colluders asking one after the other would otherwise share a whole lease: a worker takes
    /// units already started first). It is a rule for the custodian leasing the second replica (its own lease is
    /// what it withholds), not a condition of validity: a dishonest custodian can ignore it for the slots it owns.
    /// Before anyone in a shard is trusted, two colluders can still share up to `maxSharedUntrusted` of its units.
    /// SECURITY.md, colluding cheaters.
    ///
    /// The untrusted workers `worker` would partner on `unit` (empty when none), or nil when the unit is closed to it:
    /// another worker holds it (live, sealed and waiting, or with a result no error ended) under a lease claiming less
    /// than `trustAfter`, and either a worker trusted within the last lease period could partner it, or `worker`
    /// shares the cap with a holder (`pairs`: the units each pair of workers shares, `sharedPairs` plus those picked
    /// so far) and a worker leased in the shard within the last lease period could partner it without reaching the
    /// cap itself. When every worker that could partner the unit is at the
    /// cap with a holder as well, none of them may take it without passing the cap, and waiting for one another they
    /// stalled small swarms of new keys for a lease period (4 workers: 310 s for mersenne-10k, against 9 s
    /// replicated), after which whoever asked first took it. Now, once the unit has waited a tenth of a lease period,
    /// a draw picks the one that may (`drawnPartner`): colluders get the unit as often as chance gives them, not
    /// whenever they ask first. A worker could
    /// partner the unit when it has not acted on it, holds no live lease of it, and is on another network than its
    /// holders. `askers`: trusted workers that asked the custodian for units of the shard (when each last asked,
    /// its network); one that asked within the last lease period and could partner the unit is about to take it,
    /// so the unit waits for it as for a trusted lessee. Only one that could: trusted workers that had acted on a unit and kept asking for
    /// others held it from every untrusted worker for as long as they asked, and the shard never finished (bench
    /// adaptive, colluders, about 1 run in 25 under load: every worker refused, none of them acting).
    func pairing(
        _ unit: Int, for worker: Ed25519PublicKey, now: Int64, askers: [Who: (time: Int64, network: Who)],
        pairs: [Who: [Who: Int]]
    ) -> [Who]? {
        let records = perUnit[unit - units.lowerBound]
        let me = Who(worker)
        let setAside = self.setAside(unit)
        let holders = self.holders(unit, now: now).filter { !setAside.contains($0) }
        let untrusted = holders.filter { $0 != me && (records.vouching($0)?.claim ?? 0) < policy.trustAfter }
        guard !untrusted.isEmpty else { return [] }
        let networks = holders.compactMap { records.vouching($0)?.network }
        let since = now - Int64(policy.leaseSeconds) * 1000
        func couldPartner(_ candidate: Who, _ latest: (time: Int64, network: Who)) -> Bool {
            candidate != me && latest.time > since && !networks.contains(latest.network) && !records.acted(candidate)
                && !records.kept.contains { $0.worker == candidate && $0.expires > now }
        }
        if trustingLeases.contains(where: couldPartner) || askers.contains(where: couldPartner) { return nil }
        func atCap(_ a: Who, _ b: Who) -> Bool { pairs[a]?[b, default: 0] ?? 0 >= Self.maxSharedUntrusted }
        guard untrusted.contains(where: { atCap(me, $0) }) else { return untrusted }
        let others = lessees.filter(couldPartner).map(\.key)
        guard !others.isEmpty else { return untrusted }
        // One that could take the unit without passing the cap: the unit waits for it.
        if others.contains(where: { other in !untrusted.contains { atCap(other, $0) } }) { return nil }
        // Not before the unit waited a tenth of a lease period for a worker that could take it within the cap (one
        // coming to the shard): drawn among few workers at once, as at a shard's start, colluders among them would
        // get more of it than the swarm's share.
        let held = untrusted.compactMap { records.vouching($0)?.time }.max() ?? now
        guard now - held >= Int64(policy.leaseSeconds) * 100 else { return nil }
        return Self.drawnPartner(of: unit, among: others + [me], now: now) == me ? untrusted : nil
    }

    /// How long a draw of `drawnPartner` stands: a worker drawn that does not ask within it (busy, or gone) leaves
    /// the unit to the next draw.
    static let partnerDrawMilliseconds: Int64 = 10_000

    /// The worker that may partner `unit` among `candidates` now: the lowest draw (`Who.draw`) for the unit and the
    /// draw's period, so every candidate has the same chance at each unit whoever asks first, and a key cannot be
    /// chosen to win more than its share (the draw changes with each unit and period).
    static func drawnPartner(of unit: Int, among candidates: [Who], now: Int64) -> Who? {
        let seed = UInt64(truncatingIfNeeded: unit) << 32 ^ UInt64(truncatingIfNeeded: now / partnerDrawMilliseconds)
        return candidates.min { ($0.draw(seed), $0) < ($1.draw(seed), $1) }
    }

    /// Workers holding a unit: a lease live or sealed and waiting, or a result no error ended.
    func holders(_ unit: Int, now: Int64) -> [Who] {
        let records = perUnit[unit - units.lowerBound]
        var holders = inFlight(unit, now: now)
        for reveal in records.reveals where !holders.contains(reveal.worker) && !records.errors.contains(where: { $0.worker == reveal.worker }) {
            holders.append(reveal.worker)
        }
        return holders
    }

    /// Units two workers not trusted may share in a shard while another worker could partner them.
    public static let maxSharedUntrusted = 2

    /// For each pair of workers, the units of the shard both hold or held (a kept lease each), counted for
    /// `maxSharedUntrusted`: `pairs[a][b]`, as `pairs[b][a]`.
    func sharedPairs() -> [Who: [Who: Int]] {
        var pairs: [Who: [Who: Int]] = [:]
        for records in perUnit where records.kept.count > 1 {
            let workers = Self.distinct(records.kept.map(\.worker))
            for a in workers {
                for b in workers where b != a { pairs[a, default: [:]][b, default: 0] += 1 }
            }
        }
        return pairs
    }


    /// The units of `units` that `custodian` should draw on now that `worker` sealed them: those it leased to the
    /// worker when the worker stood trusted, with no draw yet on the seal.
    public func unitsToDraw(worker: Ed25519PublicKey, units requested: [Int], by custodian: Ed25519PublicKey) -> [(unit: Int, seal: [UInt8])] {
        guard policy.isAdaptive else { return [] }
        let (who, author) = (Who(worker), Who(custodian))
        return requested.compactMap { unit in
            let records = perUnit[unit - units.lowerBound]
            guard let lease = records.vouching(who), lease.custodian == author, lease.claim >= policy.trustAfter,
                let seal = records.seal(of: who),
                !records.draws.contains(where: { $0.worker == who && $0.custodian == author && $0.seal == seal.seal })
            else { return nil }
            return (unit, seal.seal)
        }
    }

    /// `base` (the replicated verdict) with adaptive replication's decisions: validated by one result, voided, or
    /// with no slot open while a trusted worker's unit waits for its draw.
    /// `state` is `adaptive`, read once by the caller.
    func adapted(_ base: UnitVerdict, now: Int64?, in state: AdaptiveState) -> UnitVerdict {
        if let members = state.rechecked[base.unit] { return recheck(base.unit, members: members, now: now) }
        guard base.state == .open else { return base }
        let records = perUnit[base.unit - units.lowerBound]
        var verdict = base
        if let worker = state.single[base.unit], let reveal = records.reveals.first(where: { $0.worker == worker }),
            let lease = records.vouching(worker)
        {
            verdict.state = .validated
            verdict.output = reveal.output
            verdict.agreeing = [name(worker)]
            verdict.custodians = [name(lease.custodian)]
            verdict.networks = [lease.networkBytes]
            verdict.openSlots = 0
            if let checker = state.confirmed[base.unit], let lease = records.vouching(checker) {
                verdict.agreeing.append(name(checker))
                verdict.custodians.append(name(lease.custodian))
                verdict.networks.append(lease.networkBytes)
            }
            return verdict
        }
        if let worker = state.closing[base.unit] {
            // One replica for the closing check, from another worker, while none is in flight: not one that sealed
            // and sat on its result (`UnitRecords.sitsOnResult`), which held the slot to its lease's end.
            let others = now.map { now in inFlight(base.unit, now: now).contains { $0 != worker } } ?? true
            verdict.openSlots = others ? 0 : 1
            return verdict
        }
        if let worker = state.voided[base.unit] {
            // Voided: the unit takes fresh replicas at once.
            verdict.invalid.append((name(worker), state.refuted[base.unit] == worker ? Self.refutedReason : Self.voided))
        } else if let now, awaitsSingle(base.unit, now: now) {
            verdict.openSlots = 0
        }
        return verdict
    }

    /// True while the unit's one replica was leased with a trusting claim and is not yet drawn, or is drawn to run
    /// once, until its lease and the wait for partners are over: no other replica is leased (the unit may run once).
    /// Until the draw the claim, not this custodian's view of the standing, decides, so that custodians whose views
    /// differ for a moment agree. Not past the lease when nothing was sealed under it (no seal can come then), nor
    /// once the worker has sat on a result it was told to reveal alone for `revealGrace` (`UnitRecords.sitsOnResult`):
    /// a vanished worker's units waited out its lease and a lease length more (bench adaptive, vanish).
    func awaitsSingle(_ unit: Int, now: Int64) -> Bool {
        let records = perUnit[unit - units.lowerBound]
        let kept = records.kept.filter { lease in !records.errors.contains { $0.worker == lease.worker } }
        guard let worker = kept.first?.worker, kept.allSatisfy({ $0.worker == worker }), let lease = records.vouching(worker),
            lease.claim >= policy.trustAfter, now < lease.expires + Int64(policy.leaseSeconds) * 1000
        else { return false }
        guard let seal = records.seal(of: worker) else { return now <= lease.expires + Self.sealSlack }
        guard Self.draw(records, worker, lease, seal.seal) != nil else { return true }
        // Drawn: the walk decides. A unit drawn for a check, or one whose claim the records no longer bear out (its
        // worker failed a check since), takes its second replica now instead of waiting out the lease.
        return adaptive.runsOnce.contains(UnitWorker(unit: unit, worker: worker)) && inFlight(unit, now: now).contains(worker)
    }

    /// The draw that decides `worker`'s sealed unit: by the custodian of its lease, on its seal; of several (only a
    /// custodian off RFC 8032 makes two), the lowest, which checks more often.
    static func draw(_ records: UnitRecords, _ worker: Who, _ lease: Lease, _ seal: [UInt8]) -> Draw? {
        var lowest: Draw?
        for draw in records.draws where records.decides(draw, worker, lease, seal) {
            if lowest.map({ draw.value < $0.value }) ?? true { lowest = draw }
        }
        return lowest
    }

    /// When `worker` could first know the draw on its seal of a unit leased under `lease`, and whose clock says so:
    /// the earliest draw of the lease's custodian on that seal. Nil while none is drawn.
    static func drawn(_ records: UnitRecords, _ worker: Who, _ lease: Lease) -> (time: Int64, custodian: Who)? {
        guard let seal = records.seal(of: worker) else { return nil }
        var earliest: Int64?
        for draw in records.draws where records.decides(draw, worker, lease, seal.seal) {
            earliest = min(earliest ?? draw.time, draw.time)
        }
        return earliest.map { ($0, lease.custodian) }
    }

    /// True when the worker sealed `result` (accepted alone) before it could know that `pass` (a check of its own
    /// result that passed) was checked: its draw came first, by the custodian's clock, or by more than
    /// `drawClockSlack` when two custodians drew them. Only then does the pass clear it. A worker learns that a unit
    /// is checked once it has sealed it (it is told to wait for a partner), and one holding several leases sealed a
    /// unit honestly, learned it was checked, then sealed cheats on units of earlier leases that the pass cleared.
    /// A pass not drawn on clears nothing.
    static func sealedBefore(_ result: AdaptiveFact, knowing pass: AdaptiveFact) -> Bool {
        guard let sealed = result.drawn, let known = pass.drawn else { return false }
        return sealed.time < known.time - (sealed.custodian == known.custodian ? 0 : drawClockSlack)
    }

    /// How far apart two custodians' clocks may be for `sealedBefore`, in milliseconds. A worker leased by two whose
    /// clocks differ by d more than this can have a pass clear cheats it sealed up to d − 2 s after it learned of the
    /// pass; a worker's results sealed less than this before a pass drawn by another custodian wait for the next one.
    static let drawClockSlack: Int64 = 2_000

    /// True when no other worker could have a result for `unit` to pair with `worker`'s: no other lease (kept and
    /// not ended by an error) overlaps the worker's from its signing to the draw that let it run once (or its
    /// reveal, or the lease's end, if sooner), and no other seal came before that. A replica leased after the draw
    /// comes from a custodian whose view lagged the drawing one's (it took the claim for one the records did not
    /// bear out): the worker, told to reveal alone, revealed, and counting that replica made the result wait for a
    /// quorum it could not pair with (bench adaptive, 1,200 units, 4 peers, sleeper: a lease of 29 units stalled).
    /// Such a replica is compared with it instead (`contradicted`).
    /// `drawn` is when that draw came (`drawn(_:_:_:)`), which the walk has already.
    static func isAlone(_ records: UnitRecords, _ worker: Who, _ lease: Lease, drawn: Int64?) -> Bool {
        let revealed = records.reveals.first { $0.worker == worker }?.time ?? lease.expires
        let end = min(revealed, drawn ?? .max)
        for other in records.leases where other.worker != worker && other.time < end && other.expires > lease.time {
            if !records.isReleased(other), !records.errors.contains(where: { $0.worker == other.worker }) { return false }
        }
        return !records.commits.contains { $0.worker != worker && $0.time < end }
    }

    /// Consecutive valid facts among those of leases signed before `time`, after the latest negative one known by
    /// then (a lease without a result counts from its deadline). After a negative fact, passed checks count at most
    /// `maxPriorChecksPerPartner` per partner, as for a prior standing: a colluder, outvoted whenever it meets an
    /// honest worker, cannot earn trust again on its fellow's agreement alone.
    static func standing(_ facts: [AdaptiveFact], at time: Int64) -> Int {
        let lastNegative = facts.lazy.filter { $0.resets(at: time) }.map(\.time).max() ?? .min
        var perPartner = PartnerCount<Who>()
        var count = 0
        for fact in facts where fact.time < time && fact.time > lastNegative {
            switch fact.kind {
            case .single: count += 1
            case .checked: count += lastNegative == .min || perPartner.counts(fact.partners) ? 1 : 0
            case .failed, .error, .unanswered: break
            }
        }
        return count
    }

    /// Walks each worker's leases in the order they were signed, deciding which of its results stand alone, then
    /// voids those a later failed check puts in doubt; walks again when failed checks put cold quorums in doubt
    /// (`ShardLedger.recheck`). A pure function of the records.
    func computeAdaptive(foreign: [Ed25519PublicKey: [Int64]]) -> AdaptiveState {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { Self.walks.note(nanoseconds: DispatchTime.now().uptimeNanoseconds - started) }
        let abroad = Dictionary(uniqueKeysWithValues: foreign.map { (Who($0.key), $0.value.sorted()) })
        // Walks until the quorums in doubt stop growing (`ShardLedger+Recheck.swift`): rechecking a cold quorum
        // takes its members' passes on it away, and a quorum that counted as warm on those passes is cold in the
        // next walk. The set only grows, so this ends; an honest swarm walks once.
        var state = walk(rechecking: [:], abroad: abroad)
        var doubted: [Int: [Who]] = [:]
        while true {
            let found = coldQuorumsInDoubt(state).filter { doubted[$0.key] == nil }
            if found.isEmpty { return state }
            doubted.merge(found) { old, _ in old }
            state = walk(rechecking: doubted, abroad: abroad)
        }
    }

    /// One walk, with the cold quorums of `doubted` (unit → its workers) rechecked, and each worker's failed checks
    /// in the job's other shards (`abroad`, lease times, in order) taken as failures here at their times.
    func walk(rechecking doubted: [Int: [Who]], abroad: [Who: [Int64]]) -> AdaptiveState {
        var state = AdaptiveState()
        state.rechecked = doubted
        let wait = Int64(policy.leaseSeconds) * 1000
        struct Leased {
            var unit: Int
            var lease: Lease
            /// Its fact when decided by the records alone; nil for a result that may stand alone or waits.
            var fact: AdaptiveFact.Kind?
            var revealed: Bool
            var partners: [Who] = []
            var sampled = false
            var drawn: (time: Int64, custodian: Who)?
            /// Sealed as the unit's first and never revealed, then given back or ended with an error, or the unit
            /// decided by others: withheld, if it was checked.
            var withheld = false
        }
        var byWorker: [Who: [Leased]] = [:]
        // Each worker's results accepted alone since its last passed check.
        var unchecked: [Who: [Int]] = [:]
        for (index, records) in perUnit.enumerated() where !records.leases.isEmpty {
            let unit = units.lowerBound + index
            var base = validated[index]
            if let members = doubted[unit] {
                let verdict = recheck(unit, members: members, now: nil)
                base = verdict.state == .validated ? verdict : nil
                if base == nil { state.recheckOpen.insert(unit) }
            }
            let agreeing = Set((base?.agreeing ?? []).map(Who.init))
            let outvoted = Set((base?.invalid ?? []).filter { $0.reason != Self.sealedLate }.map { Who($0.worker) })
            var seen: [Who] = []
            for lease in records.leases where !seen.contains(lease.worker) {
                let worker = lease.worker
                seen.append(worker)
                guard let vouching = records.vouching(worker) else { continue }
                // A lease given back with nothing done is no fact.
                if records.isReleased(vouching), !records.acted(worker) { continue }
                let revealed = records.reveals.contains { $0.worker == worker }
                var fact: AdaptiveFact.Kind?
                if records.errors.contains(where: { $0.worker == worker }) {
                    fact = .error
                } else if base != nil, revealed {
                    if agreeing.contains(worker) { fact = .checked } else if outvoted.contains(worker) { fact = .failed } else { continue }
                }
                let partners = fact == .checked ? agreeing.filter { $0 != worker }.sorted() : []
                let own = records.leases.allSatisfy { $0.worker == worker || $0.time >= vouching.time }
                let sampled = fact == .checked && vouching.claim >= policy.trustAfter && own
                byWorker[worker, default: []].append(
                    Leased(
                        unit: unit, lease: vouching, fact: fact, revealed: revealed, partners: partners, sampled: sampled,
                        drawn: Self.drawn(records, worker, vouching),
                        withheld: own && !revealed && records.seal(of: worker) != nil
                            && (base != nil || fact == .error || records.isReleased(vouching))))
            }
        }
        for (worker, leased) in byWorker {
            // In lease order, then unit order: the keys sorted apart, since a `Leased` is large to move about.
            var keys: [(time: Int64, unit: Int, index: Int)] = []
            keys.reserveCapacity(leased.count)
            for (index, item) in leased.enumerated() { keys.append((item.lease.time, item.unit, index)) }
            keys.sort { a, b in a.time != b.time ? a.time < b.time : a.unit < b.unit }
            let ordered = keys.map { leased[$0.index] }
            var facts: [AdaptiveFact] = []
            // Results run alone on a claim the records no longer bear out.
            var unborne: [Int] = []
            // The results accepted alone since the worker's last passed check that sampled them
            // (`AdaptiveFact.sampled`): a failed check voids them. When any pass cleared them, a careful sleeper
            // honest on its last unit in a shard, a replica of another's spot check, kept 341 wrong outputs
            // (AdaptiveSwarmTests).
            var sinceCheck: [AdaptiveFact] = []
            // A failed check in another shard of the job, at its lease time: it voids the results this worker
            // accepted alone here since its last passed check, and takes its standing from then on (so what it ran
            // alone here on trust after it is voided at the end, with the rest run on a claim not borne out).
            // Before, a sleeper caught in one shard kept the results it had accepted alone in the others until a
            // check there failed, and a closing check it passed there kept them for good.
            let failedAbroad = abroad[worker] ?? []
            var nextAbroad = 0
            func failAbroad(before time: Int64?) {
                while nextAbroad < failedAbroad.count, time.map({ failedAbroad[nextAbroad] < $0 }) ?? true {
                    let failure = failedAbroad[nextAbroad]
                    facts.append(AdaptiveFact(kind: .failed, time: failure, unit: AdaptiveFact.abroad, known: failure))
                    for fact in sinceCheck {
                        state.single[fact.unit] = nil
                        state.voided[fact.unit] = worker
                    }
                    sinceCheck.removeAll()
                    nextAbroad += 1
                }
            }
            // The least `resetsAfter` of the facts so far, extended as they grow (they are only appended): whether
            // they leave a prior standing whole (`unbroken`) for each lease claiming trust, without a scan of them
            // all at each (a worker's leases in a shard made the walk quadratic: 3.5 % of the CPU of a test of
            // 600 units).
            var firstReset = Int64.max
            var scanned = 0
            func unbroken(at time: Int64) -> Bool {
                while scanned < facts.count {
                    firstReset = min(firstReset, facts[scanned].resetsAfter)
                    scanned += 1
                }
                return time <= firstReset
            }
            var start = 0
            while start < ordered.count {
                let time = ordered[start].lease.time
                failAbroad(before: time)
                var end = start
                while end < ordered.count, ordered[end].lease.time == time { end += 1 }
                // Every unit of leases signed at one time gets the standing before that time.
                let standing = Self.standing(facts, at: time)
                let leaseFacts = facts.count
                for item in ordered[start..<end] {
                    let records = perUnit[item.unit - units.lowerBound]
                    // A result withheld from its own spot check is a failed check. The worker learns that its unit is
                    // checked once it has sealed it (it is not told to reveal alone). One that kept a wrong result
                    // back then, leaving the unit to others, giving it back or reporting an error, lost only its
                    // standing (a lease left unanswered, or an error): its wrong results accepted alone since its
                    // last pass stood (`aResultWithheldFromItsSpotCheckIsAFailedCheck`). An honest worker reveals
                    // every seal, on stopping too; one that vanished with a checked seal has its run computed again.
                    if item.withheld, item.lease.claim >= policy.trustAfter, let seal = records.seal(of: worker),
                        let draw = Self.draw(records, worker, item.lease, seal.seal), draw.value < policy.spotCheckRate(standing: item.lease.claim)
                    {
                        facts.append(AdaptiveFact(kind: .failed, time: time, unit: item.unit, known: records.latest, drawn: item.drawn))
                        continue
                    }
                    if let kind = item.fact {
                        facts.append(
                            AdaptiveFact(
                                kind: kind, time: time, unit: item.unit, known: records.latest, partners: item.partners, sampled: item.sampled,
                                drawn: item.drawn))
                        continue
                    }
                    // Trusted when the lease claims it and the records bear the claim out; the claim sets the rate.
                    let claim = item.lease.claim
                    if claim >= policy.trustAfter, let seal = records.seal(of: worker),
                        let draw = Self.draw(records, worker, item.lease, seal.seal),
                        draw.value >= policy.spotCheckRate(standing: claim), Self.isAlone(records, worker, item.lease, drawn: item.drawn?.time)
                    {
                        let borne = standing + prior(item.lease, worker, unbroken: unbroken(at: item.lease.time)) >= claim
                        if !item.revealed {
                            if borne { state.runsOnce.insert(UnitWorker(unit: item.unit, worker: worker)) }
                        } else if let reveal = records.reveals.first(where: { $0.worker == worker && $0.seal == seal.seal }) {
                            // Its reveal must be what it sealed (a custodian voids one that is not, with an error).
                            // One that fails the kernel's check is a failed check: of this unit, at once, not only
                            // when a spot check or closing check happens to draw one of the worker's cheats.
                            if borne, refuted(item.unit, worker, output: reveal.output, seed: draw.seed) {
                                state.refuted[item.unit] = worker
                                state.voided[item.unit] = worker
                                facts.append(AdaptiveFact(kind: .failed, time: time, unit: item.unit, known: records.latest, drawn: item.drawn))
                            } else if borne {
                                state.single[item.unit] = worker
                                facts.append(AdaptiveFact(kind: .single, time: time, unit: item.unit, drawn: item.drawn))
                            } else {
                                unborne.append(item.unit)
                            }
                        }
                    }
                    // A result revealed and not alone waits for its replicas: no fact yet.
                    if !item.revealed {
                        facts.append(AdaptiveFact(kind: .unanswered, time: time, unit: item.unit, deadline: item.lease.expires + wait))
                    }
                }
                // A failure voids the whole of its lease, whatever the units: in unit order, the results of a lease
                // after its failed unit kept their trust (the standing before the lease is theirs too), and a closing
                // check of the rest cleared them (bench adaptive, careful-sleeper, 4,000 units: 2 wrong outputs of a
                // lease whose other 32 were voided). A pass clears in lease order and unit order, and only what was
                // sealed before the worker could know of it (`sealedBefore`).
                let lease = facts[leaseFacts...]
                if lease.contains(where: { $0.kind == .failed }) {
                    for unit in (sinceCheck + lease.filter { $0.kind == .single }).map(\.unit) {
                        state.single[unit] = nil
                        state.voided[unit] = worker
                    }
                    sinceCheck.removeAll()
                } else {
                    for fact in lease {
                        if fact.kind == .single { sinceCheck.append(fact) }
                        if fact.kind == .checked, fact.sampled { sinceCheck.removeAll { Self.sealedBefore($0, knowing: fact) } }
                    }
                }
                start = end
            }
            failAbroad(before: nil)
            // Those run alone on a standing a failed check has since taken away (one of an earlier lease, decided
            // once the shard was done, or a quorum of the worker's put in doubt by it and rechecked): voided too.
            if facts.contains(where: { $0.kind == .failed }) {
                for unit in unborne { state.voided[unit] = worker }
            }
            if !sinceCheck.isEmpty { unchecked[worker] = sinceCheck.map(\.unit) }
            state.facts[worker] = facts
        }
        // The values of the draws on a worker's seals, which fix its closing check's pick: asked only once the shard
        // is decided, for workers with results to check (the walk runs after every change of the records).
        closingChecks(&state, unchecked) { worker in
            (byWorker[worker] ?? []).compactMap { item in
                let records = perUnit[item.unit - units.lowerBound]
                // Not a replica leased after another worker's result was out (a closing check of another's): the
                // draw on it would move the pick once its own closing checks had begun, and two workers checking
                // each other moved each other's picks in turn (bench adaptive, mersenne-10k, 2 peers: 40 runs of 31).
                guard !records.reveals.contains(where: { $0.worker != worker && $0.time <= item.lease.time }) else { return nil }
                return records.seal(of: worker).flatMap { Self.draw(records, worker, item.lease, $0.seal)?.value }
            }
        }
        return state
    }

    /// The prior standing a lease's claim rests on, while the worker's facts here before it show no failure
    /// (`unbroken`): the lease's own word, or what a re-verifier found in the shards it cites, if less.
    func prior(_ lease: Lease, _ worker: Who, unbroken: Bool) -> Int {
        guard lease.prior > 0, unbroken else { return 0 }
        guard let priorCheck else { return lease.prior }
        return min(lease.prior, priorCheck(name(worker), lease.time, lease.priorShards))
    }

    /// The closing check. Once every unit is decided, one result each worker had accepted alone since its last passed
    /// check takes one more replica from another worker: the one `closingPick` draws from them (two in a shard of
    /// `secondClosingCheckFrom` units or more). Without it, the results of a worker that turned to cheating after its
    /// last check stood whenever the shard ran out before a draw checked it (bench adaptive, sleeper: wrong outputs
    /// validated in half the runs). The pick is drawn, not
    /// the latest result: a worker can tell its latest results (it is computing them when the shard runs out of
    /// fresh units), and one honest on those alone passed the check with every earlier cheat standing. The first
    /// other result:
    /// - agrees: a passed check (the unit stays validated, with both);
    /// - differs: the unit opens again and takes a fresh quorum, which decides who was wrong. Outvoted, the worker
    ///   has failed a check in the walk, which voids every result it had accepted alone since its last passed check
    ///   (those leased after the checked unit lose their trust with it). In the quorum, it passed. Voiding on the
    ///   first differing result let a cheater drawn for an honest worker's check void her whole run: each voided unit
    ///   took two fresh workers, and with the cheater one of them, a swarm of 4 or 5 ran out of fresh workers
    ///   (AdaptiveSwarmTests, sleeper: stalled in 6 runs of 33 with 4 workers).
    /// A result sealed after the checked one was revealed could copy it, so the check relies on the replica: a
    /// colluder drawn for it could pass it, as a colluder drawn as partner passes any unit. It costs one replica
    /// per worker and shard (two in a large one). The checked unit counts as decided here, so the rule does not undo
    /// itself.
    func closingChecks(_ state: inout AdaptiveState, _ unchecked: [Who: [Int]], draws: (Who) -> [Double]) {
        let decided = validated.indices.allSatisfy { index in
            let unit = units.lowerBound + index
            return (validated[index] != nil && !state.recheckOpen.contains(unit)) || state.single[unit] != nil
        }
        // A result accepted alone that another worker's result differs from (a closing check's replica) is open until
        // a fresh quorum decides, whether or not the closing checks are open now: they close whenever another unit of
        // the shard opens again (a cheater's results voided), and the unit was then validated alone again, a fresh
        // replica's seal refused as too late for a decided unit, and its partner told to reveal: the fresh quorum
        // could not pair, and with 4 workers the unit waited for ever (bench adaptive, 1,200 units, 4 peers, sleeper).
        for (unit, worker) in state.single where contradicted(unit, worker) { state.single[unit] = nil }
        guard decided else { return }
        let large = units.count >= Self.secondClosingCheckFrom
        for (worker, tail) in unchecked {
            let values = draws(worker)
            let picks = Self.closingPicksMade.picks(tail, values, large: large) {
                large ? Self.closingPicksInLargeShard(tail, draws: values) : Self.closingPicks(tail, draws: values, count: 1)
            }
            for unit in picks {
                closingCheck(&state, unit, of: worker)
            }
        }
    }

    /// The shard size from which the closing check takes two of a worker's results, not one. With one, a worker
    /// honest only on its last result in the shard (it can tell which) escapes with probability 1/n for a run of n,
    /// keeping n − 1 wrong outputs (bench adaptive, careful-sleeper, 20,000 units: wrong outputs in 4 runs of 27).
    /// With two drawn, it is caught; one honest on h results escapes with probability h(h − 1) / n(n − 1). The
    /// second costs one more replica per worker and shard, at most one per 100 units for each worker. Two from a run
    /// of 20 or more instead let the run decide, and the worker decides its run: a careful sleeper whose last run
    /// since a spot check was 17 kept 15 wrong outputs (4,000 units). Small shards keep one: on mersenne-10k (31
    /// units, one shard) with 2 trusted workers, two cost 7 points of CPU overhead (16.8–19.4 % against 5.2–12.1 %).
    static let secondClosingCheckFrom = 100

    /// This process's closing picks made so far (`ClosingPicksMade`).
    static let closingPicksMade = ClosingPicksMade()

    /// The first result in on `unit` of a worker other than `worker` whose lease vouches for it and not ended in an
    /// error: what a closing check of `worker`'s result compares it with.
    func firstOther(_ unit: Int, than worker: Who) -> Reveal? {
        let records = perUnit[unit - units.lowerBound]
        return records.reveals.filter { reveal in
            reveal.worker != worker && !records.errors.contains { $0.worker == reveal.worker } && records.vouching(reveal.worker) != nil
        }.min { $0.time < $1.time }
    }

    /// True when the first other result on `unit` (`firstOther`) differs from `worker`'s.
    func contradicted(_ unit: Int, _ worker: Who) -> Bool {
        let reveals = perUnit[unit - units.lowerBound].reveals
        // The walk asks of every result accepted alone, most of them the unit's one reveal.
        guard reveals.count > 1, let mine = reveals.first(where: { $0.worker == worker }),
            let other = firstOther(unit, than: worker)
        else { return false }
        return !agree(mine, other)
    }

    /// Whether two results are the same output (or equivalent, as the kernel says).
    func agree(_ a: Reveal, _ b: Reveal) -> Bool { a.digest == b.digest || equivalence(a.output, b.output) }

    /// The closing check of `worker`'s result on `unit`, against the first other result in (`closingChecks`).
    func closingCheck(_ state: inout AdaptiveState, _ unit: Int, of worker: Who) {
        let records = perUnit[unit - units.lowerBound]
        guard let mine = records.reveals.first(where: { $0.worker == worker }) else { return }
        let other = firstOther(unit, than: worker)
        guard let other else {
            state.single[unit] = nil
            state.closing[unit] = worker
            return
        }
        // They differ: the unit is open until a fresh quorum decides it (`contradicted` took it out of `single`), and
        // the walk then finds the worker's result checked or outvoted. The rest of its run waits on that.
        guard agree(mine, other) else { return }
        if let index = state.facts[worker]?.lastIndex(where: { $0.unit == unit }) {
            state.facts[worker]?[index].kind = .checked
            state.facts[worker]?[index].partners = [other.worker]
            state.facts[worker]?[index].sampled = true
        }
        state.confirmed[unit] = other.worker
    }

    /// The unit of `tail` a closing check takes: the lowest SHA-256 of the unit under a seed made of `draws`, the
    /// values of the draws on the worker's seals in the shard (but those on replicas leased after another worker's
    /// result was out, as closing checks of others are). Each draw is a custodian's signature over a seal,
    /// unknown to the worker until it sealed, so the pick is fixed only once its last unit is sealed and drawn: it
    /// cannot be honest on the one unit to be checked and cheat on the rest. Withholding a reveal takes that unit out
    /// of `tail` (its result is lost, and its lease counts against the worker once over) but leaves its draw in the
    /// seed: the pick is then the next in the same ranking, so a worker that holds back its last reveals dodges only a
    /// pick that falls on those, and is checked on one of the results it did reveal. Anyone re-verifying draws the
    /// same unit from the records.
    static func closingPick(_ tail: [Int], draws: [Double]) -> Int? {
        closingPicks(tail, draws: draws, count: 1).first
    }

    /// The closing check's picks in a shard of `secondClosingCheckFrom` units or more: two drawn from the whole run
    /// (`closingPicks`), and one more from each of its latest quarter, eighth, and so on down to its latest 2 results,
    /// each the unit ranked first there that is not picked yet. A sleeper that turned inside its run, honest on its
    /// first h results and cheating on the rest, escaped two picks from the whole run with probability
    /// h(h − 1) / n(n − 1), which is most of the time when it turned late (demo --adaptive, careful-sleeper: 28 wrong
    /// outputs of one lease in one run of 12, both picks on honest results); its cheats are the run's latest results,
    /// and a pick among those finds one. A worker that cheats early in its run and then turns honest is drawn as
    /// before. It costs about log2(n) − 1 replicas more per worker and shard for a run of n (0 for a run under 8).
    static func closingPicksInLargeShard(_ tail: [Int], draws: [Double]) -> [Int] {
        // A unit's rank does not depend on the others: ranked once, the first of a window is its first in the whole.
        let ranking = closingRanking(tail, draws: draws)
        var picks = Array(ranking.prefix(2))
        var window = tail.count / 4
        while window >= 2 {
            let latest = Set(tail.suffix(window))
            if let pick = ranking.first(where: { latest.contains($0) && !picks.contains($0) }) { picks.append(pick) }
            window /= 2
        }
        return picks
    }

    /// The `count` units of `tail` ranked first as in `closingPick`.
    static func closingPicks(_ tail: [Int], draws: [Double], count: Int) -> [Int] {
        Array(closingRanking(tail, draws: draws).prefix(count))
    }

    /// The units of `tail` in the order `closingPick` ranks them.
    static func closingRanking(_ tail: [Int], draws: [Double]) -> [Int] {
        var seed: [UInt8] = Array("colony-closing-check".utf8)
        for value in draws.sorted() {
            withUnsafeBytes(of: value.bitPattern.bigEndian) { seed += $0 }
        }
        let digest = SHA256.hash(seed).bytes
        let ranked = tail.map { unit in
            var message = digest
            withUnsafeBytes(of: UInt64(unit).bigEndian) { message += $0 }
            return (rank: SHA256.hash(message).bytes, unit: unit)
        }
        return ranked.sorted { $0.rank.lexicographicallyPrecedes($1.rank) }.map(\.unit)
    }
}

/// Closing picks made, by what they are drawn from (a worker's results accepted alone, in order, the draws on its
/// seals and the shard's size class): the walk runs again after every change of a decided shard's records and would
/// rank the same run again, a hash of every unit of it each time (9 % of the walks' time in the adaptive swarm tests).
struct ClosingPicksMade: Sendable {
    private struct Key: Hashable, Sendable {
        var tail: [Int]
        /// The draws' bits, sorted by value, as `closingRanking` seeds with them (0.0 and −0.0 are one Double key).
        var draws: [UInt64]
        var large: Bool
    }
    private let made = Remembered<Key, [Int]>(limit: remembered)
    /// Runs remembered at most; all are forgotten at once past it.
    static let remembered = 1_024

    func picks(_ tail: [Int], _ draws: [Double], large: Bool, making: () -> [Int]) -> [Int] {
        made.value(Key(tail: tail, draws: draws.sorted().map(\.bitPattern), large: large), making: making)
    }

    /// Runs remembered now.
    var count: Int { made.count }
}

/// How many times this process walked a shard's records for its adaptive state, and the time the walks took: the
/// custodians' main cost in an adaptive job (`colony bench adaptive` prints them per scenario).
public final class LedgerWalks: Sendable {
    private let count = Atomic<Int>(0)
    private let nanoseconds = Atomic<UInt64>(0)

    func note(nanoseconds spent: UInt64) {
        count.add(1, ordering: .relaxed)
        nanoseconds.add(spent, ordering: .relaxed)
    }

    /// Walks so far, and their time in seconds (summed over threads).
    public var totals: (walks: Int, seconds: Double) {
        (count.load(ordering: .relaxed), Double(nanoseconds.load(ordering: .relaxed)) / 1e9)
    }
}

extension ShardLedger {
    /// This process's walks (`LedgerWalks`).
    public static let walks = LedgerWalks()
}
