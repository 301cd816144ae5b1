import ColonyCore
import ColonyNet
import ColonyWork
import Foundation
import Testing

/// The custody protocol over an in-memory exchange: custodians that see different records (a partition, records
/// arriving in any order) converge by merging, and every custodian then reaches the same verdicts — the CRDT
/// property DESIGN.md (Custody) rests on. Deterministic: a seeded generator drives workers, partitions and
/// the order of merges, on a virtual clock.
@Suite struct CustodyConvergenceTests {
    private struct Worker {
        let identity = Identity(privateKey: Ed25519PrivateKey())
        let cheats: Bool
        var lease: (custodian: Int, record: CustodyRecord)?
        var stage = 0
    }

    private static func output(_ unit: Int, cheating: Bool) -> [UInt8] {
        cheating ? [UInt8(unit & 0xFF), 0xEE, UInt8.random(in: 0...255)] : [UInt8(unit & 0xFF), UInt8(unit >> 8), 7]
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func partitionedCustodiansConvergeToTheSameVerdicts(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let spec = JobSpec(
            kernel: "tally", title: "converge", parameters: ["units": .int(40)],
            redundancy: Redundancy(replicas: 2, quorum: 2, maxAttempts: 8), leaseSeconds: 30)
        var custodians = (0..<4).map { _ in Custodian(identity: Identity(privateKey: Ed25519PrivateKey())) }
        let members = custodians.enumerated().map {
            CustodianMember(key: $1.identity.publicKey, endpoint: Endpoint(address: 0x0A00_0001 + UInt32($0), port: 7000))
        }
        let manifest = try JobManifest.signed(
            spec: spec, kernelVersion: 1, units: (0..<40).map { Data([UInt8($0)]) },
            by: Identity(privateKey: Ed25519PrivateKey()), shardSize: 10,
            custody: { _, shards in JobCustody.same(members, shards: shards) })
        let job = manifest.id
        for index in custodians.indices { custodians[index].add(manifest) }
        var workers = (0..<10).map { Worker(cheats: $0 == 9) }
        let refs = (0..<manifest.shardCount).map { ShardRef(job: job, shard: $0) }
        var now: Int64 = 1_800_000_000_000

        func decided(_ custodian: Custodian) -> Bool {
            refs.allSatisfy { ref in custodian.verdicts(ref, now: now)?.allSatisfy { $0.state != .open } ?? false }
        }

        var steps = 0
        while steps < 400 && !custodians.allSatisfy(decided) {
            steps += 1
            now += 1_000
            // Each worker takes one step against the custodian it leased from (workers reach every custodian).
            for index in workers.indices.shuffled(using: &random) {
                var worker = workers[index]
                if let (at, lease) = worker.lease {
                    let units = lease.entries.map(\.unit)
                    let outputs = Dictionary(uniqueKeysWithValues: units.map { ($0, Self.output($0, cheating: worker.cheats)) })
                    let record: CustodyRecord
                    if worker.stage == 0 {
                        record = CustodyRecord(
                            kind: .commit, job: job, shard: lease.shard, worker: worker.identity.publicKey,
                            entries: units.map { unit in
                                .init(unit: unit, hash: CustodyRecord.seal(
                                    worker: worker.identity.publicKey, job: job, unit: unit, digest: SHA256.hash(outputs[unit]!).bytes))
                            }, time: now, signedBy: worker.identity)
                    } else {
                        // As a worker does: reveal once enough seals could pair with this one (its lease may have
                        // ended meanwhile; a reveal needs none), or give up waiting well after the lease.
                        let partners = custodians[at].partners(ShardRef(job: job, shard: lease.shard), worker: worker.identity.publicKey)
                        guard units.allSatisfy({ partners[$0] ?? 0 >= 2 }) || now > lease.expires + 15_000 else {
                            workers[index] = worker
                            continue
                        }
                        record = CustodyRecord(
                            kind: .reveal, job: job, shard: lease.shard, worker: worker.identity.publicKey,
                            entries: units.map { .init(unit: $0, hash: SHA256.hash(outputs[$0]!).bytes, data: outputs[$0]!) },
                            time: now, signedBy: worker.identity)
                    }
                    // A refusal (the unit closed meanwhile) is the worker's loss, not an error of the protocol.
                    _ = try? custodians[at].submit(record, now: now)
                    worker.stage += 1
                    if worker.stage == 2 { worker.lease = nil; worker.stage = 0 }
                } else {
                    let at = Int.random(in: 0..<custodians.count, using: &random)
                    for shard in (0..<manifest.shardCount).shuffled(using: &random) {
                        // Each worker on a /24 of its own. A custodian on the other side of the partition has not
                        // seen the worker's reveal and takes it for one keeping a result back (`keptBack`): refused
                        // there, as a worker does it asks elsewhere.
                        var lease: CustodyRecord?
                        do {
                            lease = try custodians[at].lease(
                                job: job, shard: shard, worker: worker.identity.publicKey, address: 0x0A01_0005 | UInt32(index) << 8,
                                count: 5, now: now)
                        } catch {
                            guard error.reason == "keeps a result back" else { throw error }
                        }
                        if let lease {
                            worker.lease = (at, lease)
                            break
                        }
                    }
                }
                workers[index] = worker
            }
            // Anti-entropy: for the first 10 steps {0, 1} and {2, 3} cannot reach each other; then all can.
            let partitioned = steps <= 10
            if steps == 10 {
                // The partition mattered: the two sides saw different records.
                #expect(refs.contains { custodians[0].recordIDs($0) != custodians[2].recordIDs($0) })
            }
            for _ in 0..<2 {
                let a = Int.random(in: 0..<custodians.count, using: &random)
                let b = Int.random(in: 0..<custodians.count, using: &random)
                guard a != b, !partitioned || (a < 2) == (b < 2) else { continue }
                for ref in refs.shuffled(using: &random) {
                    let theirs = custodians[b].records(ref).shuffled(using: &random)
                    _ = custodians[a].merge(theirs, now: now)
                }
            }
        }
        // A last full exchange, then every custodian holds the same set and says the same thing.
        for a in custodians.indices {
            for b in custodians.indices where a != b {
                for ref in refs { _ = custodians[a].merge(custodians[b].records(ref), now: now) }
            }
        }
        let cheater = workers[9].identity.publicKey
        for ref in refs {
            let sets = custodians.map { $0.recordIDs(ref) }
            #expect(Set(sets).count == 1, "shard \(ref.shard): record sets differ")
            let verdicts = custodians.map { $0.verdicts(ref, now: now)! }
            for verdict in verdicts[0] {
                #expect(verdict.state == .validated, "seed \(seed) unit \(verdict.unit): \(verdict.state)")
                #expect(verdict.output == Self.output(verdict.unit, cheating: false))
                #expect(!verdict.agreeing.contains(cheater))
            }
            for other in verdicts.dropFirst() {
                #expect(other.map(\.state) == verdicts[0].map(\.state))
                #expect(other.map(\.output) == verdicts[0].map(\.output))
                #expect(other.map { Set($0.agreeing) } == verdicts[0].map { Set($0.agreeing) })
            }
        }
        #expect(steps > 10 && steps < 400, "seed \(seed): decided after \(steps) steps")
    }
}
