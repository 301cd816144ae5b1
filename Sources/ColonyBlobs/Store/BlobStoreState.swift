import ColonyCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The store's bookkeeping, always used under the store's lock: blobs, chunk ownership, bytes on disk and the
/// quota. Deleting files happens here too, under the lock, so that no put can count on a chunk that an eviction
/// is removing at the same moment; writing new chunk files happens outside it.
struct BlobStoreState: Sendable {
    /// Access times are saved to disk at most this often per blob (seconds): reads touch blobs all the time and
    /// an fsync per read would cost more than the read. A crash loses at most this much LRU precision.
    static let accessSaveInterval: Double = 60

    let layout: BlobStoreLayout
    let quota: Int64?
    let clock: @Sendable () -> Date
    var blobs: [BlobID: BlobRecord] = [:]
    var chunks: [SHA256Digest: ChunkEntry] = [:]
    /// The bytes of every chunk file on disk that the store tracks.
    var storedBytes: Int64 = 0
    /// Bytes promised to chunk writes in progress, counted against the quota before the files exist.
    var reservedBytes: Int64 = 0
    /// Counts uses, to order blobs touched within the same clock tick.
    var useCounter: UInt64 = 0

    init(layout: BlobStoreLayout, quota: Int64?, clock: @escaping @Sendable () -> Date) {
        self.layout = layout
        self.quota = quota
        self.clock = clock
    }

    // MARK: Blobs

    /// Adds blob `manifest` with state `saved`, listing it as an owner of each of its chunks. With `probeDisk`,
    /// chunks not yet tracked are looked for on disk (another process or an interrupted put may have left them).
    mutating func register(_ manifest: BlobManifest, saved: BlobStateRecord, probeDisk: Bool) {
        let id = manifest.id
        for hash in manifest.chunkHashes {
            var entry = chunks[hash] ?? ChunkEntry()
            if probeDisk, entry.storedSize == nil, let size = Self.fileSize(layout.chunkPath(hash)) {
                entry.storedSize = size
                storedBytes += Int64(size)
            }
            entry.addOwner(id)
            chunks[hash] = entry
        }
        useCounter += 1
        blobs[id] = BlobRecord(
            manifest: manifest, saved: saved, pinned: saved.pinned, complete: saved.complete,
            lastAccess: Double(saved.lastAccess), lastUse: useCounter)
    }

    /// Forgets blob `id` and deletes its manifest, its state and every chunk no other blob or put relies on.
    mutating func removeBlob(_ id: BlobID) {
        guard let record = blobs.removeValue(forKey: id) else { return }
        // Manifest first: without it the rest is garbage that the next open sweeps, whatever happens next.
        unlink(layout.manifestPath(id))
        unlink(layout.statePath(id))
        for hash in Set(record.manifest.chunkHashes) {
            guard var entry = chunks[hash] else { continue }
            entry.removeOwner(id)
            chunks[hash] = entry
            dropIfUnused(hash)
        }
    }

    /// Whether every chunk of `manifest` is on disk.
    func allStored(_ manifest: BlobManifest) -> Bool {
        manifest.chunkHashes.allSatisfy { chunks[$0]?.storedSize != nil }
    }

    /// The indices of `manifest`'s chunks that are not on disk.
    func missing(_ manifest: BlobManifest) -> [Int] {
        manifest.chunkHashes.indices.filter { chunks[manifest.chunkHashes[$0]]?.storedSize == nil }
    }

    /// Marks blob `id` as used now; its state file is rewritten only when the saved time is old enough.
    mutating func touch(_ id: BlobID) {
        guard var record = blobs[id] else { return }
        useCounter += 1
        record.lastAccess = clock().timeIntervalSince1970
        record.lastUse = useCounter
        blobs[id] = record
        if record.lastAccess - Double(record.saved.lastAccess) >= Self.accessSaveInterval {
            // Best effort: a read must not fail because its access time could not be saved.
            try? save(id)
        }
    }

