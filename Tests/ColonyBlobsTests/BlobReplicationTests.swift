import ColonyCore
import ColonyDHT
import ColonyNet
import Foundation
import Testing

@testable import ColonyBlobs

/// Replication and repair among real peers on 127.0.0.1 (DHT over UDP, blobs over TCP).
@Suite(.serialized) struct BlobReplicationTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-blob-replication-\(UUID().uuidString)")

    func peers(_ count: Int, replicas: Int) throws -> [BlobPeer] {
        var peers: [BlobPeer] = []
        for index in 0..<count {
            var configuration = BlobPeer.Configuration()
            configuration.replicas = replicas
            configuration.repairInterval = nil
            // Six peers share 127.0.0.1: the per-address limit would count them as one sender.
            configuration.rateLimit = nil
            let peer = try BlobPeer(
                dataDirectory: folder.appendingPathComponent("p\(index)"), host: "127.0.0.1", port: 0,
                configuration: configuration, dhtStateFolder: .some(nil))
            try peer.start()
            if let first = peers.first { peer.node.join([first.endpoint], timeout: 10) }
            peers.append(peer)
        }
        // Everyone looks itself up once more, now that all have joined.
        for peer in peers { peer.node.join([peers[0].endpoint], timeout: 10) }
        return peers
    }

    /// The holders `peer` finds in the DHT that answer for the blob. Replicas announce themselves before they
    /// confirm a replica, so once `put` or `repair` returns, there is nothing to wait for.
    func liveHolders(_ peer: BlobPeer, _ blob: BlobID) -> [Endpoint] {
        peer.holders(blob).filter { peer.answers($0, for: blob) }
    }

    @Test func replicasArePlacedAndRepairedAfterAHolderDies() throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let all = try peers(6, replicas: 2)
        var running = all
        defer { running.forEach { $0.stop() } }
        let file = folder.appendingPathComponent("input")
        try Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: file)
        let (manifest, asked) = try all[0].put(file: file, chunkSize: 65_536, announceSelf: false)
        #expect(asked.count == 2)
        // A peer counts the holders other than itself, so the observer must not be one of them.
        let observers = all.dropFirst().filter { !asked.contains($0.endpoint) }
        let observer = try #require(observers.first)
        let holders = liveHolders(observer, manifest.id)
        try #require(holders.count == 2)

        // One replica dies; a surviving holder's repair asks another node, and the count is back to 2.
        let dead = try #require(all.first { $0.endpoint == holders[0] })
        let survivor = try #require(all.first { $0.endpoint == holders[1] })
        dead.stop()
        running.removeAll { $0 === dead }
        survivor.repair()
        // The repair may pick the observer itself; then it sees one other holder besides its own copy.
        let repaired = liveHolders(observer, manifest.id)
        let observerHolds = observer.store.isComplete(manifest.id)
        #expect(repaired.count + (observerHolds ? 1 : 0) >= 2)
        #expect(!repaired.contains(dead.endpoint))
    }
}
