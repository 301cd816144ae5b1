import ColonyCore
import ColonyKernel
import Foundation
import Testing

@testable import ColonyWork

/// Custody as a pure state machine: manifests, leases, commit–reveal, validation and every refusal.
@Suite struct CustodyTests {
    let publisher = Identity(privateKey: Ed25519PrivateKey())
    let custodianKey = Identity(privateKey: Ed25519PrivateKey())
    let alice = Identity(privateKey: Ed25519PrivateKey())
    let bob = Identity(privateKey: Ed25519PrivateKey())
    let carol = Identity(privateKey: Ed25519PrivateKey())
    let now: Int64 = 1_800_000_000_000

    func manifest(units: Int = 10, shard: Int = 4) throws -> JobManifest {
        let spec = JobSpec(
            kernel: "tally", title: "t", parameters: ["units": .int(units)],
            redundancy: Redundancy(replicas: 2, quorum: 2, maxAttempts: 4), leaseSeconds: 60)
        let inputs = (0..<units).map { Data([UInt8($0)]) }
        return try JobManifest.signed(spec: spec, kernelVersion: 1, units: inputs, by: publisher, shardSize: shard)
    }

    func output(_ unit: Int) -> [UInt8] { [UInt8(unit), 42] }

    func commit(_ worker: Identity, _ job: JobID, shard: Int, units: [Int], outputs: (Int) -> [UInt8]) -> CustodyRecord {
        CustodyRecord(
            kind: .commit, job: job, shard: shard, worker: worker.publicKey,
            entries: units.map {
                .init(unit: $0, hash: CustodyRecord.seal(worker: worker.publicKey, job: job, unit: $0, digest: SHA256.hash(outputs($0)).bytes))
            }, time: now, signedBy: worker)
    }

    func reveal(_ worker: Identity, _ job: JobID, shard: Int, units: [Int], outputs: (Int) -> [UInt8]) -> CustodyRecord {
        CustodyRecord(
            kind: .reveal, job: job, shard: shard, worker: worker.publicKey,
            entries: units.map { .init(unit: $0, hash: SHA256.hash(outputs($0)).bytes, data: outputs($0)) }, time: now + 1,
            signedBy: worker)
    }

    @Test func manifestsRoundTripAndABadSignatureIsRefused() throws {
        let manifest = try manifest()
        let decoded = try JobManifest(decoding: manifest.encoded())
        #expect(decoded == manifest)
        #expect(decoded.id == manifest.id)
        #expect(manifest.shardCount == 3)
        #expect(manifest.units(inShard: 2) == 8..<10)
        #expect(manifest.id == SHA256.hash(manifest.encoded()))
        var forged = manifest
        forged.title = "changed after signing"
        // The stored ID follows every change of a field.
        #expect(forged.id == SHA256.hash(forged.encoded()) && forged.id != manifest.id)
        #expect(throws: ManifestError.self) { try JobManifest(decoding: forged.encoded()) }
        var bytes = manifest.encoded()
        bytes[bytes.count - 3] ^= 1  // inside the signature
        #expect(throws: ManifestError.self) { try JobManifest(decoding: bytes) }
    }

    @Test func twoAgreeingWorkersValidateAUnitAndTheRecordsSayItAnywhere() throws {
        let manifest = try manifest()
        var custodian = Custodian(identity: custodianKey)
        custodian.add(manifest)
        let job = manifest.id
        for worker in [alice, bob] {
            let lease = try #require(try custodian.lease(job: job, shard: 0, worker: worker.publicKey, count: 4, now: now))
            #expect(lease.entries.map(\.unit) == [0, 1, 2, 3])
            _ = try custodian.submit(commit(worker, job, shard: 0, units: [0, 1, 2, 3], outputs: output), now: now)
        }
        // Both slots of every unit are leased: a third worker gets nothing, and nobody gets a unit twice.
        #expect(try custodian.lease(job: job, shard: 0, worker: carol.publicKey, count: 4, now: now) == nil)
        #expect(try custodian.lease(job: job, shard: 0, worker: alice.publicKey, count: 4, now: now) == nil)
        for worker in [alice, bob] {
            _ = try custodian.submit(reveal(worker, job, shard: 0, units: [0, 1, 2, 3], outputs: output), now: now)
        }
        let ref = ShardRef(job: job, shard: 0)
        let verdicts = try #require(custodian.verdicts(ref, now: now))
        #expect(verdicts.allSatisfy { $0.state == .validated })
        #expect(verdicts[2].output == output(2))
        // The same set in another order, on another "peer", without a clock: the same verdicts.
        var ledger = ShardLedger(job: job, shard: 0, units: 0..<4, policy: manifest.policy)
        for record in custodian.records(ref).reversed() { ledger.insert(record) }
        #expect(ledger.verdicts(now: nil, equivalent: { $0 == $1 }).map(\.state) == verdicts.map(\.state))
    }

