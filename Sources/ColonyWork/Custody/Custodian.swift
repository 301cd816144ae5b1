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
/// the shards it keeps, lease decisions, and the admission checks every record passes before it changes state.
/// Refusals are counted by reason.
public struct Custodian: Sendable {
    /// Signs leases and the error records that void a lease.
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
    /// How outputs of a kernel are compared; units of kernels not listed compare by digest only.
    public var equivalence: [String: @Sendable ([UInt8], [UInt8]) -> Bool] = [:]

    public init(identity: Identity) {
        self.identity = identity
    }

    /// Learns a job whose manifest the caller has checked.
    public mutating func add(_ manifest: JobManifest) {
        manifests[manifest.id] = manifest
    }

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

    private mutating func ledger(_ ref: ShardRef, _ manifest: JobManifest) -> ShardLedger {
        if let ledger = ledgers[ref] { return ledger }
        let ledger = ShardLedger(job: ref.job, shard: ref.shard, units: manifest.units(inShard: ref.shard), policy: manifest.policy)
        ledgers[ref] = ledger
        return ledger
    }

    private func equivalent(_ manifest: JobManifest) -> ([UInt8], [UInt8]) -> Bool {
        equivalence[manifest.kernel] ?? { $0 == $1 }
    }

    // MARK: Leases

    /// Leases up to `count` open units of the shard to `worker`: never a unit it had before, never more live
    /// leases per unit than the policy allows. Nil when the shard has nothing open for this worker.
    public mutating func lease(
        job: JobID, shard: Int, worker: Ed25519PublicKey, count: Int, now: Int64
    ) throws(CustodyError) -> CustodyRecord? {
        let ref: ShardRef
        let manifest: JobManifest
        do {
            (ref, manifest) = try ledgerKey(job, shard)
        } catch {
            throw refuse(error)
        }
        var ledger = ledger(ref, manifest)
        let compare = equivalent(manifest)
        var chosen: [CustodyRecord.Entry] = []
        for unit in ledger.units where chosen.count < max(1, count) {
            guard ledger.mayLease(worker, unit: unit) else { continue }
            if ledger.verdict(unit: unit, now: now, equivalent: compare).openSlots > 0 {
                chosen.append(CustodyRecord.Entry(unit: unit))
            }
        }
        guard !chosen.isEmpty else { return nil }
        var time = now
        var record: CustodyRecord
        var id: SHA256Digest
        repeat {
            // A lease equal to one given back (same worker, units and millisecond) would share its ID, and so its
            // release: move it on by a millisecond.
            record = CustodyRecord(
                kind: .lease, job: job, shard: shard, worker: worker,
                expires: time + Int64(manifest.policy.leaseSeconds) * 1000, entries: chosen, time: time, signedBy: identity)
            id = record.id
            time += 1
        } while ledger.records[id] != nil
        ledger.insert(record, id: id)
        ledgers[ref] = ledger
        accepted["lease", default: 0] += 1
        return record
    }

    // MARK: Records from workers

    /// Admits a worker's commit, reveal or error record. Every entry must pass, or the record is refused whole
    /// and nothing changes. Returns the records added: the worker's, and for a reveal that does not match its
    /// seal, the custodian's error record that ends that worker's lease (so its slot reopens).
    public mutating func submit(_ record: CustodyRecord, now: Int64) throws(CustodyError) -> [CustodyRecord] {
        do {
            return try admit(record, now: now)
        } catch {
            if error.reason == "reveal does not match its commit" {
                // Evidence and a freed slot: the custodian ends the lease of a worker whose reveal was not what
                // it sealed (a copied or invented result).
                if let (ref, _) = try? ledgerKey(record.job, record.shard), var ledger = ledgers[ref] {
                    let void = CustodyRecord(
                        kind: .error, job: record.job, shard: record.shard, worker: record.author,
                        entries: record.entries.map { CustodyRecord.Entry(unit: $0.unit, data: Array(error.reason.utf8)) },
                        time: now, signedBy: identity)
                    ledger.insert(void)
                    ledgers[ref] = ledger
                    evidence.append(void)
                }
            }
            throw refuse(error)
        }
    }

