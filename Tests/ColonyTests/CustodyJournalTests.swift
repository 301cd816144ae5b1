import ColonyBlobs
import ColonyCore
import ColonyNet
import ColonyWork
import Foundation
import Synchronization
import Testing

@testable import Colony

/// Custody records survive the peer that accepted them (DESIGN.md, Data directory).
@Suite struct CustodyJournalTests {
    static func peer(_ folder: URL, host: String = "127.0.0.1") throws -> ColonyPeer {
        var configuration = ColonyPeer.Configuration()
        configuration.syncInterval = nil
        configuration.blobs.repairInterval = nil
        configuration.blobs.rateLimit = nil
        return try ColonyPeer(dataDirectory: folder, host: host, configuration: configuration)
    }

    static func leaseFrame(_ manifest: JobManifest, worker: Identity, time: Int64 = CustodyClock.now()) -> Frame {
        CustodyWire.leaseRequest(
            [("job", .bytes(manifest.id.bytes))], job: manifest.id, shard: 0, count: 4, by: worker, now: time)
    }

    @Test func acceptedRecordsAreReadBackAfterARestart() throws {
        let folder = SwarmTestSupport.folder("journal")
        defer { try? FileManager.default.removeItem(at: folder) }
        let worker = Identity(privateKey: Ed25519PrivateKey())
        let first = try Self.peer(folder)
        try first.start()
        let manifest = try SwarmTestSupport.manifest(units: 8, quorum: 1, shard: 8, custodians: [SwarmTestSupport.member(first)])
        let ref = ShardRef(job: manifest.id, shard: 0)
        _ = try first.publish(manifest)
        let reply = try first.request(Self.leaseFrame(manifest, worker: worker), to: first.endpoint)
        let lease = try CustodyRecord(try CustodyWire.payload(reply))
        let commit = CustodyRecord(
            kind: .commit, job: manifest.id, shard: 0, worker: worker.publicKey,
            entries: lease.entries.map { .init(unit: $0.unit, hash: [UInt8](repeating: 7, count: 32)) }, signedBy: worker)
        _ = try first.request(CustodyWire.frame("co_submit", first.jobFields(manifest.id), payload: commit.value), to: first.endpoint)
        let before = first.custodian.recordIDs(ref)
        #expect(before.count == 2)
        // As a killed process would: no hand-off, nothing saved on the way out.
        first.crash()

        let second = try Self.peer(folder)
        try second.start()
        defer { second.stop(handOff: false) }
        #expect(second.manifest(manifest.id) == manifest)
        #expect(second.custodian.recordIDs(ref) == before)
        // The restored lease still counts: the same worker gets no second lease on those units.
        let again = try second.request(Self.leaseFrame(manifest, worker: worker), to: second.endpoint)
        let more = try CustodyRecord(try CustodyWire.payload(again))
        #expect(Set(more.entries.map(\.unit)).isDisjoint(with: lease.entries.map(\.unit)))
    }

