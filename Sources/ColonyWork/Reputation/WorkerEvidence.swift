import ColonyCore
import Foundation

/// One fact of a worker's history, derived from signed custody records (issue 14, Evidence): a unit where its
/// result was in the validated quorum, one where its result did not count, an error it reported, or a lease it let
/// expire. Custodians keep the records, not the worker, so a worker cannot leave a fact out; anyone holding the
/// records derives the same facts (`ShardLedger.evidence`).
public struct EvidenceFact: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Its result was among those that validated the unit.
        case valid
        /// Its result did not count: it disagreed with the quorum, did not match its seal, or had no lease.
        case invalid
        /// It reported an error for the unit (a give-back is not one).
        case error
        /// Its result agreed but was sealed after the result was revealed, so it could be a copy, or it was
        /// accepted alone and then voided by a later failed spot-check: it counts neither for nor against the
        /// worker (an honest worker leased the unit late lands here too).
        case late
        /// Its lease ended with neither a result nor an error.
        case expired
    }

    public var kind: Kind
    public var job: JobID
    public var unit: Int
    /// The time, in milliseconds, of the lease the fact is about: signed by the custodian that granted it, so the
    /// worker cannot reorder its history by back-dating its own records.
    public var leased: Int64
    /// Why a result did not count or what the error said.
    public var detail: String?
    /// For a valid fact, the work the unit stands for (`ComputeKernel.work(input:output:)` with the agreed output).
    public var work: Double
    /// What `work` counts: the kernel's `workUnit`.
    public var workUnit: String

    public init(
        kind: Kind, job: JobID, unit: Int, leased: Int64, detail: String? = nil, work: Double = 0,
        workUnit: String = "units"
    ) {
        self.kind = kind
        self.job = job
        self.unit = unit
        self.leased = leased
        self.detail = detail
        self.work = work
        self.workUnit = workUnit
    }

    /// The order every peer sorts a history in: by lease time, then job, unit and kind.
    public static func canonicalOrder(_ a: EvidenceFact, _ b: EvidenceFact) -> Bool {
        if a.leased != b.leased { return a.leased < b.leased }
        if a.job != b.job { return a.job < b.job }
        if a.unit != b.unit { return a.unit < b.unit }
        return a.kind.rawValue < b.kind.rawValue
    }

    public var description: String {
        "\(kind.rawValue) \(job.hex.prefix(12)) unit \(unit)" + (detail.map { " (\($0))" } ?? "")
    }
}

extension ShardLedger {
    /// Each worker's facts in this shard. `now` (milliseconds) decides which leases have expired; without it every
    /// lease not ended by a result or an error counts as expired (re-verification after the fact). `work` gives a
    /// validated unit's work from its number and agreed output (the kernel's `work(input:output:)` with the unit's
    /// input), counting `workUnit`s. `verdicts`, when the caller has them already for the same `now`, are not
    /// computed again.
    public func evidence(
        now: Int64?, equivalent: ([UInt8], [UInt8]) -> Bool, work: (Int, Data) -> Double = { _, _ in 1 },
        workUnit: String = "units", verdicts known: [UnitVerdict]? = nil
    ) -> [Ed25519PublicKey: [EvidenceFact]] {
        let records = sortedRecords.filter { $0.job == job && $0.shard == shard }
        // The latest lease of each worker for each unit: the one its result or error answered.
        var leases: [Ed25519PublicKey: [Int: CustodyRecord]] = [:]
        var answered: [Ed25519PublicKey: Set<Int>] = [:]
        var facts: [Ed25519PublicKey: [EvidenceFact]] = [:]
        for record in records where record.kind == .lease {
            for entry in record.entries where (leases[record.worker]?[entry.unit]?.time ?? .min) < record.time {
                leases[record.worker, default: [:]][entry.unit] = record
            }
        }
        func leased(_ worker: Ed25519PublicKey, _ unit: Int) -> Int64 { leases[worker]?[unit]?.time ?? 0 }
        for record in records where record.kind == .reveal {
            for entry in record.entries { answered[record.worker, default: []].insert(entry.unit) }
        }
        for record in records where record.kind == .error {
            for entry in record.entries {
                answered[record.worker, default: []].insert(entry.unit)
                let reason = String(decoding: entry.data, as: UTF8.self)
                // A lease given back is the worker being considerate, not at fault.
                guard !reason.hasPrefix("released:") else { continue }
                facts[record.worker, default: []].append(
                    EvidenceFact(
                        kind: .error, job: job, unit: entry.unit, leased: leased(record.worker, entry.unit),
                        detail: String(reason.prefix(200))))
            }
        }
        for verdict in known ?? verdicts(now: now, equivalent: equivalent) {
            if verdict.state == .validated {
                let amount = verdict.output.map { work(verdict.unit, Data($0)) } ?? 0
                for worker in verdict.agreeing {
                    facts[worker, default: []].append(
                        EvidenceFact(
                            kind: .valid, job: job, unit: verdict.unit, leased: leased(worker, verdict.unit),
                            work: amount, workUnit: workUnit))
                }
            }
            for (worker, reason) in verdict.invalid {
                facts[worker, default: []].append(
                    EvidenceFact(
                        kind: reason == Self.sealedLate || reason == Self.voided ? .late : .invalid, job: job, unit: verdict.unit,
                        leased: leased(worker, verdict.unit), detail: reason))
            }
        }
        for (worker, units) in leases {
            for (unit, lease) in units where !(answered[worker]?.contains(unit) ?? false) {
                guard now.map({ lease.expires <= $0 }) ?? true else { continue }
                facts[worker, default: []].append(EvidenceFact(kind: .expired, job: job, unit: unit, leased: lease.time))
            }
        }
        return facts
    }
}
