import ColonyCore
import ColonyDHT
import ColonyNet
import Dispatch
import Foundation
import Synchronization
import Testing

@testable import ColonyBlobs

/// A flooder against blob fetches and replica requests, over real loopback TCP: holders announcing blobs far larger
/// than the fetch agreed to, replica requests for what the peer does not want or cannot hold, and more replica
/// requests than the peer spends threads on. Each is refused before any chunk moves, and counted.
@Suite struct BlobFloodTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-blob-flood-\(UUID().uuidString)")

    /// A holder that answers every manifest request with `manifest` and counts the chunk requests it gets.
    final class LyingHolder: Sendable {
        final class Counts: Sendable {
            let manifests = Atomic(0)
            let chunks = Atomic(0)
        }

        let server: FrameServer
        let counts = Counts()

        init(manifest: BlobManifest) throws {
            let counts = counts
            server = FrameServer(host: "127.0.0.1", port: 0) { request, _ in
                switch BlobWire.op(request) {
                case "manifest":
                    counts.manifests.add(1, ordering: .relaxed)
                    return [BlobWire.reply("manifest", payload: manifest.encoded())]
                case "chunk":
                    counts.chunks.add(1, ordering: .relaxed)
                    return [BlobWire.error(404, "no such chunk")]
                default:
                    return [BlobWire.error(400, "unknown op")]
                }
            }
            try server.start()
        }

        var manifestRequests: Int { counts.manifests.load(ordering: .relaxed) }
        var chunkRequests: Int { counts.chunks.load(ordering: .relaxed) }
    }

    /// A manifest of `size` bytes in `chunkSize` chunks whose hashes are made up: no one has these bytes.
    static func fakeManifest(size: Int64, chunkSize: Int) throws -> BlobManifest {
        let count = Int(BlobManifest.chunkCount(size: size, chunkSize: chunkSize))
        let hashes = (0..<count).map { SHA256.hash(Array("fake chunk \($0)".utf8)) }
        return try BlobManifest(chunkSize: chunkSize, size: size, chunkHashes: hashes)
    }

    func store(_ name: String) throws -> BlobStore {
        try BlobStore(folder: folder.appendingPathComponent(name))
    }

    // MARK: Fetch size bounds

    @Test func aHolderAnnouncingAHugeBlobIsRefusedFromTheManifestsFrameLength() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        // 1 TiB in 16 MiB chunks: a 2 MiB manifest, far more than a 10 MiB blob's manifest can be.
        let huge = try Self.fakeManifest(size: BlobManifest.maximumSize, chunkSize: BlobManifest.maximumChunkSize)
        #expect(huge.encoded().count > 2_000_000)
        let holder = try LyingHolder(manifest: huge)
        defer { holder.server.stop() }
        let fetcher = BlobFetcher(store: try store("fetcher"))
        #expect {
            try fetcher.fetch(huge.id, from: [holder.server.localEndpoint], maxSize: 10 << 20)
        } throws: { error in
            let error = error as? FetchError
            return error?.code == .tooLarge && error?.description.contains("too large") == true
        }
        #expect(holder.manifestRequests == 1)
        #expect(holder.chunkRequests == 0)
        #expect(fetcher.store.list().isEmpty)
        // The bound on the manifest: 640 hashes of 16 KiB chunks, plus the keys.
        #expect(BlobFetcher.manifestBound(maxSize: 10 << 20) == 640 * 32 + 128)
    }

    @Test func aBlobDeclaringMoreThanMaxSizeIsRefusedBeforeAnyChunk() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        // A small manifest (7 hashes) that declares 100 MiB.
        let big = try Self.fakeManifest(size: 100 << 20, chunkSize: BlobManifest.maximumChunkSize)
        let holder = try LyingHolder(manifest: big)
        defer { holder.server.stop() }
        let fetcher = BlobFetcher(store: try store("fetcher"))
        #expect {
            try fetcher.fetch(big.id, from: [holder.server.localEndpoint], maxSize: 10 << 20)
        } throws: { error in
            let error = error as? FetchError
            return error?.code == .tooLarge && error?.description.contains("\(100 << 20) bytes") == true
        }
        #expect(holder.chunkRequests == 0)
        // Nothing was begun: no partial blob, no manifest saved.
        #expect(fetcher.store.list().isEmpty)
        #expect(try fetcher.store.manifest(big.id) == nil)
    }

    @Test func aBlobWithinMaxSizeIsFetchedAndReadIntoMemoryWithinItsBound() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try store("holder")
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let manifest = try source.put(data: Data(bytes), chunkSize: 65_536)
        let server = BlobServer(store: source, host: "127.0.0.1", port: 0)
        try server.start()
        defer { server.stop() }
        let fetcher = BlobFetcher(store: try store("fetcher"))
        let report = try fetcher.fetch(manifest.id, from: [server.endpoint], maxSize: 200_000)
        #expect(report.size == 200_000)
        #expect(try fetcher.store.bytes(of: manifest.id, maxSize: 200_000) == bytes)
        // Reading into memory checks the declared size first.
        #expect {
            _ = try fetcher.store.bytes(of: manifest.id, maxSize: 199_999)
        } throws: { error in
            (error as? BlobStoreError)?.code == .outOfBounds
        }
        // A blob already held is still checked against the bound.
        #expect {
            try fetcher.fetch(manifest.id, from: [], maxSize: 1_000)
        } throws: { error in
            (error as? FetchError)?.code == .tooLarge
        }
    }

    // MARK: Replica requests

    /// A peer on its own loopback address with no DHT neighbours: replica requests reach it directly.
    func peer(
        _ name: String, host: String, change: (inout BlobPeer.Configuration) -> Void = { _ in }
    ) throws -> BlobPeer {
        var configuration = BlobPeer.Configuration()
        configuration.repairInterval = nil
        configuration.rateLimit = nil
        change(&configuration)
        let peer = try BlobPeer(
            dataDirectory: folder.appendingPathComponent(name), host: host, port: 0, configuration: configuration,
            dhtStateFolder: .some(nil))
        try peer.start()
        return peer
    }

    /// Asks `target` to hold `blob`, fetching it from `source` (the request comes from `source`'s address);
    /// the reply's op and error code.
    func askToHold(
        _ blob: BlobID, target: Endpoint, source: Endpoint
    ) throws -> (op: String?, code: Int64?) {
        let connection = try FrameConnection.connect(to: target, from: source.host, timeout: 20)
        defer { connection.close() }
        try connection.send(
            BlobWire.request("replicate", blob: blob, extra: [("port", .integer(Int64(source.port)))]))
        let reply = try connection.receive(timeout: 60)
        return (BlobWire.op(reply), reply.header["code"]?.integer)
    }

    @Test func replicaRequestsGoThroughThePredicateWithTheAskersRealAddress() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let publisher = try peer("publisher", host: "127.0.5.1")
        defer { publisher.stop() }
        let wanted = try publisher.store.put(data: Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0) }))
        let unwanted = try publisher.store.put(data: Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 3) }))
        let asked = Mutex<[(BlobID, Endpoint)]>([])
        let holder = try peer("holder", host: "127.0.5.2") { configuration in
            configuration.acceptsReplica = { blob, source in
                asked.withLock { $0.append((blob, source)) }
                return blob == wanted.id
            }
        }
        defer { holder.stop() }

        let refused = try askToHold(unwanted.id, target: holder.endpoint, source: publisher.endpoint)
        #expect(refused.op == "error" && refused.code == 503)
        #expect(holder.store.list().isEmpty)
        let accepted = try askToHold(wanted.id, target: holder.endpoint, source: publisher.endpoint)
        #expect(accepted.op == "ok")
        #expect(holder.store.isComplete(wanted.id))
        #expect(!holder.store.isComplete(unwanted.id))

        // The predicate saw the publisher's own address (bound before connecting), not 127.0.0.1.
        let seen = asked.withLock { $0 }
        #expect(seen.map(\.0) == [unwanted.id, wanted.id])
        #expect(seen.allSatisfy { $0.1 == publisher.endpoint })
        // The holder fetched from that address too: the publisher's server saw a client on 127.0.5.2.
        #expect(holder.fetcher.localHost == "127.0.5.2")
        let statistics = holder.statistics
        #expect(statistics.replicasAccepted == 1)
        #expect(statistics.replicasRefused == [BlobPeerStatistics.notWanted: 1])
    }

    @Test func aReplicaLargerThanTheBoundIsRefusedBeforeAnyChunk() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let publisher = try peer("publisher", host: "127.0.6.1")
        defer { publisher.stop() }
        let blob = try publisher.store.put(data: Data(repeating: 9, count: 300_000), chunkSize: 65_536)
        let holder = try peer("holder", host: "127.0.6.2") { $0.maxReplicaSize = 100_000 }
        defer { holder.stop() }
        let answer = try askToHold(blob.id, target: holder.endpoint, source: publisher.endpoint)
        #expect(answer.op == "error")
        #expect(holder.store.list().isEmpty)
        #expect(holder.statistics.replicasRefused == [BlobPeerStatistics.tooLarge: 1])
        // Only the manifest crossed: the publisher answered one request (it sent no chunk).
        publisher.server.stop()
        #expect(publisher.server.frames.statistics.framesIn == 1)
    }

    @Test func aPeerNotAcceptingReplicasRefusesThemAll() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let holder = try peer("holder", host: "127.0.7.2") { $0.acceptsReplicas = false }
        defer { holder.stop() }
        let source = Endpoint(host: "127.0.7.1", port: 9)!
        for seed in 0..<5 {
            let blob = BlobID(root: SHA256.hash([UInt8(seed)]))
            let answer = try askToHold(blob, target: holder.endpoint, source: source)
            #expect(answer.op == "error" && answer.code == 503)
        }
        #expect(holder.statistics.replicasRefused == [BlobPeerStatistics.notAccepting: 5])
    }

    @Test func aFloodOfReplicaRequestsHoldsAtMostMaxPendingThreads() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        // The flooder's "source" answers manifest requests only once released: replicas in progress hang until then.
        let released = Atomic(false)
        let gate = DispatchSemaphore(value: 0)
        let asked = DispatchSemaphore(value: 0)
        let source = FrameServer(host: "127.0.8.1", port: 0) { _, _ in
            asked.signal()
            if !released.load(ordering: .acquiring) { gate.wait() }
            return [BlobWire.error(404, "not held")]
        }
        try source.start()
        defer {
            released.store(true, ordering: .releasing)
            for _ in 0..<8 { gate.signal() }
            source.stop()
        }
        let holder = try peer("holder", host: "127.0.8.2") { $0.maxPendingReplicas = 2 }
        defer { holder.stop() }

        let answers = Mutex<[Int64?]>([])
        let answered = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        func flood(_ seed: Int) {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                let blob = BlobID(root: SHA256.hash(Array("flood \(seed)".utf8)))
                let code = (try? askToHold(blob, target: holder.endpoint, source: source.localEndpoint))?.code
                answers.withLock { $0.append(code) }
                answered.signal()
            }
        }
        // The first request reaches the source and hangs there: one replica in progress.
        flood(0)
        asked.wait()
        // Six more: one more may wait its turn, the other five are refused at once without a thread held.
        for seed in 1...6 { flood(seed) }
        for _ in 0..<5 { answered.wait() }
        #expect(holder.statistics.replicasRefused[BlobPeerStatistics.busy] == 5)
        #expect(answers.withLock { $0 }.allSatisfy { $0 == 503 })
        // Released, the two in progress fail (the source holds nothing), and the peer takes requests again.
        released.store(true, ordering: .releasing)
        for _ in 0..<2 { gate.signal() }
        group.wait()
        let statistics = holder.statistics
        #expect(statistics.replicasRefused[BlobPeerStatistics.fetchFailed] == 2)
        #expect(statistics.replicasRefusedTotal == 7)
        #expect(statistics.replicasAccepted == 0)
    }

    // MARK: The blob server under a request flood

    @Test func requestsOverTheRateAreAnsweredBusyAndTheFetchOfAnotherAddressGoesOn() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = try store("holder")
        let manifest = try source.put(
            data: Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }), chunkSize: 65_536)
        var protection = FrameServerProtection()
        protection.requestRate = RateLimit(datagramsPerSecond: 0, burst: 10, trackedAddresses: 64)
        let server = BlobServer(store: source, host: "127.0.0.1", port: 0, protection: protection)
        try server.start()
        defer { server.stop() }
        // The flooder spends its burst on junk and is then told to slow down, one answer per request.
        let flooder = try FrameConnection.connect(to: server.endpoint, from: "127.0.9.1", timeout: 20)
        defer { flooder.close() }
        try flooder.send((0..<50).map { _ in BlobWire.request("manifest", blob: BlobID(root: SHA256.hash([1]))) })
        var busy = 0
        for _ in 0..<50 {
            let reply = try flooder.receive(timeout: 20)
            if reply.header["code"]?.integer == 429, reply.header["reason"]?.string == "busy" { busy += 1 }
        }
        #expect(busy == 40)
        #expect(server.frames.statistics.framesRateLimited == 40)
        // A fetcher on another address has its own bucket: 5 chunks and a manifest fit in it.
        let fetcher = BlobFetcher(store: try store("fetcher"))
        fetcher.localHost = "127.0.9.2"
        let report = try fetcher.fetch(manifest.id, from: [server.endpoint])
        #expect(report.chunksFetched == 5)
    }
}
