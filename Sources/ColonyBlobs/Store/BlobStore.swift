import ColonyCore
import Foundation
import Synchronization

/// A content-addressed store of blobs in one folder (DATA-DIR/blobs): files cut into chunks stored by their
/// SHA-256, a manifest per blob, pinning, partial fetches that resume, and a quota with LRU eviction.
///
/// Thread-safe: the bookkeeping sits behind one lock, while chunk files are read, hashed and written outside it,
/// so several threads can serve chunks at once. One store object per folder per process: the bookkeeping is
/// read from disk when the store is opened (a blob another process adds is found by `manifest(_:)` on demand).
///
/// Every file is written atomically (temporary file, fsync, rename). A put writes its chunks first and its
/// manifest last, so a crash leaves either the whole blob or unreferenced chunks that a later open sweeps away.
public final class BlobStore: Sendable {
    /// Unreferenced chunk files and temporary files younger than this (seconds) survive the sweep at open: they
    /// may belong to a put that another process is running right now.
    public static let sweepAge: TimeInterval = 3600

    /// The store's folder.
    public let folder: URL
    /// The most bytes of chunks the store keeps, or nil for no limit.
    public let quota: Int64?
    /// What opening the store found and repaired (corrupt manifests, missing chunks, swept leftovers), one
    /// sentence per item, for the log.
    public let repairs: [String]

    let layout: BlobStoreLayout
    let state: Mutex<BlobStoreState>

    /// Opens (creating if needed) the store in `folder`, keeping at most `quota` bytes of chunks; `clock` gives
    /// the time recorded as blobs' last access.
    public init(
        folder: URL, quota: Int64? = nil, clock: @escaping @Sendable () -> Date = { Date() }
    ) throws(BlobStoreError) {
        if let quota, quota < 0 {
            throw BlobStoreError(.outOfBounds, "the quota of the blob store at \(folder.path) is negative (\(quota))")
        }
        self.folder = folder
        self.quota = quota
        layout = BlobStoreLayout(folder: folder)
        try layout.createFolders()
        var loaded = BlobStoreState(layout: layout, quota: quota, clock: clock)
        repairs = BlobStoreLoader(layout: layout, now: clock()).load(into: &loaded)
        state = Mutex(loaded)
    }

    /// The total bytes of chunk files the store holds (shared chunks counted once).
    public var storedBytes: Int64 {
        state.withLock { $0.storedBytes }
    }

    /// The manifest of blob `id`, or nil when the store has no such blob (complete or partial). A blob that
    /// another process added since this store was opened is read from disk and adopted.
    public func manifest(_ id: BlobID) throws(BlobStoreError) -> BlobManifest? {
        if let manifest = state.withLock({ $0.blobs[id]?.manifest }) { return manifest }
        let path = layout.manifestPath(id)
        guard let bytes = try InputFile.readAll(path: path, limit: BlobManifest.maximumEncodedCount) else {
            return nil
        }
        let manifest: BlobManifest
        do {
            manifest = try BlobManifest.decode(bytes, expectedRoot: id.root)
        } catch {
            throw BlobStoreError(.invalidManifest, "\(path): \(error.message); remove the blob and put it again")
        }
        let saved = BlobStoreLoader.readSaved(layout.statePath(id))
        return state.withLock { state in
            if state.blobs[id] == nil {
                let record = saved ?? BlobStateRecord(pinned: true, complete: false, lastAccess: 0)
                state.register(manifest, saved: record, probeDisk: true)
                let allStored = state.allStored(manifest)
                state.blobs[id]?.complete = allStored
                state.touch(id)
            }
            return manifest
        }
    }

    /// True when every chunk of blob `id` is here (a put, or a fetch that finished).
    public func isComplete(_ id: BlobID) -> Bool {
        state.withLock { $0.blobs[id]?.complete == true }
    }

    /// Whether the chunk whose hash is `hash` is on disk (as far as the store knows: it is not re-verified).
    public func hasChunk(_ hash: SHA256Digest) -> Bool {
        state.withLock { $0.chunks[hash]?.storedSize != nil }
    }

    /// The indices of `manifest`'s chunks not on disk: what a partial fetch still has to get.
    public func missingChunks(of manifest: BlobManifest) -> [Int] {
        state.withLock { $0.missing(manifest) }
    }

    /// Every blob in the store, complete or partial, ordered by ID.
    public func list() -> [BlobInfo] {
        state.withLock { state in
            state.blobs.values.map { record in
                let manifest = record.manifest
                return BlobInfo(
                    id: manifest.id, size: manifest.size, chunkSize: manifest.chunkSize,
                    chunkCount: manifest.chunkCount,
                    storedChunkCount: manifest.chunkCount - state.missing(manifest).count, pinned: record.pinned,
                    complete: record.complete, lastAccess: Date(timeIntervalSince1970: record.lastAccess))
            }
            .sorted { $0.id < $1.id }
        }
    }

    /// Protects blob `id` from eviction.
    public func pin(_ id: BlobID) throws(BlobStoreError) {
        try setPinned(id, true)
    }

    /// Lets blob `id` be evicted when the quota needs room.
    public func unpin(_ id: BlobID) throws(BlobStoreError) {
        try setPinned(id, false)
    }

    /// Deletes blob `id`: its manifest, its state and its chunks that no other blob lists. Returns whether
    /// there was such a blob.
    @discardableResult
    public func remove(_ id: BlobID) -> Bool {
        state.withLock { state in
            guard state.blobs[id] != nil else { return false }
            state.removeBlob(id)
            return true
        }
    }

    private func setPinned(_ id: BlobID, _ pinned: Bool) throws(BlobStoreError) {
        try state.withLock { (state) throws(BlobStoreError) in
            guard state.blobs[id] != nil else { throw unknown(id) }
            state.blobs[id]?.pinned = pinned
            try state.save(id)
        }
    }

    /// The error for a blob this store does not have.
    func unknown(_ id: BlobID) -> BlobStoreError {
        BlobStoreError(.unknownBlob, "no blob \(id.hex) in \(layout.root); list the store's blobs to check the ID")
    }
}
