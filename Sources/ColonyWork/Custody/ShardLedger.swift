import ColonyCore
import Foundation

/// What a shard's records say about one unit.
public struct UnitVerdict: Sendable, Equatable {
    public enum State: String, Sendable {
        case open, validated, failed
    }

    public var unit: Int
    public var state: State
    /// The output agreed on, when validated.
    public var output: [UInt8]?
    /// The workers whose outputs agreed, when validated.
    public var agreeing: [Ed25519PublicKey]
    /// Leases handed out for the unit (attempts).
    public var attempts: Int
    /// Leases not yet ended by a reveal, an error or their expiry (only when a time is given).
    public var liveLeases: Int
    /// Seals committed.
    public var commits: Int
    /// Results that did not count: reveals that disagree with the validated output or do not match their seal.
    public var invalid: [(worker: Ed25519PublicKey, reason: String)]
    /// Leases a custodian may still hand out now.
    public var openSlots: Int

    public static func == (a: UnitVerdict, b: UnitVerdict) -> Bool {
        a.unit == b.unit && a.state == b.state && a.output == b.output && a.agreeing == b.agreeing
            && a.attempts == b.attempts && a.liveLeases == b.liveLeases && a.commits == b.commits
            && a.invalid.map(\.worker) == b.invalid.map(\.worker) && a.openSlots == b.openSlots
    }
}

/// Counts over verdicts: units by state, leases used and results that did not count.
public struct VerdictTally: Sendable, Equatable {
    public var units = 0
    public var validated = 0
    public var failed = 0
    /// Open units with a live lease.
    public var inProgress = 0
    public var attempts = 0
    public var invalid = 0

    public init() {}

    public init(_ verdicts: some Sequence<UnitVerdict>) {
        for verdict in verdicts {
            units += 1
            switch verdict.state {
            case .validated: validated += 1
            case .failed: failed += 1
            case .open: if verdict.liveLeases > 0 { inProgress += 1 }
            }
            attempts += verdict.attempts
            invalid += verdict.invalid.count
        }
    }

    /// Units validated or failed.
    public var decided: Int { validated + failed }

    public static func + (a: VerdictTally, b: VerdictTally) -> VerdictTally {
        var sum = a
        sum.units += b.units
        sum.validated += b.validated
        sum.failed += b.failed
        sum.inProgress += b.inProgress
        sum.attempts += b.attempts
        sum.invalid += b.invalid
        return sum
    }
}

/// A shard's record set, indexed by unit. Insertion is idempotent (a set), and `verdict` is a pure function of
/// the set: the same records give the same verdicts in any order and on any peer.
public struct ShardLedger: Sendable {
    public let job: JobID
    public let shard: Int
    public let units: Range<Int>
    public let policy: JobPolicy
    public private(set) var records: [SHA256Digest: CustodyRecord] = [:]

    struct Lease: Sendable {
        var worker: Ed25519PublicKey
        var time: Int64
        var expires: Int64
        var id: SHA256Digest
    }

    struct Seal: Sendable {
        var worker: Ed25519PublicKey
        var seal: [UInt8]
        var time: Int64
    }

    struct Reveal: Sendable {
        var worker: Ed25519PublicKey
        var digest: [UInt8]
        var output: [UInt8]
        var time: Int64
        /// Facts of the reveal alone, hashed once when it is inserted rather than on every verdict: whether the
        /// output hashes to the digest, and the seal a matching commit must carry.
        var outputMatchesDigest: Bool
        var seal: [UInt8]
    }

    struct UnitRecords: Sendable {
        var leases: [Lease] = []
        var commits: [Seal] = []
        var reveals: [Reveal] = []
        var errors: [(worker: Ed25519PublicKey, reason: String)] = []
        /// Leases given back by their own worker (`CustodyRecord.releaseReason`): (lease, worker who said so).
        var releases: [(lease: SHA256Digest, worker: Ed25519PublicKey)] = []

        /// Whether `lease` was given back by the worker it was granted to.
        func isReleased(_ lease: Lease) -> Bool { releases.contains { $0.lease == lease.id && $0.worker == lease.worker } }