    private mutating func admit(_ record: CustodyRecord, now: Int64) throws(CustodyError) -> [CustodyRecord] {
        guard record.kind != .lease else { throw CustodyError("malformed", "workers do not submit leases") }
        guard record.author == record.worker else {
            throw CustodyError("malformed", "a worker's record names another worker")
        }
        let (ref, manifest) = try ledgerKey(record.job, record.shard)
        var ledger = ledger(ref, manifest)
        if let entry = record.entries.first(where: { !ledger.units.contains($0.unit) }) {
            throw CustodyError("unknown unit", "unit \(entry.unit) is not in shard \(record.shard) (\(ledger.units))")
        }
        guard Set(record.entries.map(\.unit)).count == record.entries.count else {
            throw CustodyError("malformed", "a unit appears twice in one record")
        }
        guard record.isSignatureValid else {
            throw CustodyError("bad signature", "record by \(record.author.hex.prefix(12)) does not verify")
        }
        let worker = record.author
        let compare = equivalent(manifest)
        switch record.kind {
        case .commit:
            for entry in record.entries {
                guard entry.hash.count == 32 else { throw CustodyError("malformed", "a seal is 32 bytes") }
                guard ledger.wasLeased(worker, unit: entry.unit) else {
                    throw CustodyError("no lease", "worker \(worker.hex.prefix(12)) holds no lease on unit \(entry.unit)")
                }
                guard ledger.holdsLiveLease(worker, unit: entry.unit, now: now) else {
                    throw CustodyError("lease expired", "the lease on unit \(entry.unit) has ended")
                }
                guard ledger.verdict(unit: entry.unit, now: now, equivalent: compare).state == .open else {
                    throw CustodyError("unit closed", "unit \(entry.unit) is already decided")
                }
            }
        case .reveal:
            for entry in record.entries {
                guard ledger.wasLeased(worker, unit: entry.unit) else {
                    throw CustodyError("no lease", "worker \(worker.hex.prefix(12)) holds no lease on unit \(entry.unit)")
                }
                guard let seal = ledger.seal(of: worker, unit: entry.unit) else {
                    throw CustodyError("reveal without commit", "unit \(entry.unit) has no seal from this worker")
                }
                guard entry.hash.count == 32, SHA256.hash(entry.data).bytes == entry.hash,
                    CustodyRecord.seal(worker: worker, job: record.job, unit: entry.unit, digest: entry.hash) == seal
                else {
                    throw CustodyError("reveal does not match its commit", "unit \(entry.unit)")
                }
            }
        case .error:
            for entry in record.entries where !ledger.wasLeased(worker, unit: entry.unit) {
                throw CustodyError("no lease", "worker \(worker.hex.prefix(12)) holds no lease on unit \(entry.unit)")
            }
        case .lease:
            break
        }
        guard ledger.insert(record) else { return [] }
        ledgers[ref] = ledger
        accepted[record.kind.rawValue, default: 0] += 1
        return [record]
    }

    // MARK: Exchange between custodians

    /// Merges records another custodian holds (anti-entropy): each must verify and belong to a known job's shard.
    /// Returns those that were new here.
    public mutating func merge(_ records: [CustodyRecord]) -> [CustodyRecord] {
        var added: [CustodyRecord] = []
        for record in records {
            guard let (ref, manifest) = try? ledgerKey(record.job, record.shard) else {
                _ = refuse(CustodyError("unknown job", "merged record for an unknown job"))
                continue
            }
            var ledger = ledger(ref, manifest)
            guard record.entries.allSatisfy({ ledger.units.contains($0.unit) }) else {
                _ = refuse(CustodyError("unknown unit", "merged record outside its shard"))
                continue
            }
            let id = record.id
            guard ledger.records[id] == nil else { continue }
            guard record.isSignatureValid else {
                _ = refuse(CustodyError("bad signature", "merged record does not verify"))
                continue
            }
            ledger.insert(record, id: id)
            ledgers[ref] = ledger
            added.append(record)
        }
        return added
    }

    /// The shard's records (empty when unknown).
    public func records(_ ref: ShardRef) -> [CustodyRecord] { ledgers[ref]?.sortedRecords ?? [] }

    /// IDs of the shard's records, for comparing sets.
    public func recordIDs(_ ref: ShardRef) -> Set<SHA256Digest> { Set(ledgers[ref]?.records.keys ?? [:].keys) }

    /// The verdicts of a shard's units at `now`.
    public func verdicts(_ ref: ShardRef, now: Int64) -> [UnitVerdict]? {
        guard let manifest = manifests[ref.job], ref.shard >= 0, ref.shard < manifest.shardCount else { return nil }
        let ledger = ledgers[ref] ?? ShardLedger(
            job: ref.job, shard: ref.shard, units: manifest.units(inShard: ref.shard), policy: manifest.policy)
        return ledger.verdicts(now: now, equivalent: equivalent(manifest))
    }

    /// The evidence records signed since the last call.
    public mutating func takeEvidence() -> [CustodyRecord] {
        defer { evidence = [] }
        return evidence
    }

    /// Forgets shards (handed to other custodians).
    public mutating func drop(_ ref: ShardRef) { ledgers[ref] = nil }
}