    /// A custodian signs one set change per epoch (two, each with a majority, would fork the shard's authority).
    /// What it signed was kept in memory only: restarted, it signed a second change to the same epoch.
    @Test func aCustodianRestartedSignsNoSecondChangeToAnEpochItSignedOnce() throws {
        let folder = SwarmTestSupport.folder("journal-signed")
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try Self.peer(folder)
        try first.start()
        // The peer and two others whose keys the test holds: the third resigns (signs its own removal).
        let (other, leaving) = (Identity(privateKey: Ed25519PrivateKey()), Identity(privateKey: Ed25519PrivateKey()))
        let members = [SwarmTestSupport.member(first)] + [other, leaving].map { CustodianMember(key: $0.publicKey, endpoint: Endpoint(address: 0x7F00_0001, port: 9)) }
        let manifest = try SwarmTestSupport.manifest(units: 8, quorum: 1, shard: 8, custodians: members)
        // Kept as a publish would leave it (the others are keys only, so a publish would not complete).
        try first.keep(manifest)
        func proposal() -> CustodySetChange {
            let newcomer = CustodianMember(key: Identity(privateKey: Ed25519PrivateKey()).publicKey, endpoint: Endpoint(address: 0x7F00_0001, port: 10))
            var change = CustodySetChange(job: manifest.id, shard: 0, epoch: 1, members: [members[0], members[1], newcomer])
            change.sign(by: other)
            change.sign(by: leaving)
            return change
        }
        func cosign(_ change: CustodySetChange, at peer: ColonyPeer) throws -> CustodySetChange? {
            let frame = CustodyWire.frame("co_cosign", peer.jobFields(manifest.id), payload: CustodyWire.itemList([], changes: [change]))
            let reply: Frame
            do {
                reply = try peer.request(frame, to: peer.endpoint)
            } catch where error.refusal?.reason == "bad authority" {
                return nil
            }
            return try CustodyWire.items(reply).changes.first
        }
        let (signedFirst, other1) = (proposal(), proposal())
        let signed = try #require(try cosign(signedFirst, at: first))
        #expect(signed.validSigners(among: members).contains(first.identity.publicKey))
        #expect(try cosign(other1, at: first) == nil, "a second change to epoch 1, before the restart")
        first.crash()

        let second = try Self.peer(folder)
        try second.start()
        defer { second.stop(handOff: false) }
        // Another change to epoch 1: refused. The one it signed: signed again (its proposer asks again).
        #expect(try cosign(proposal(), at: second) == nil, "a second change to epoch 1, after a restart")
        let again = try #require(try cosign(signedFirst, at: second))
        #expect(again.unsignedValue() == signedFirst.unsignedValue())
        #expect(second.custodian.rejected["bad authority", default: 0] == 1)
    }

    @Test func anUnfinishedLastEntryIsCutAndTheRestIsKept() throws {
        let folder = SwarmTestSupport.folder("journal-tail")
        defer { try? FileManager.default.removeItem(at: folder) }
        let manifest = try SwarmTestSupport.manifest(units: 4, quorum: 1, shard: 4, custodians: [SwarmTestSupport.stranger()])
        let custodian = Identity(privateKey: Ed25519PrivateKey())
        let worker = Identity(privateKey: Ed25519PrivateKey())
        let journal = try CustodyJournal(folder: folder)
        let root = BlobID(root: SHA256.hash([1, 2, 3]))
        try journal.remember(manifest.id, root: root)
        let lease = CustodyRecord(
            kind: .lease, job: manifest.id, shard: 0, worker: worker.publicKey, expires: 1_000,
            entries: [.init(unit: 0)], time: 0, signedBy: custodian)
        try journal.append([lease])
        let log = folder.appendingPathComponent(manifest.id.hex + ".log")
        let good = try Data(contentsOf: log)
        // A crash in the middle of the next append: a length promising more bytes than were written.
        try (good + Data([0, 0, 1, 0, 0xDE, 0xAD])).write(to: log)

        let loaded = try CustodyJournal(folder: folder).load()
        #expect(loaded.jobs.count == 1)
        #expect(loaded.jobs.first?.root == root)
        #expect(loaded.jobs.first?.records.map(\.id) == [lease.id])
        #expect(loaded.problems.count == 1)
        #expect(try Data(contentsOf: log) == good)
    }
}

extension CustodyJournalTests {
    @Test func concurrentAppendsToManyJobsAreAllReadBack() throws {
        let folder = SwarmTestSupport.folder("journal-many")
        defer { try? FileManager.default.removeItem(at: folder) }
        let journal = try CustodyJournal(folder: folder)
        let custodian = Identity(privateKey: Ed25519PrivateKey())
        let worker = Identity(privateKey: Ed25519PrivateKey())
        // More jobs than logs kept open, so logs are closed and reopened while other threads sync.
        let jobs = (0..<(CustodyJournal.openLimit + 36)).map { SHA256.hash([UInt8]("job \($0)".utf8)) }
        for job in jobs { try journal.remember(job, root: BlobID(root: job)) }
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: jobs.count * 2) { index in
            let record = CustodyRecord(
                kind: .lease, job: jobs[index % jobs.count], shard: 0, worker: worker.publicKey, expires: 1_000,
                entries: [.init(unit: index)], time: Int64(index), signedBy: custodian)
            do { try journal.append([record]) } catch { failures.withLock { $0 += 1 } }
        }
        #expect(failures.withLock { $0 } == 0)
        let loaded = try CustodyJournal(folder: folder).load()
        #expect(loaded.problems.isEmpty)
        #expect(loaded.jobs.count == jobs.count)
        #expect(loaded.jobs.allSatisfy { $0.records.count == 2 })
    }
}