    /// Writes blob `id`'s state file if it differs from what is on disk.
    mutating func save(_ id: BlobID) throws(BlobStoreError) {
        guard var record = blobs[id], record.current != record.saved else { return }
        let path = layout.statePath(id)
        do {
            try AtomicFile.write(record.current.encoded(), to: URL(fileURLWithPath: path), mode: 0o600)
        } catch {
            throw BlobStoreError(.fileSystem, "\(error) (check free space and permissions of \(layout.states))")
        }
        record.saved = record.current
        blobs[id] = record
    }

    // MARK: Chunks

    /// Records that a put in progress relies on chunk `hash`; returns whether its file is already on disk.
    mutating func hold(_ hash: SHA256Digest) -> Bool {
        var entry = chunks[hash] ?? ChunkEntry()
        entry.holds += 1
        chunks[hash] = entry
        return entry.storedSize != nil
    }

    /// Ends a hold taken by `hold(_:)`; deletes the chunk when nothing else relies on it.
    mutating func release(_ hash: SHA256Digest) {
        guard var entry = chunks[hash] else { return }
        entry.holds -= 1
        chunks[hash] = entry
        dropIfUnused(hash)
    }

    /// Counts `length` bytes against the quota for a chunk about to be written, evicting unpinned complete blobs,
    /// least recently used first, when needed; throws when even that cannot make room.
    mutating func reserve(_ length: Int, for purpose: String) throws(BlobStoreError) {
        try makeRoom(for: Int64(length), purpose: purpose)
        reservedBytes += Int64(length)
    }

    /// Records that chunk `hash` is on disk with `length` bytes, ending the reservation made for it.
    mutating func finishWrite(_ hash: SHA256Digest, length: Int) {
        reservedBytes -= Int64(length)
        var entry = chunks[hash] ?? ChunkEntry()
        if entry.storedSize == nil {
            entry.storedSize = length
            storedBytes += Int64(length)
        }
        chunks[hash] = entry
        dropIfUnused(hash)
    }

    /// Ends a reservation whose write failed.
    mutating func cancelWrite(length: Int) {
        reservedBytes -= Int64(length)
    }

    /// Deletes chunk `hash`, which failed verification, and marks the blobs listing it incomplete.
    mutating func discardCorrupt(_ hash: SHA256Digest) {
        unlink(layout.chunkPath(hash))
        guard var entry = chunks[hash] else { return }
        if let size = entry.storedSize { storedBytes -= Int64(size) }
        entry.storedSize = nil
        chunks[hash] = entry
        for owner in entry.owners where blobs[owner]?.complete == true {
            blobs[owner]?.complete = false
            try? save(owner)
        }
        dropIfUnused(hash)
    }

    /// Deletes the file and the entry of chunk `hash` when no blob lists it and no put holds it.
    private mutating func dropIfUnused(_ hash: SHA256Digest) {
        guard let entry = chunks[hash], entry.isUnused else { return }
        if let size = entry.storedSize {
            unlink(layout.chunkPath(hash))
            storedBytes -= Int64(size)
        }
        chunks[hash] = nil
    }

    // MARK: Quota

    /// Evicts unpinned complete blobs that no write is using, least recently used first, until `incoming` more
    /// bytes fit under the quota; throws, evicting nothing more, when they cannot.
    private mutating func makeRoom(for incoming: Int64, purpose: String) throws(BlobStoreError) {
        guard let quota else { return }
        while storedBytes + reservedBytes + incoming > quota {
            let candidates = blobs.values.filter { !$0.pinned && $0.complete }
            guard
                let oldest = candidates.min(by: {
                    ($0.lastAccess, $0.lastUse) < ($1.lastAccess, $1.lastUse)
                })
            else {
                throw BlobStoreError(
                    .quotaExceeded,
                    "\(purpose) needs \(incoming) more bytes but \(layout.root) already holds "
                        + "\(storedBytes + reservedBytes) bytes of its \(quota)-byte quota, all in pinned or "
                        + "partial blobs; unpin or remove blobs, or raise the quota")
            }
            removeBlob(oldest.manifest.id)
        }
    }

    /// The length of the regular file at `path`, or nil when there is none.
    static func fileSize(_ path: String) -> Int? {
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int(status.st_size)
    }
}
