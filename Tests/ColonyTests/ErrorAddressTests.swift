@testable import Colony
import ColonyCore
import ColonyNet
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