/// Lease requests are signed by their worker: nobody leases in another worker's name.
@Suite struct LeaseRequestTests {
    @Test func forgedStaleAndReplayedLeaseRequestsAreRefusedCountedAndChangeNothing() throws {
        let folder = SwarmTestSupport.folder("lease-requests")
        defer { try? FileManager.default.removeItem(at: folder) }
        let peer = try CustodyJournalTests.peer(folder)
        try peer.start()
        defer { peer.stop(handOff: false) }
        let manifest = try SwarmTestSupport.manifest(units: 8, quorum: 1, shard: 8, custodians: [SwarmTestSupport.member(peer)])
        _ = try peer.publish(manifest)
        let victim = Identity(privateKey: Ed25519PrivateKey())
        let attacker = Identity(privateKey: Ed25519PrivateKey())
        let ref = ShardRef(job: manifest.id, shard: 0)

        // Signed by someone else, in the victim's name.
        var forged = CustodyJournalTests.leaseFrame(manifest, worker: victim)
        let attackerFrame = CustodyJournalTests.leaseFrame(manifest, worker: attacker)
        forged.header[Array("sig".utf8)] = attackerFrame.header["sig"]
        // No signature at all.
        var unsigned = CustodyJournalTests.leaseFrame(manifest, worker: victim)
        unsigned.header[Array("sig".utf8)] = nil
        // Signed, but an hour old.
        let stale = CustodyJournalTests.leaseFrame(manifest, worker: victim, time: CustodyClock.now() - 3_600_000)
        for frame in [forged, unsigned, stale] {
            #expect(throws: ColonyRequestError.self) { try peer.request(frame, to: peer.endpoint) }
        }
        #expect(peer.custodian.recordIDs(ref).isEmpty)
        #expect(peer.statistics.rejected["bad signature"] == 2)
        #expect(peer.statistics.rejected["malformed"] == 1)

        // A good request is answered once. The same bytes again (a retry whose first answer was lost, or a replay)
        // get the lease already granted and nothing new; once the worker has used its lease, they are refused.
        let good = CustodyJournalTests.leaseFrame(manifest, worker: victim)
        let lease = try CustodyRecord(try CustodyWire.payload(try peer.request(good, to: peer.endpoint)))
        #expect(peer.custodian.recordIDs(ref).count == 1)
        let again = try CustodyRecord(try CustodyWire.payload(try peer.request(good, to: peer.endpoint)))
        #expect(again == lease)
        #expect(peer.leasesResent == 1)
        #expect(peer.custodian.recordIDs(ref).count == 1)
        let commit = CustodyRecord(
            kind: .commit, job: manifest.id, shard: 0, worker: victim.publicKey,
            entries: lease.entries.map { .init(unit: $0.unit, hash: [UInt8](repeating: 7, count: 32)) }, signedBy: victim)
        _ = try peer.request(CustodyWire.frame("co_submit", peer.jobFields(manifest.id), payload: commit.value), to: peer.endpoint)
        #expect(throws: ColonyRequestError.self) { try peer.request(good, to: peer.endpoint) }
        #expect(peer.statistics.rejected["replayed"] == 1)
        #expect(peer.custodian.recordIDs(ref).count == 2)
    }

