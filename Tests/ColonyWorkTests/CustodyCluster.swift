import ColonyCore
import ColonyNet
import Foundation
import Testing

@testable import ColonyWork

/// A shard's custodians as pure state machines, for tests: a publisher, `count` custodians named in the manifest
/// (every shard the same set), and workers each on a network of its own. Records move between custodians only
/// when a test says so (`sync`).
struct CustodyCluster {
    let publisher: Identity
    let keys: [Identity]
    var custodians: [Custodian]
    let manifest: JobManifest
    let now: Int64 = 1_800_000_000_000

    init(
        units: Int = 10, shard: Int = 4, replicas: Int = 2, quorum: Int = 2, maxAttempts: Int = 4, custodians count: Int = 3,
        ipv4Prefix: Int = 24, publisher: Identity? = nil, configure: (inout Redundancy) -> Void = { _ in }
    ) throws {
        self.publisher = publisher ?? Identity(privateKey: Ed25519PrivateKey())
        keys = (0..<count).map { _ in Identity(privateKey: Ed25519PrivateKey()) }
        var redundancy = Redundancy(replicas: replicas, quorum: quorum, maxAttempts: maxAttempts)
        redundancy.ipv4Prefix = ipv4Prefix
        configure(&redundancy)
        let spec = JobSpec(kernel: "tally", title: "t", parameters: ["units": .int(units)], redundancy: redundancy, leaseSeconds: 60)
        let members = keys.enumerated().map { CustodianMember(key: $1.publicKey, endpoint: Endpoint(address: 0x0A00_0001 + UInt32($0), port: 7000)) }
        manifest = try JobManifest.signed(
            spec: spec, kernelVersion: 1, units: (0..<units).map { Data([UInt8($0)]) }, by: self.publisher, shardSize: shard,
            custody: { _, shards in JobCustody.same(members, shards: shards) })
        custodians = keys.map { Custodian(identity: $0) }
        for index in custodians.indices {
            custodians[index].add(manifest)
            custodians[index].randomUnits = false
        }
    }

    var job: JobID { manifest.id }
    func ref(_ shard: Int = 0) -> ShardRef { ShardRef(job: job, shard: shard) }

    /// The address of worker `n`: 10.1.n.5, a /24 of its own.
    static func address(_ n: Int) -> UInt32 { 0x0A01_0005 | UInt32(n) << 8 }

    mutating func lease(
        _ worker: Identity, network n: Int, via c: Int, shard: Int = 0, count: Int = 1, at time: Int64? = nil, excluding: Set<Int> = [],
        holdingFresh: Bool = false
    ) throws -> CustodyRecord? {
        try custodians[c].lease(
            job: job, shard: shard, worker: worker.publicKey, address: Self.address(n), count: count, now: time ?? now, excluding: excluding,
            holdingFresh: holdingFresh)
    }

    @discardableResult
    mutating func submit(_ record: CustodyRecord, via c: Int, at time: Int64? = nil) throws -> [CustodyRecord] {
        try custodians[c].submit(record, now: time ?? now)
    }

    /// Each of `leased` (worker, the custodian that leased it) seals `unit` with the right output, then each reveals,
    /// the custodians syncing after each round: a fresh quorum computing a unit together.
    mutating func sealThenReveal(_ leased: [(Identity, Int)], unit: Int, at time: Int64) throws {
        for (worker, via) in leased {
            try submit(commit(worker, units: [unit], at: time + 1, outputs: Outputs.right), via: via, at: time + 1)
        }
        sync(at: time + 1)
        for (worker, via) in leased {
            try submit(reveal(worker, units: [unit], at: time + 2, outputs: Outputs.right), via: via, at: time + 2)
        }
        sync(at: time + 2)
    }

    /// Every custodian merges every other's records (one full round of anti-entropy).
    mutating func sync(at time: Int64? = nil) {
        for from in custodians.indices {
            for shard in 0..<manifest.shardCount {
                let records = custodians[from].records(ref(shard))
                let changes = custodians[from].changes(ref(shard))
                for to in custodians.indices where to != from {
                    _ = custodians[to].merge(records, changes: changes, now: time ?? now)
                }
            }
        }
    }

    /// The custodians (indices) owning the slots of `unit` now, as custodian `c` sees it.
    func owners(_ unit: Int, at c: Int = 0) -> [Int] {
        let ledger = custodians[c].ledgers[ref(manifest.shard(of: unit))] ?? ShardLedger(manifest: manifest, shard: manifest.shard(of: unit))
        return ledger.slotOwners(unit: unit).compactMap { key in keys.firstIndex { $0.publicKey == key } }
    }

    func verdict(_ unit: Int, at c: Int = 0, time: Int64? = nil) -> UnitVerdict? {
        custodians[c].verdicts(ref(manifest.shard(of: unit)), now: time ?? now)?.first { $0.unit == unit }
    }

    /// A worker's commit of `outputs` for `units`.
    func commit(_ worker: Identity, units: [Int], shard: Int = 0, at time: Int64? = nil, outputs: (Int) -> [UInt8]) -> CustodyRecord {
        CustodyRecord(
            kind: .commit, job: job, shard: shard, worker: worker.publicKey,
            entries: units.map {
                .init(unit: $0, hash: CustodyRecord.seal(worker: worker.publicKey, job: job, unit: $0, digest: SHA256.hash(outputs($0)).bytes))
            }, time: time ?? now + 1, signedBy: worker)
    }

    /// A worker's reveal of `outputs` for `units`.
    func reveal(_ worker: Identity, units: [Int], shard: Int = 0, at time: Int64? = nil, outputs: (Int) -> [UInt8]) -> CustodyRecord {
        CustodyRecord(
            kind: .reveal, job: job, shard: shard, worker: worker.publicKey,
            entries: units.map { .init(unit: $0, hash: SHA256.hash(outputs($0)).bytes, data: outputs($0)) }, time: time ?? now + 2,
            signedBy: worker)
    }

    /// Lease from custodian `c`, commit and reveal `outputs` there: one honest-looking replica.
    mutating func compute(
        _ worker: Identity, network n: Int, via c: Int, units: [Int], outputs: (Int) -> [UInt8], revealAt: Int64? = nil
    ) throws {
        let lease = try #require(try lease(worker, network: n, via: c, count: units.count))
        #expect(lease.entries.map(\.unit) == units)
        try submit(commit(worker, units: units, outputs: outputs), via: c)
        try submit(reveal(worker, units: units, at: revealAt, outputs: outputs), via: c)
    }
}

/// Outputs used by the custody tests.
enum Outputs {
    static func right(_ unit: Int) -> [UInt8] { [UInt8(unit), 42] }
    static func wrong(_ unit: Int) -> [UInt8] { [UInt8(unit), 0] }
}
