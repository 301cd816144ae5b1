import ColonyBlobs
import ColonyCore
import Foundation
import Synchronization
import Testing

@Suite struct BlobStoreTests {
    static let chunkSize = 64 << 10

    @Test(arguments: [0, 1, chunkSize - 1, chunkSize, chunkSize + 1, chunkSize * 11 / 2])
    func roundTrip(size: Int) throws {
        let folder = try BlobTestFolder()
        let data = BlobTestRandom.bytes(size, seed: UInt64(size))
        let source = folder.file("source")
        try Data(data).write(to: source)
        let store = try folder.store()

        let manifest = try store.put(file: source, chunkSize: Self.chunkSize)
        #expect(manifest.size == Int64(size))
        #expect(manifest.chunkCount == (size + Self.chunkSize - 1) / Self.chunkSize)
        #expect(try store.put(data: data, chunkSize: Self.chunkSize) == manifest)
        #expect(store.missingChunks(of: manifest).isEmpty)

        let exported = folder.file("exported")
        try store.export(manifest.id, to: exported)
        #expect(try Data(contentsOf: exported) == Data(data))

        // A fresh store on the same folder finds the blob again.
        let reopened = try folder.store()
        #expect(try reopened.manifest(manifest.id) == manifest)
        let info = try #require(reopened.list().first)
        #expect(info.id == manifest.id && info.complete && info.pinned && info.size == Int64(size))
        #expect(reopened.storedBytes == Int64(size))
        for (index, hash) in manifest.chunkHashes.enumerated() {
            let chunk = try #require(try reopened.readChunk(hash))
            let start = index * Self.chunkSize
            #expect(chunk[...] == data[start..<min(start + Self.chunkSize, size)])
        }
    }

    @Test func putOfMissingFileNamesIt() throws {
        let folder = try BlobTestFolder()
        let error = #expect(throws: BlobStoreError.self) { try folder.store().put(file: folder.file("nope")) }
        #expect(error?.description.contains("nope") == true)
    }