    /// Issue 12: leases granted while the answer was lost on the way (a custodian stalled on an unreachable peer,
    /// a connection cut) reached no worker; the worker's retry was refused as a replay, and the rule that a unit is
    /// never leased twice to one worker then barred it from the unit for good.
    @Test func aLeaseWhoseAnswerWasLostIsHandedAgainByAnyCustodianAndNeverBarsItsWorker() throws {
        let folder = SwarmTestSupport.folder("lost-lease")
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try CustodyJournalTests.peer(folder.appendingPathComponent("a"))
        let second = try CustodyJournalTests.peer(folder.appendingPathComponent("b"))
        try first.start()
        try second.start()
        defer {
            first.stop(handOff: false)
            second.stop(handOff: false)
        }
        let manifest = try SwarmTestSupport.manifest(
            units: 4, replicas: 1, quorum: 1, shard: 4, custodians: [SwarmTestSupport.member(first), SwarmTestSupport.member(second)])
        _ = try first.publish(manifest)
        let ref = ShardRef(job: manifest.id, shard: 0)
        let worker = Identity(privateKey: Ed25519PrivateKey())
        // The first answer is lost: the worker never sees this lease.
        let lost = try CustodyRecord(try CustodyWire.payload(try first.request(CustodyJournalTests.leaseFrame(manifest, worker: worker), to: first.endpoint)))
        #expect(!lost.entries.isEmpty)
        // The other custodian learns of it as custodians do (the first forwards what it grants; merged here directly).
        _ = try second.request(
            CustodyWire.frame("co_merge", second.jobFields(manifest.id), payload: CustodyWire.itemList([lost])), to: second.endpoint)
        #expect(second.custodian.recordIDs(ref).contains(lost.id))
        // The worker asks again, with a new request, of the other custodian: it is handed the lease it was granted.
        let handed = try CustodyRecord(try CustodyWire.payload(try second.request(CustodyJournalTests.leaseFrame(manifest, worker: worker), to: second.endpoint)))
        #expect(handed == lost)
        #expect(second.leasesResent == 1)
        #expect(second.custodian.recordIDs(ref).count == 1)
        // A lease that ran out with nothing done under it does not bar the worker: past its end, the unit is
        // leased to the same worker again, and the result it seals under the new lease is vouched for by it.
        var ledger = ShardLedger(manifest: manifest, shard: 0)
        try ledger.admit(lost, id: lost.id, now: lost.time, submitted: false)
        let unit = lost.entries[0].unit
        let during = lost.time + 1_000
        let after = lost.expires + 1_000
        let network = manifest.policy.network(ofIPv4: 0x0A01_0005)
        let owner = ledger.slotOwners(unit: unit)[0]
        #expect(!ledger.mayLease(worker.publicKey, network: network, unit: unit, by: owner, now: during, equivalent: { $0 == $1 }))
        #expect(ledger.mayLease(worker.publicKey, network: network, unit: unit, by: owner, now: after, equivalent: { $0 == $1 }))
        #expect(ledger.undeliveredLeases(of: worker.publicKey, holding: [], now: during) == [lost])
        #expect(ledger.undeliveredLeases(of: worker.publicKey, holding: [unit], now: during).isEmpty)
        #expect(ledger.undeliveredLeases(of: worker.publicKey, holding: [], now: after).isEmpty)
    }
}