    @Test func aReleasedLeaseReopensItsSlotAndMayGoBackToItsWorkerButAFailureMayNot() throws {
        let manifest = try manifest()
        var custodian = Custodian(identity: custodianKey)
        custodian.add(manifest)
        let job = manifest.id
        let ref = ShardRef(job: job, shard: 0)
        let lease = try #require(try custodian.lease(job: job, shard: 0, worker: alice.publicKey, count: 1, now: now))
        // Another worker cannot release Alice's lease.
        let forged = CustodyRecord(
            kind: .error, job: job, shard: 0, worker: bob.publicKey,
            entries: [.init(unit: 0, data: CustodyRecord.releaseReason(of: lease.id))], time: now, signedBy: bob)
        #expect(throws: CustodyError.self) { try custodian.submit(forged, now: now) }
        #expect(custodian.verdicts(ref, now: now)?.first?.liveLeases == 1)
        // Alice gives it back: no live lease, no attempt counted, and she may have the unit again.
        let release = CustodyRecord(
            kind: .error, job: job, shard: 0, worker: alice.publicKey,
            entries: [.init(unit: 0, data: CustodyRecord.releaseReason(of: lease.id))], time: now, signedBy: alice)
        _ = try custodian.submit(release, now: now)
        var verdict = try #require(custodian.verdicts(ref, now: now)?.first)
        #expect(verdict.liveLeases == 0 && verdict.attempts == 0 && verdict.openSlots == 2)
        let again = try #require(try custodian.lease(job: job, shard: 0, worker: alice.publicKey, count: 1, now: now))
        #expect(again.entries.map(\.unit) == [0])
        verdict = try #require(custodian.verdicts(ref, now: now)?.first)
        #expect(verdict.liveLeases == 1 && verdict.attempts == 1)
        // A worker whose kernel failed on the unit is not given it again.
        _ = try custodian.submit(
            CustodyRecord(
                kind: .error, job: job, shard: 0, worker: alice.publicKey,
                entries: [.init(unit: 0, data: Array("kernel error".utf8))], time: now, signedBy: alice), now: now)
        #expect(try custodian.lease(job: job, shard: 0, worker: alice.publicKey, count: 1, now: now)?.entries.map(\.unit) != [0])
    }

    @Test func aCheaterIsOutvotedAndCounted() throws {
        let manifest = try manifest()
        var custodian = Custodian(identity: custodianKey)
        custodian.add(manifest)
        let job = manifest.id
        let wrong: (Int) -> [UInt8] = { [UInt8($0), 0] }
        for (worker, outputs) in [(alice, output), (bob, wrong)] {
            _ = try custodian.lease(job: job, shard: 0, worker: worker.publicKey, count: 1, now: now)
            _ = try custodian.submit(commit(worker, job, shard: 0, units: [0], outputs: outputs), now: now)
            _ = try custodian.submit(reveal(worker, job, shard: 0, units: [0], outputs: outputs), now: now)
        }
        let ref = ShardRef(job: job, shard: 0)
        var verdict = try #require(custodian.verdicts(ref, now: now)?.first)
        #expect(verdict.state == .open)
        #expect(verdict.openSlots == 1)  // one more agreeing result is enough
        _ = try custodian.lease(job: job, shard: 0, worker: carol.publicKey, count: 1, now: now)
        _ = try custodian.submit(commit(carol, job, shard: 0, units: [0], outputs: output), now: now)
        _ = try custodian.submit(reveal(carol, job, shard: 0, units: [0], outputs: output), now: now)
        verdict = try #require(custodian.verdicts(ref, now: now)?.first)
        #expect(verdict.state == .validated)
        #expect(verdict.output == output(0))
        #expect(Set(verdict.agreeing) == [alice.publicKey, carol.publicKey])
        #expect(verdict.invalid.map(\.worker) == [bob.publicKey])
        #expect(verdict.attempts == 3)
    }

