import ColonyCore
import ColonyNet
import Foundation
import Testing

@testable import ColonyBlobs

/// Blob transfer between stores over real loopback TCP.
@Suite struct BlobTransferTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-blob-transfer-\(UUID().uuidString)")

    func randomFile(_ name: String, size: Int, seed: UInt64) throws -> URL {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var generator = SeededGenerator(seed: seed)
        let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    /// A holder serving `store`, optionally flipping one byte of every chunk it sends.
    func holder(_ store: BlobStore, corrupt: Bool = false) throws -> (FrameServer, BlobServer) {
        let blobs = BlobServer(store: store, host: "127.0.0.1", port: 0)
        let server = FrameServer(host: "127.0.0.1", port: 0) { frame, context in
            var reply = blobs.answer(frame, from: context.peer)
            if corrupt, BlobWire.op(reply) == "chunk", !reply.payload.isEmpty, reply.header["z"]?.integer == 0 {
                reply.payload[reply.payload.count / 2] ^= 0xFF
            }
            return [reply]
        }
        try server.start()
        return (server, blobs)
    }

    @Test func fetchesFromSeveralHoldersVerifiedAndIdentical() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = try randomFile("input", size: 40 * 65_536 + 123, seed: 1)
        var servers: [FrameServer] = []
        var root: BlobID?
        for index in 0..<3 {
            let store = try BlobStore(folder: folder.appendingPathComponent("holder\(index)"))
            root = try store.put(file: file, chunkSize: 65_536).id
            servers.append(try holder(store).0)
        }
        defer { servers.forEach { $0.stop() } }
        let fetcher = BlobFetcher(store: try BlobStore(folder: folder.appendingPathComponent("fetcher")))
        fetcher.requestsInFlight = 2
        let report = try fetcher.fetch(try #require(root), from: servers.map(\.localEndpoint))
        #expect(report.chunksFetched == 41)
        #expect(report.badHolders.isEmpty)
        #expect(report.chunksByHolder.count >= 2)
        let output = folder.appendingPathComponent("output")
        try fetcher.store.export(try #require(root), to: output)
        #expect(try Data(contentsOf: output) == Data(contentsOf: file))
    }

    @Test func aHolderSendingBadBytesIsDroppedAndNamed() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = try randomFile("input", size: 30 * 65_536, seed: 2)
        let goodStore = try BlobStore(folder: folder.appendingPathComponent("good"))
        let badStore = try BlobStore(folder: folder.appendingPathComponent("bad"))
        let id = try goodStore.put(file: file, chunkSize: 65_536).id
        _ = try badStore.put(file: file, chunkSize: 65_536)
        let (good, _) = try holder(goodStore)
        let (bad, _) = try holder(badStore, corrupt: true)
        defer {
            good.stop()
            bad.stop()
        }
        let fetcher = BlobFetcher(store: try BlobStore(folder: folder.appendingPathComponent("fetcher")))
        let report = try fetcher.fetch(id, from: [bad.localEndpoint, good.localEndpoint])
        #expect(report.badHolders.keys.contains(bad.localEndpoint))
        #expect(report.badHolders[bad.localEndpoint]?.contains("does not match the manifest") == true)
        #expect(report.chunksByHolder[bad.localEndpoint] == nil)
        #expect(report.chunksByHolder[good.localEndpoint] == 30)
        let output = folder.appendingPathComponent("output")
        try fetcher.store.export(id, to: output)
        #expect(try Data(contentsOf: output) == Data(contentsOf: file))
    }

    @Test func onlyBadHoldersFailWithAMessageNamingThemAndAResumeKeepsVerifiedChunks() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = try randomFile("input", size: 10 * 65_536, seed: 3)
        let store = try BlobStore(folder: folder.appendingPathComponent("bad"))
        let manifest = try store.put(file: file, chunkSize: 65_536)
        let (bad, _) = try holder(store, corrupt: true)
        defer { bad.stop() }
        let fetcherStore = try BlobStore(folder: folder.appendingPathComponent("fetcher"))
        // Three chunks arrived earlier (an interrupted fetch).
        try fetcherStore.beginFetch(manifest)
        for index in 0..<3 {
            let bytes = try #require(try store.readChunk(manifest.chunkHashes[index]))
            try fetcherStore.writeChunk(bytes, index: index, of: manifest)
        }
        let fetcher = BlobFetcher(store: fetcherStore)
        #expect {
            try fetcher.fetch(manifest.id, from: [bad.localEndpoint])
        } throws: { error in
            let text = "\(error)"
            return text.contains("7 of 10 chunks") && text.contains("bad holders: \(bad.localEndpoint)")
        }
        // A good holder then completes it, fetching only what is missing.
        let (good, _) = try holder(store)
        defer { good.stop() }
        let report = try fetcher.fetch(manifest.id, from: [good.localEndpoint])
        #expect(report.chunksPresent == 3)
        #expect(report.chunksFetched == 7)
    }

    @Test func malformedRequestsGetErrorsNotCrashes() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try BlobStore(folder: folder.appendingPathComponent("store"))
        let (server, _) = try holder(store)
        defer { server.stop() }
        let connection = try FrameConnection.connect(to: server.localEndpoint, timeout: 5)
        defer { connection.close() }
        let requests: [[(String, BencodeValue)]] = [
            [("op", "chunk")],
            [("op", "chunk"), ("blob", .bytes(Array("../../etc/passwd".utf8)))],
            [("op", "chunk"), ("blob", .bytes([UInt8](repeating: 7, count: 32))), ("index", 0)],
            [("op", "chunk"), ("blob", .bytes([UInt8](repeating: 7, count: 32))), ("index", -1)],
            [("op", "manifest"), ("blob", .bytes([UInt8](repeating: 7, count: 32)))],
            [("op", "replicate"), ("blob", .bytes([UInt8](repeating: 7, count: 32)))],
            [("op", "nonsense"), ("blob", .bytes([UInt8](repeating: 7, count: 32)))],
        ]
        for fields in requests {
            let header = BencodeDictionary(uniqueKeysWithValues: fields.map { (Array($0.0.utf8), $0.1) })
            try connection.send(Frame(header: header))
            let reply = try connection.receive(timeout: 5)
            #expect(BlobWire.op(reply) == "error")
        }
        #expect(BlobID(hex: "../" + String(repeating: "a", count: 61)) == nil)
        #expect(BlobID(hex: String(repeating: "g", count: 64)) == nil)
    }

    @Test func compressibleChunksTravelCompressedAndRandomOnesDoNot() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let text = folder.appendingPathComponent("text")
        try Data(String(repeating: "colony volunteer computing ", count: 20_000).utf8).write(to: text)
        let random = try randomFile("random", size: 4 * 65_536, seed: 4)
        let store = try BlobStore(folder: folder.appendingPathComponent("holder"))
        let textID = try store.put(file: text, chunkSize: 65_536).id
        let randomID = try store.put(file: random, chunkSize: 65_536).id
        let (server, _) = try holder(store)
        defer { server.stop() }
        let fetcher = BlobFetcher(store: try BlobStore(folder: folder.appendingPathComponent("fetcher")))
        let textReport = try fetcher.fetch(textID, from: [server.localEndpoint])
        #expect(textReport.wireBytes * 10 < textReport.size)
        let randomReport = try fetcher.fetch(randomID, from: [server.localEndpoint])
        #expect(randomReport.wireBytes == randomReport.size)
        let output = folder.appendingPathComponent("output")
        try fetcher.store.export(textID, to: output)
        #expect(try Data(contentsOf: output) == Data(contentsOf: text))
    }
}
