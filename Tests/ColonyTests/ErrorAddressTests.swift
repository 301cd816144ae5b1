@testable import Colony
import ColonyCore
import ColonyNet
import ColonyWork
import Synchronization
import Foundation
import Testing

/// Issue 12: error lines repeated the address three times ("forward to A: A: TCP frames with A: …").
@Suite struct ErrorAddressTests {
    @Test func aFailedRequestNamesItsPeerOnce() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-address-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let peer = try ColonyPeer(dataDirectory: folder)
        try peer.start()
        defer { peer.stop(handOff: false) }
        // Port 9 on loopback: nothing listens there.
        let nobody = Endpoint(address: 0x7F00_0001, port: 9)
        let frame = CustodyWire.frame("co_jobs", [])
        do {
            _ = try peer.request(frame, to: nobody, timeout: 2)
            Issue.record("a request to a closed port was answered")
        } catch {
            let text = "\(error)"
            #expect(text.components(separatedBy: "127.0.0.1:9").count - 1 == 1, "\(text)")
            #expect(text.contains("cannot connect"), "\(text)")
        }
    }
}

/// Issue 12: `publish` reported success with 1 of 3 custodians holding the manifest, and the job never started.
@Suite struct PublishHoldersTests {
    @Test func publishFailsNamingEachShardAndTheCustodiansItMisses() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-publish-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let peer = try ColonyPeer(dataDirectory: folder)
        try peer.start()
        defer { peer.stop(handOff: false) }
        let away = SwarmTestSupport.stranger()
        let manifest = try SwarmTestSupport.manifest(
            units: 4, replicas: 1, quorum: 1, shard: 2, custodians: [SwarmTestSupport.member(peer), away])
        do {
            _ = try peer.publish(manifest)
            Issue.record("published with a custodian that never took the manifest")
        } catch {
            let text = "\(error)"
            #expect(text.contains("shard 0 misses \(away.endpoint)"), "\(text)")
            #expect(text.contains("shard 1 misses \(away.endpoint)"), "\(text)")
            #expect(text.components(separatedBy: "\(away.endpoint)").count - 1 == 2, "each shard names it once: \(text)")
        }
        // With every custodian holding it, the same job publishes.
        let alone = try SwarmTestSupport.manifest(units: 4, replicas: 1, quorum: 1, shard: 2, custodians: [SwarmTestSupport.member(peer)])
        #expect(try peer.publish(alone).job == alone.id)
    }
}

/// Issue 12: Ctrl-C took up to 20 s with an unreachable co-custodian. A peer's stop has a deadline: past it, the
/// peer stops anyway and says so.
@Suite struct BoundedStopTests {
    /// A TCP port that takes connections into its backlog and never answers: a peer that does not respond.
    static func blackHole() throws -> (Int32, CustodianMember) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(descriptor, raw, length) == 0, listen(descriptor, 64) == 0, getsockname(descriptor, raw, &length) == 0
                else { throw CustodyError("storage", "cannot open a listening socket") }
            }
        }
        let port = UInt16(bigEndian: address.sin_port)
        let member = CustodianMember(key: Identity(privateKey: Ed25519PrivateKey()).publicKey, endpoint: Endpoint(address: 0x7F00_0001, port: port))
        return (descriptor, member)
    }

    @Test func aPeerStopsWithinItsDeadlineWhenACoCustodianNeverAnswers() throws {
        let folder = SwarmTestSupport.folder("bounded-stop")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (hole, silent) = try Self.blackHole()
        defer { close(hole) }
        let lines = Mutex<[String]>([])
        var configuration = ColonyPeer.Configuration()
        configuration.syncInterval = nil
        let peer = try ColonyPeer(dataDirectory: folder, configuration: configuration) { line in lines.withLock { $0.append(line) } }
        try peer.start()
        let manifest = try SwarmTestSupport.manifest(
            units: 4, replicas: 1, quorum: 1, shard: 4, custodians: [SwarmTestSupport.member(peer), silent])
        try peer.keep(manifest)
        peer.custody.withLock { $0.add(manifest) }
        // A lease granted here is forwarded to the silent co-custodian, which holds the forward for its timeout.
        let worker = Identity(privateKey: Ed25519PrivateKey())
        let reply = try peer.request(CustodyJournalTests.leaseFrame(manifest, worker: worker), to: peer.endpoint)
        #expect(CustodyWire.op(reply) == "lease")
        // The lease's own path found the co-custodian silent (3 s) and put it in backoff; once that ends, a forward
        // goes to it again and is held for its timeout.
        peer.silentSince.withLock { $0.removeAll() }
        let leases = peer.custody.withLock { $0.records(ShardRef(job: manifest.id, shard: 0)) }
        #expect(!leases.isEmpty)
        peer.forward(leases, of: manifest)
        peer.stop(handOff: true, within: 1)
        #expect(!peer.isRunning)
        #expect(lines.withLock { $0 }.contains { $0.contains("stopped before the custody hand-off ended") }, "\(lines.withLock { $0 })")
    }
}

/// Issue 12: forwards to an unreachable custodian timed out every 10 s for as long as the job ran, and each
/// attempt was logged. They now back off, off the request's path, and are said once per change of state.
@Suite struct ForwardBackoffTests {
    @Test func forwardsToASilentCustodianBackOffAndAreSaidOnce() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-backoff-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let lines = Mutex<[String]>([])
        let peer = try ColonyPeer(dataDirectory: folder, log: { line in lines.withLock { $0.append(line) } })
        try peer.start()
        defer { peer.stop(handOff: false) }
        let away = SwarmTestSupport.stranger()
        let manifest = try SwarmTestSupport.manifest(units: 4, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.member(peer), away])
        try peer.keep(manifest)
        let worker = Identity(privateKey: Ed25519PrivateKey())
        for index in 0..<5 {
            let record = CustodyRecord(
                kind: .lease, job: manifest.id, shard: 0, worker: worker.publicKey, expires: CustodyClock.now() + 60_000,
                network: [127, 0, 0, 0], entries: [.init(unit: index % 4)], signedBy: peer.identity)
            peer.forward([record], of: manifest)
        }
        peer.forwards.wait()
        let said = lines.withLock { $0 }.filter { $0.contains("does not answer") }
        #expect(said.count == 1, "\(lines.withLock { $0 })")
        #expect(said.first?.contains("\(away.endpoint)") == true)
        // Tried once: the forwards queued behind the first failure found it in backoff and skipped it.
        #expect(peer.silentSince.withLock { $0[away.key]?.failures } == 1)
        #expect(!peer.mayTry(away.key))
        // A member that answers is never held back.
        #expect(peer.mayTry(peer.identity.publicKey))
    }
}