        /// Leases still standing: not given back.
        var kept: [Lease] { leases.filter { !isReleased($0) } }
    }

    private(set) var perUnit: [UnitRecords]

    public init(job: JobID, shard: Int, units: Range<Int>, policy: JobPolicy) {
        self.job = job
        self.shard = shard
        self.units = units
        self.policy = policy
        perUnit = Array(repeating: UnitRecords(), count: units.count)
    }

    /// Adds a record whose signature the caller checked; false when it was already here or is not for this
    /// shard.
    @discardableResult
    public mutating func insert(_ record: CustodyRecord) -> Bool { insert(record, id: record.id) }

    /// `insert` for a caller that already computed the record's ID (hashing a record means encoding it).
    @discardableResult
    public mutating func insert(_ record: CustodyRecord, id: SHA256Digest) -> Bool {
        guard record.job == job, record.shard == shard, record.entries.allSatisfy({ units.contains($0.unit) }) else {
            return false
        }
        guard records[id] == nil else { return false }
        records[id] = record
        for entry in record.entries {
            let index = entry.unit - units.lowerBound
            switch record.kind {
            case .lease:
                perUnit[index].leases.append(Lease(worker: record.worker, time: record.time, expires: record.expires, id: id))
            case .commit:
                perUnit[index].commits.append(Seal(worker: record.author, seal: entry.hash, time: record.time))
            case .reveal:
                perUnit[index].reveals.append(
                    Reveal(
                        worker: record.author, digest: entry.hash, output: entry.data, time: record.time,
                        outputMatchesDigest: SHA256.hash(entry.data).bytes == entry.hash,
                        seal: CustodyRecord.seal(worker: record.author, job: job, unit: entry.unit, digest: entry.hash)))
            case .error:
                if let lease = CustodyRecord.releasedLease(entry.data) {
                    perUnit[index].releases.append((lease, record.author))
                } else {
                    perUnit[index].errors.append((record.worker, String(decoding: entry.data.prefix(200), as: UTF8.self)))
                }
            }
        }
        return true
    }

    /// All records, in a fixed order (by ID).
    public var sortedRecords: [CustodyRecord] { records.sorted { $0.key < $1.key }.map(\.value) }

    // MARK: Queries used by custodians

    /// True when `worker` holds a lease on `unit` that has not expired at `now` and that it did not give back.
    public func holdsLiveLease(_ worker: Ed25519PublicKey, unit: Int, now: Int64) -> Bool {
        perUnit[unit - units.lowerBound].kept.contains { $0.worker == worker && $0.expires > now }
    }

    /// True when `unit` may be leased to `worker`: it holds no lease on it that it did not give back, and it has
    /// sealed, revealed or failed nothing for it. Never two leases to one worker; a worker that gave its lease
    /// back unstarted (Ctrl-C) may come back to the unit.
    public func mayLease(_ worker: Ed25519PublicKey, unit: Int) -> Bool {
        let records = perUnit[unit - units.lowerBound]
        return !records.kept.contains { $0.worker == worker } && !records.commits.contains { $0.worker == worker }
            && !records.reveals.contains { $0.worker == worker } && !records.errors.contains { $0.worker == worker }
    }

    /// True when `worker` was ever leased `unit`.
    public func wasLeased(_ worker: Ed25519PublicKey, unit: Int) -> Bool {
        perUnit[unit - units.lowerBound].leases.contains { $0.worker == worker }
    }

    /// The seal `worker` committed for `unit`, if any (the earliest).
    public func seal(of worker: Ed25519PublicKey, unit: Int) -> [UInt8]? {
        Self.firstSeal(perUnit[unit - units.lowerBound].commits, worker)
    }

    private static func firstSeal(_ commits: [Seal], _ worker: Ed25519PublicKey) -> [UInt8]? {
        commits.filter { $0.worker == worker }.min {
            $0.time != $1.time ? $0.time < $1.time : $0.seal.lexicographicallyPrecedes($1.seal)
        }?.seal
    }

    // MARK: Validation