/// `co_status` tells a worker how its own results were judged (the worker's validated and invalid counts), and how
/// many sealed workers could pair with its result (when it may reveal).
@Suite struct StatusRowTests {
    @Test func aStatusRowSaysWhetherTheAskersResultAgreedOrWasInvalid() throws {
        let keys = (0..<3).map { _ in Identity(privateKey: Ed25519PrivateKey()) }
        let members = keys.enumerated().map { CustodianMember(key: $1.publicKey, endpoint: Endpoint(address: 0x0A00_0001 + UInt32($0), port: 1)) }
        // Three replicas: each custodian owns a slot of every unit.
        let manifest = try SwarmTestSupport.manifest(units: 4, replicas: 3, shard: 4, custodians: members)
        let job = manifest.id
        var custodians = keys.map { Custodian(identity: $0) }
        for index in custodians.indices {
            custodians[index].add(manifest)
            custodians[index].randomUnits = false
        }
        let (alice, bob, carol, dave) = (
            Identity(privateKey: Ed25519PrivateKey()), Identity(privateKey: Ed25519PrivateKey()),
            Identity(privateKey: Ed25519PrivateKey()), Identity(privateKey: Ed25519PrivateKey())
        )
        let now: Int64 = 1_800_000_000_000
        let ref = ShardRef(job: job, shard: 0)
        for (index, (worker, output)) in [(alice, [UInt8]([1])), (bob, [2]), (carol, [1])].enumerated() {
            _ = try custodians[index].lease(job: job, shard: 0, worker: worker.publicKey, address: 0x0A01_0005 | UInt32(index) << 8, count: 1, now: now)
            let digest = SHA256.hash(output).bytes
            let seal = CustodyRecord.seal(worker: worker.publicKey, job: job, unit: 0, digest: digest)
            _ = try custodians[index].submit(
                CustodyRecord(kind: .commit, job: job, shard: 0, worker: worker.publicKey, entries: [.init(unit: 0, hash: seal)], time: now + 1, signedBy: worker),
                now: now)
            _ = custodians[0].merge(custodians[index].records(ref), now: now)
        }
        // Three seals, none revealed: each could complete a quorum.
        #expect(custodians[0].partners(ref, worker: alice.publicKey)[0] == 3)
        for (index, (worker, output)) in [(alice, [UInt8]([1])), (bob, [2]), (carol, [1])].enumerated() {
            _ = try custodians[index].submit(
                CustodyRecord(
                    kind: .reveal, job: job, shard: 0, worker: worker.publicKey,
                    entries: [.init(unit: 0, hash: SHA256.hash(output).bytes, data: output)], time: now + 2, signedBy: worker),
                now: now)
            _ = custodians[0].merge(custodians[index].records(ref), now: now)
        }
        let verdicts = try #require(custodians[0].verdicts(ref, now: now))
        func row(_ worker: Identity) -> [Int64]? {
            ColonyPeer.statusRows(verdicts, partners: custodians[0].partners(ref, worker: worker.publicKey), for: worker.publicKey)
                .list?.first?.list?.compactMap(\.integer)
        }
        #expect(row(alice)?[1] == 1)  // validated
        #expect(row(alice)?[6] == 1)
        #expect(row(carol)?[6] == 1)
        #expect(row(bob)?[6] == -1)  // outvoted
        #expect(row(dave)?[6] == 0)  // took no part
        // The latest seal of another worker: a reveal is stamped no earlier (`ShardLedger.latestSeal`).
        let seals = custodians[0].latestSeals(ref, except: alice.publicKey)
        let withSeals = ColonyPeer.statusRows(verdicts, partners: [:], seals: seals, for: alice.publicKey).list?.first?.list?.compactMap(\.integer)
        #expect(withSeals?.count == 8 && withSeals?[7] == seals[0] && (seals[0] ?? 0) > 0)
    }
}