    @Test func anExpiredLeaseReopensItsSlot() throws {
        let manifest = try manifest()
        var custodian = Custodian(identity: custodianKey)
        custodian.add(manifest)
        let job = manifest.id
        _ = try custodian.lease(job: job, shard: 0, worker: alice.publicKey, count: 1, now: now)
        _ = try custodian.lease(job: job, shard: 0, worker: bob.publicKey, count: 1, now: now)
        #expect(try custodian.lease(job: job, shard: 0, worker: carol.publicKey, count: 1, now: now)?.entries.map(\.unit) == [1])
        let later = now + 61_000
        #expect(try custodian.lease(job: job, shard: 0, worker: carol.publicKey, count: 1, now: later)?.entries.map(\.unit) == [0])
        // Alice's commit after her lease ended is refused.
        #expect {
            _ = try custodian.submit(commit(alice, job, shard: 0, units: [0], outputs: output), now: later)
        } throws: { ($0 as? CustodyError)?.reason == "lease expired" }
    }

    @Test func everyBadInputIsRefusedCountedAndChangesNothing() throws {
        let manifest = try manifest()
        var custodian = Custodian(identity: custodianKey)
        custodian.add(manifest)
        let job = manifest.id
        _ = try custodian.lease(job: job, shard: 0, worker: alice.publicKey, count: 1, now: now)
        let before = custodian.records(ShardRef(job: job, shard: 0))

        func refused(_ reason: String, _ body: (inout Custodian) throws -> Void) {
            let count = custodian.rejected[reason] ?? 0
            #expect(throws: CustodyError.self) { try body(&custodian) }
            #expect(custodian.rejected[reason] == count + 1, "\(reason): \(custodian.rejected)")
        }
        // A lease request for an unknown job.
        let unknownJob = SHA256.hash([1, 2, 3])
        refused("unknown job") { _ = try $0.lease(job: unknownJob, shard: 0, worker: alice.publicKey, count: 1, now: now) }
        // A result for a unit that does not exist (unit 99 of a 10-unit job, and a shard past the end).
        refused("unknown unit") { try $0.submit(commit(alice, job, shard: 0, units: [99], outputs: output), now: now) }
        refused("unknown unit") { try $0.submit(commit(alice, job, shard: 7, units: [0], outputs: output), now: now) }
        // A result from a worker that held no lease.
        refused("no lease") { try $0.submit(commit(bob, job, shard: 0, units: [0], outputs: output), now: now) }
        refused("no lease") { try $0.submit(reveal(bob, job, shard: 0, units: [0], outputs: output), now: now) }
        // A reveal with no commit before it.
        refused("reveal without commit") { try $0.submit(reveal(alice, job, shard: 0, units: [0], outputs: output), now: now) }
        // A record whose signature fails.
        var forged = commit(alice, job, shard: 0, units: [0], outputs: output)
        forged.entries[0].hash[0] ^= 1
        refused("bad signature") { try $0.submit(forged, now: now) }
        #expect(custodian.records(ShardRef(job: job, shard: 0)) == before)

        // A reveal that does not match its seal (a copied or invented output) is refused; the custodian ends
        // that worker's lease with an error record, so the slot reopens.
        _ = try custodian.submit(commit(alice, job, shard: 0, units: [0], outputs: output), now: now)
        refused("reveal does not match its commit") {
            try $0.submit(reveal(alice, job, shard: 0, units: [0], outputs: { _ in [9, 9, 9] }), now: now)
        }
        let verdict = try #require(custodian.verdicts(ShardRef(job: job, shard: 0), now: now)?.first)
        #expect(verdict.liveLeases == 0)
        #expect(verdict.openSlots == 2)
    }

    @Test func recordsSurviveTheirBytes() throws {
        let manifest = try manifest()
        let record = reveal(alice, manifest.id, shard: 1, units: [4, 5], outputs: output)
        let decoded = try CustodyRecord(try BencodeDecoder(limits: .frame).decode(record.encoded()))
        #expect(decoded == record)
        #expect(decoded.isSignatureValid)
        #expect(throws: CustodyError.self) { try CustodyRecord(["k": "lease"]) }
    }
}