    @Test func corruptChunkIsDetectedDeletedAndRefetched() throws {
        let folder = try BlobTestFolder()
        let store = try folder.store()
        let data = BlobTestRandom.bytes(3 * Self.chunkSize, seed: 1)
        let manifest = try store.put(data: data, chunkSize: Self.chunkSize)
        let hash = manifest.chunkHashes[1]
        let path = folder.chunkPath(hash)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[100] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))

        let error = #expect(throws: BlobStoreError.self) { try store.readChunk(hash) }
        #expect(error?.code == .corruptChunk)
        #expect(error?.description.contains(path) == true)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!store.hasChunk(hash))
        #expect(try store.readChunk(hash) == nil)
        #expect(store.missingChunks(of: manifest) == [1])
        #expect(store.list().first?.complete == false)
        let exportError = #expect(throws: BlobStoreError.self) {
            try store.export(manifest.id, to: folder.file("out"))
        }
        #expect(exportError?.code == .incompleteBlob)
        #expect(!FileManager.default.fileExists(atPath: folder.file("out").path))

        try store.writeChunk(Array(data[Self.chunkSize..<2 * Self.chunkSize]), index: 1, of: manifest)
        try store.completeFetch(manifest.id)
        try store.export(manifest.id, to: folder.file("out"))
        #expect(try Data(contentsOf: folder.file("out")) == Data(data))
    }

    @Test func unverifiedReadSkipsTheHash() throws {
        let folder = try BlobTestFolder()
        let store = try folder.store()
        let manifest = try store.put(data: BlobTestRandom.bytes(Self.chunkSize, seed: 2), chunkSize: Self.chunkSize)
        let path = folder.chunkPath(manifest.chunkHashes[0])
        try Data(repeating: 0, count: 10).write(to: URL(fileURLWithPath: path))
        #expect(try store.readChunk(manifest.chunkHashes[0], verify: false) == [UInt8](repeating: 0, count: 10))
        #expect(throws: BlobStoreError.self) { try store.readChunk(manifest.chunkHashes[0]) }
    }

    @Test func writeChunkRefusesWrongBytesWithoutWriting() throws {
        let sourceFolder = try BlobTestFolder()
        let source = try sourceFolder.store()
        let data = BlobTestRandom.bytes(2 * Self.chunkSize + 5, seed: 3)
        let manifest = try source.put(data: data, chunkSize: Self.chunkSize)
        let folder = try BlobTestFolder()
        let store = try folder.store()
        let first = Array(data[0..<Self.chunkSize])

        let early = #expect(throws: BlobStoreError.self) { try store.writeChunk(first, index: 0, of: manifest) }
        #expect(early?.code == .fetchNotBegun)

        try store.beginFetch(manifest)
        var wrong = first
        wrong[0] ^= 0xff
        let cases: [([UInt8], Int)] = [
            (wrong, 0), (Array(first.dropLast()), 0), (first, 1), (first, 3), (first, -1), (Array(data.suffix(5)), 0),
        ]
        for (bytes, index) in cases {
            let error = #expect(throws: BlobStoreError.self) { try store.writeChunk(bytes, index: index, of: manifest) }
            #expect(error?.code == .chunkMismatch)
        }
        #expect(folder.chunkFiles().isEmpty)
        #expect(store.storedBytes == 0)
        #expect(store.missingChunks(of: manifest) == [0, 1, 2])
        try store.writeChunk(first, index: 0, of: manifest)
        #expect(store.missingChunks(of: manifest) == [1, 2])
    }

    @Test func partialFetchResumesAfterReopening() throws {
        let data = BlobTestRandom.bytes(Self.chunkSize * 11 / 2, seed: 4)
        let sourceFolder = try BlobTestFolder()
        let manifest = try sourceFolder.store().put(data: data, chunkSize: Self.chunkSize)
        let chunks = (0..<manifest.chunkCount).map {
            Array(data[$0 * Self.chunkSize..<min(($0 + 1) * Self.chunkSize, data.count)])
        }
        let folder = try BlobTestFolder()
        do {
            let store = try folder.store()
            try store.beginFetch(manifest)
            try store.writeChunk(chunks[0], index: 0, of: manifest)
            try store.writeChunk(chunks[2], index: 2, of: manifest)
            let error = #expect(throws: BlobStoreError.self) { try store.completeFetch(manifest.id) }
            #expect(error?.code == .incompleteBlob)
        }
        let store = try folder.store()
        #expect(store.missingChunks(of: manifest) == [1, 3, 4, 5])
        let info = try #require(store.list().first)
        #expect(!info.complete && !info.pinned && info.storedChunkCount == 2 && info.chunkCount == 6)
        #expect(try store.manifest(manifest.id) == manifest)
        for index in store.missingChunks(of: manifest) {
            try store.writeChunk(chunks[index], index: index, of: manifest)
        }
        try store.completeFetch(manifest.id)
        #expect(store.list().first?.complete == true)
        try store.export(manifest.id, to: folder.file("out"))
        #expect(try Data(contentsOf: folder.file("out")) == Data(data))
    }

    @Test func equalChunksAreStoredOnceAndRemoveKeepsSharedOnes() throws {
        let folder = try BlobTestFolder()
        let store = try folder.store()
        let shared = BlobTestRandom.bytes(2 * Self.chunkSize, seed: 5)
        let first = shared + BlobTestRandom.bytes(Self.chunkSize, seed: 6)
        let second = shared + BlobTestRandom.bytes(100, seed: 7)
        let a = try store.put(data: first, chunkSize: Self.chunkSize)
        let b = try store.put(data: second, chunkSize: Self.chunkSize)
        #expect(folder.chunkFiles().count == 4)
        #expect(store.storedBytes == Int64(3 * Self.chunkSize + 100))

        #expect(store.remove(a.id))
        #expect(!store.remove(a.id))
        #expect(folder.chunkFiles().count == 3)
        #expect(try store.manifest(a.id) == nil)
        try store.export(b.id, to: folder.file("b"))
        #expect(try Data(contentsOf: folder.file("b")) == Data(second))
        #expect(store.remove(b.id))
        #expect(folder.chunkFiles().isEmpty && store.storedBytes == 0 && store.list().isEmpty)

        // One chunk repeated inside one blob is stored once too.
        let zeros = try store.put(data: [UInt8](repeating: 0, count: 3 * Self.chunkSize), chunkSize: Self.chunkSize)
        #expect(Set(zeros.chunkHashes).count == 1 && folder.chunkFiles().count == 1)
        #expect(store.storedBytes == Int64(Self.chunkSize))
    }

    @Test func quotaEvictsLeastRecentlyUsedUnpinnedBlobs() throws {
        let clock = ManualBlobClock()
        let folder = try BlobTestFolder()
        let size = Self.chunkSize
        let store = try BlobStore(folder: folder.blobs, quota: Int64(4 * size), clock: clock.read)
        func put(_ seed: UInt64, chunks: Int = 1, pin: Bool = false) throws -> BlobID {
            clock.advance(10)
            return try store.put(
                data: BlobTestRandom.bytes(chunks * size, seed: seed), chunkSize: size, pin: pin
            ).id
        }
        let a = try put(10)
        _ = try put(11)  // b: the least recently used when d arrives
        let c = try put(12)
        let pinned = try put(13, pin: true)
        clock.advance(10)
        let aManifest = try #require(try store.manifest(a))
        _ = try store.readChunk(aManifest.chunkHashes[0])  // a is now more recent than b and c

        let d = try put(14)
        #expect(Set(store.list().map(\.id)) == [a, c, pinned, d])
        let e = try put(15, chunks: 2)
        #expect(Set(store.list().map(\.id)) == [pinned, d, e])
        let f = try put(16, chunks: 3, pin: true)
        #expect(Set(store.list().map(\.id)) == [pinned, f])
        #expect(store.storedBytes == Int64(4 * size))

        let error = #expect(throws: BlobStoreError.self) { try put(17) }
        #expect(error?.code == .quotaExceeded)
        #expect(error?.description.contains("\(4 * size)") == true)
        #expect(Set(store.list().map(\.id)) == [pinned, f])
        #expect(folder.chunkFiles().count == 4 && store.storedBytes == Int64(4 * size))

        // Unpinning makes the formerly pinned blob, now the least recently used, the next to go.
        try store.unpin(pinned)
        let g = try put(18)
        #expect(Set(store.list().map(\.id)) == [f, g])
    }

    @Test func accessOrderSurvivesReopening() throws {
        let clock = ManualBlobClock()
        let folder = try BlobTestFolder()
        let size = Self.chunkSize
        var ids: [BlobID] = []
        do {
            let store = try BlobStore(folder: folder.blobs, clock: clock.read)
            for seed in 0..<3 {
                clock.advance(100)
                let data = BlobTestRandom.bytes(size, seed: UInt64(seed))
                ids.append(try store.put(data: data, chunkSize: size, pin: false).id)
            }
            clock.advance(100)
            try store.export(ids[0], to: folder.file("touch"))
        }
        clock.advance(100)
        let store = try BlobStore(folder: folder.blobs, quota: Int64(3 * size), clock: clock.read)
        _ = try store.put(data: BlobTestRandom.bytes(size, seed: 9), chunkSize: size, pin: false)
        #expect(!store.list().map(\.id).contains(ids[1]))
        #expect(store.list().map(\.id).contains(ids[0]))
    }

    @Test func openRepairsDamageAndSweepsOldLeftovers() throws {
        let clock = ManualBlobClock()
        let folder = try BlobTestFolder()
        let size = Self.chunkSize
        let store = try BlobStore(folder: folder.blobs, clock: clock.read)
        let good = try store.put(data: BlobTestRandom.bytes(2 * size, seed: 20), chunkSize: size)
        let bad = try store.put(data: BlobTestRandom.bytes(size, seed: 21), chunkSize: size)
        let orphan = BlobTestRandom.bytes(size, seed: 22)
        let orphaned = try store.put(data: orphan, chunkSize: size)
        let orphanHash = SHA256.hash(orphan)
        // Damage: a manifest edited on disk, a chunk deleted, an orphan chunk left by an interrupted put.
        try Data("garbage".utf8).write(to: folder.blobs.appendingPathComponent("manifests/\(bad.id.hex)"))
        try FileManager.default.removeItem(atPath: folder.chunkPath(good.chunkHashes[1]))
        try FileManager.default.removeItem(at: folder.blobs.appendingPathComponent("manifests/\(orphaned.id.hex)"))

        let young = try BlobStore(folder: folder.blobs, clock: clock.read)
        #expect(young.list().map(\.id) == [good.id])
        #expect(young.list().first?.complete == false)
        #expect(young.missingChunks(of: good) == [1])
        #expect(!young.repairs.isEmpty)
        // The orphan is younger than the sweep age: it may belong to another process's put.
        #expect(FileManager.default.fileExists(atPath: folder.chunkPath(orphanHash)))

        clock.advance(2 * BlobStore.sweepAge)
        let later = try BlobStore(folder: folder.blobs, clock: clock.read)
        #expect(!FileManager.default.fileExists(atPath: folder.chunkPath(orphanHash)))
        #expect(later.repairs.contains { $0.contains("no blob lists") })
        #expect(later.storedBytes == Int64(size))
    }

    @Test func concurrentReadsAndPutsAgree() throws {
        let folder = try BlobTestFolder()
        let store = try folder.store()
        let size = 16 << 10
        let blobs = (0..<8).map { BlobTestRandom.bytes(3 * size + $0, seed: 100 + UInt64($0)) }
        let manifests = Mutex<[Int: BlobManifest]>([:])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: blobs.count) { index in
            do {
                let manifest = try store.put(data: blobs[index], chunkSize: size, pin: index % 2 == 0)
                for hash in manifest.chunkHashes where try store.readChunk(hash) == nil {
                    failures.withLock { $0.append("chunk of blob \(index) missing") }
                }
                manifests.withLock { $0[index] = manifest }
            } catch {
                failures.withLock { $0.append("\(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(store.list().count == blobs.count)
        for (index, manifest) in manifests.withLock({ $0 }) {
            try store.export(manifest.id, to: folder.file("out\(index)"))
            #expect(try Data(contentsOf: folder.file("out\(index)")) == Data(blobs[index]))
        }
    }
}

/// A temporary folder for one test, deleted when the test ends.
final class BlobTestFolder: @unchecked Sendable {
    // @unchecked: `url` is immutable; the class exists only for `deinit`.
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("blobstore-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// The store's folder: the `blobs` sub-folder.
    var blobs: URL { url.appendingPathComponent("blobs") }

    /// A store in `blobs`.
    func store(quota: Int64? = nil) throws -> BlobStore {
        try BlobStore(folder: blobs, quota: quota)
    }

    /// A file beside the store.
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Where the store keeps chunk `hash` (the documented layout: chunks/ab/cd/<hex>).
    func chunkPath(_ hash: SHA256Digest) -> String {
        let hex = hash.hex
        return blobs.path + "/chunks/\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))/\(hex)"
    }

    /// The chunk files on disk.
    func chunkFiles() -> [String] {
        let root = url.appendingPathComponent("blobs/chunks").path
        let all = (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? []
        return all.filter { $0.split(separator: "/").last?.count == 64 }
    }
}

/// A clock that moves only when told to.
final class ManualBlobClock: Sendable {
    // Starts at the real time: the sweep at open compares the clock with real file modification times.
    private let now = Mutex(Date())

    var read: @Sendable () -> Date { { [self] in now.withLock { $0 } } }

    func advance(_ seconds: TimeInterval) {
        now.withLock { $0 += seconds }
    }
}

/// Deterministic pseudo-random bytes (SplitMix64), so failures reproduce.
enum BlobTestRandom {
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9e37_79b9_7f4a_7c15 &+ 1
        var output = [UInt8]()
        output.reserveCapacity(count + 8)
        while output.count < count {
            withUnsafeBytes(of: next(&state)) { output.append(contentsOf: $0) }
        }
        return Array(output.prefix(count))
    }

    static func next(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