    /// The verdict on every unit of the shard. `now` (milliseconds) decides which leases are still live; without
    /// it every lease not ended by a result counts as ended (for re-verification after the fact).
    public func verdicts(now: Int64?, equivalent: ([UInt8], [UInt8]) -> Bool) -> [UnitVerdict] {
        units.map { verdict(unit: $0, now: now, equivalent: equivalent) }
    }

    /// The verdict on one unit.
    public func verdict(unit: Int, now: Int64?, equivalent: ([UInt8], [UInt8]) -> Bool) -> UnitVerdict {
        // A unit has a handful of records: scans of short arrays here, not sets of keys (hashing every key of
        // every unit was a large share of a custodian's time).
        let records = perUnit[unit - units.lowerBound]
        var invalid: [(Ed25519PublicKey, String)] = []
        // One reveal per worker: the earliest (then smallest digest) of those that match the worker's seal.
        var valid: [Reveal] = []
        for reveal in records.reveals.sorted(by: Self.revealOrder) where !valid.contains(where: { $0.worker == reveal.worker }) {
            guard records.leases.contains(where: { $0.worker == reveal.worker }) else {
                invalid.append((reveal.worker, "no lease"))
                continue
            }
            guard let seal = Self.firstSeal(records.commits, reveal.worker) else {
                invalid.append((reveal.worker, "reveal without commit"))
                continue
            }
            guard reveal.seal == seal, reveal.outputMatchesDigest else {
                invalid.append((reveal.worker, "reveal does not match its commit"))
                continue
            }
            valid.append(reveal)
        }
        // Groups of equivalent outputs, built in a fixed order (digest, then worker) so that the result does not
        // depend on the order records arrived in.
        let ordered = valid.sorted {
            $0.digest != $1.digest
                ? $0.digest.lexicographicallyPrecedes($1.digest)
                : $0.worker.rawRepresentation.lexicographicallyPrecedes($1.worker.rawRepresentation)
        }
        var groups: [[Reveal]] = []
        for reveal in ordered {
            if let index = groups.firstIndex(where: {
                $0[0].digest == reveal.digest || equivalent($0[0].output, reveal.output)
            }) {
                groups[index].append(reveal)
            } else {
                groups.append([reveal])
            }
        }
        let best = groups.enumerated().max { a, b in
            a.element.count != b.element.count ? a.element.count < b.element.count : a.offset > b.offset
        }?.element ?? []
        let ended = records.reveals.map(\.worker) + records.errors.map(\.worker)
        let kept = records.kept
        let live = Self.distinct(
            kept.filter { lease in
                !ended.contains(lease.worker) && (now.map { lease.expires > $0 } ?? false)
            }.map(\.worker)
        ).count
        // A lease given back does not count as an attempt.
        let attempts = Self.distinct(kept.map(\.worker)).count
        var verdict = UnitVerdict(
            unit: unit, state: .open, output: nil, agreeing: [], attempts: attempts, liveLeases: live,
            commits: Self.distinct(records.commits.map(\.worker)).count, invalid: invalid, openSlots: 0)
        if best.count >= policy.quorum {
            verdict.state = .validated
            verdict.output = best[0].output
            verdict.agreeing = best.map(\.worker)
            for reveal in ordered where !verdict.agreeing.contains(reveal.worker) {
                verdict.invalid.append((reveal.worker, "disagrees with the quorum"))
            }
            return verdict
        }
        if attempts >= policy.maxAttempts {
            if live == 0 { verdict.state = .failed }
            return verdict
        }
        let needed = min(policy.replicas, policy.quorum - best.count)
        verdict.openSlots = max(0, min(needed - live, policy.maxAttempts - attempts))
        return verdict
    }

    /// The workers of `workers` once each, in first-seen order.
    private static func distinct(_ workers: [Ed25519PublicKey]) -> [Ed25519PublicKey] {
        var seen: [Ed25519PublicKey] = []
        for worker in workers where !seen.contains(worker) { seen.append(worker) }
        return seen
    }

    private static func revealOrder(_ a: Reveal, _ b: Reveal) -> Bool {
        if a.time != b.time { return a.time < b.time }
        return a.digest.lexicographicallyPrecedes(b.digest)
    }
}