/// Network bytes are hostile: custody requests built from junk are answered with errors and change nothing.
@Suite struct CustodyJunkTests {
    @Test func junkCustodyRequestsAreRefusedWithoutChangingState() throws {
        let folder = SwarmTestSupport.folder("custody-junk")
        defer { try? FileManager.default.removeItem(at: folder) }
        let peer = try CustodyJournalTests.peer(folder)
        try peer.start()
        defer { peer.stop(handOff: false) }
        let manifest = try SwarmTestSupport.manifest(units: 8, quorum: 1, shard: 8, custodians: [SwarmTestSupport.member(peer)])
        _ = try peer.publish(manifest)
        let ref = ShardRef(job: manifest.id, shard: 0)
        let ops = [
            "co_publish", "co_job", "co_jobs", "co_lease", "co_submit", "co_status", "co_records", "co_sync", "co_merge",
            "co_offer", "co_cosign", "co_changes", "co_nope",
        ]
        var generator = SeededGenerator(seed: 0xC0DE)
        let realRecord = CustodyRecord(
            kind: .commit, job: manifest.id, shard: 0, worker: Identity(privateKey: Ed25519PrivateKey()).publicKey,
            entries: [.init(unit: 0, hash: [UInt8](repeating: 1, count: 32))], signedBy: Identity(privateKey: Ed25519PrivateKey()))
        func junkBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) } }
        func junkValue(_ depth: Int = 0) -> BencodeValue {
            switch Int.random(in: 0..<(depth > 2 ? 3 : 5), using: &generator) {
            case 0: return .integer(Int64.random(in: -5...1_000_000_000, using: &generator))
            case 1: return .bytes(junkBytes(Int.random(in: 0...40, using: &generator)))
            case 2: return .bytes(manifest.id.bytes)
            case 3: return .list((0..<Int.random(in: 0...4, using: &generator)).map { _ in junkValue(depth + 1) })
            default: return ["unit": .integer(Int64.random(in: -2...20, using: &generator)), "x": junkValue(depth + 1)]
            }
        }
        let keys = ["job", "shard", "worker", "count", "time", "sig", "root", "port", "kernel", "version", "want", "from", "nonce", "publisher"]
        for round in 0..<3_000 {
            var fields: [(String, BencodeValue)] = []
            for key in keys where Bool.random(using: &generator) {
                fields.append((key, key == "job" && Bool.random(using: &generator) ? .bytes(manifest.id.bytes) : junkValue()))
            }
            let payload: [UInt8]
            switch round % 4 {
            case 0: payload = junkBytes(Int.random(in: 0...300, using: &generator))
            case 1: payload = junkValue().encoded()
            case 2: payload = BencodeValue.list([junkValue(), realRecord.value]).encoded()
            default:
                var bytes = realRecord.value.encoded()
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(in: 1...255, using: &generator)
                payload = bytes
            }
            var frame = CustodyWire.frame(ops[round % ops.count], fields)
            frame.payload = payload
            _ = peer.answer(frame, from: Endpoint(address: 0x7F00_0001, port: 9))
        }
        // Nothing got in: no records, and the refusals were counted.
        #expect(peer.custodian.recordIDs(ref).isEmpty)
        #expect(peer.statistics.rejected.values.reduce(0, +) > 1_000)
        // And the peer still answers a well-formed request.
        let worker = Identity(privateKey: Ed25519PrivateKey())
        let reply = try peer.request(CustodyJournalTests.leaseFrame(manifest, worker: worker), to: peer.endpoint)
        #expect(CustodyWire.op(reply) == "lease")
    }
}

extension CustodyJournalTests {
    @Test func failuresGatheredFromOtherShardsAreReadBackAndAFileThatDoesNotDecodeIsNamed() throws {
        let folder = SwarmTestSupport.folder("journal-failures")
        defer { try? FileManager.default.removeItem(at: folder) }
        let job = try JobID(bytes: Array(repeating: 9, count: 32))
        let journal = try CustodyJournal(folder: folder)
        try journal.remember(job, root: BlobID(root: SHA256.hash([4, 5, 6])))
        let (alice, bob) = (Identity(privateKey: Ed25519PrivateKey()).publicKey, Identity(privateKey: Ed25519PrivateKey()).publicKey)
        let failures: [Int: [Ed25519PublicKey: [Int64]]] = [0: [alice: [5, 9], bob: [7]], 3: [alice: [11]], 4: [:]]
        try journal.rememberFailures(of: job) { failures }
        // Nothing to write: the file stays as it was.
        try journal.rememberFailures(of: job) { nil }
        #expect(try CustodyJournal(folder: folder).load().failures == [job: failures])
        let file = folder.appendingPathComponent(job.hex + ".failures")
        try Data("l1:xe".utf8).write(to: file)
        let loaded = try CustodyJournal(folder: folder).load()
        #expect(loaded.failures.isEmpty)
        #expect(loaded.problems.count == 1 && loaded.problems.first?.contains(file.path) == true, "\(loaded.problems)")
        #expect(loaded.jobs.count == 1)
    }
}
