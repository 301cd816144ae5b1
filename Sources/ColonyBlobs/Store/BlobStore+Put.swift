import ColonyCore
import Foundation

extension BlobStore {
    /// Stores the file at `file` as a blob cut into `chunkSize` chunks and returns its manifest. The file is read
    /// one chunk at a time, so memory does not grow with its size; chunks are written first, the manifest last.
    /// Putting a blob the store already has keeps it (pinning it when `pin` is true).
    @discardableResult
    public func put(
        file: URL, chunkSize: Int = BlobManifest.defaultChunkSize, pin: Bool = true
    ) throws(BlobStoreError) -> BlobManifest {
        let path = file.path
        try Self.checkChunkSize(chunkSize)
        guard let input = try InputFile(path: path) else {
            throw BlobStoreError(.fileSystem, "\(path): no such file; give the path of the file to store")
        }
        // Fail before reading a byte when the size alone breaks a bound; the loop re-checks as the file is read.
        try Self.checkSize(input.size, chunkSize: chunkSize, source: path)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        return try store(chunkSize: chunkSize, pin: pin, source: path) { (body) throws(BlobStoreError) in
            while true {
                let count = try input.read(into: buffer)
                if count == 0 { return }
                try body(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                // `read` fills the buffer unless the file ended.
                if count < chunkSize { return }
            }
        }
    }

    /// Stores `data` as a blob cut into `chunkSize` chunks and returns its manifest.
    @discardableResult
    public func put(
        data: some DataProtocol, chunkSize: Int = BlobManifest.defaultChunkSize, pin: Bool = true
    ) throws(BlobStoreError) -> BlobManifest {
        try Self.checkChunkSize(chunkSize)
        try Self.checkSize(Int64(data.count), chunkSize: chunkSize, source: "data")
        let bytes = Array(data)
        return try store(chunkSize: chunkSize, pin: pin, source: "data") { (body) throws(BlobStoreError) in
            var start = 0
            while start < bytes.count {
                let end = min(start + chunkSize, bytes.count)
                let result = bytes.withUnsafeBytes { raw in
                    Result { () throws(BlobStoreError) in try body(UnsafeRawBufferPointer(rebasing: raw[start..<end])) }
                }
                try result.get()
                start = end
            }
        }
    }

    /// Hashes and writes each chunk `chunks` hands over, then registers the manifest. Each chunk is held while
    /// the put runs, so no eviction can delete it before the manifest lists it; the holds end either way.
    private func store(
        chunkSize: Int, pin: Bool, source: String,
        chunks: ((UnsafeRawBufferPointer) throws(BlobStoreError) -> Void) throws(BlobStoreError) -> Void
    ) throws(BlobStoreError) -> BlobManifest {
        var held: [SHA256Digest] = []
        defer {
            let held = held
            state.withLock { state in
                for hash in held { state.release(hash) }
            }
        }
        var size: Int64 = 0
        try chunks { (chunk) throws(BlobStoreError) in
            size += Int64(chunk.count)
            try Self.checkSize(size, chunkSize: chunkSize, source: source)
            let hash = SHA256.hash(bytes: chunk)
            held.append(hash)
            try storeChunk(hash, chunk, purpose: "storing \(source)")
        }
        let manifest = try BlobManifest(chunkSize: chunkSize, size: size, chunkHashes: held)
        try state.withLock { (state) throws(BlobStoreError) in
            try register(manifest, pin: pin, complete: true, in: &state)
        }
        return manifest
    }

    /// Holds chunk `hash` and writes `bytes` as its file unless it is already on disk. The hold is taken even
    /// when this throws; the caller ends it with `release` once something else (a manifest) keeps the chunk.
    func storeChunk(_ hash: SHA256Digest, _ bytes: UnsafeRawBufferPointer, purpose: String) throws(BlobStoreError) {
        let present = try state.withLock { (state) throws(BlobStoreError) in
            if state.hold(hash) { return true }
            try state.reserve(bytes.count, for: purpose)
            return false
        }
        if present { return }
        do {
            try layout.createChunkFolder(hash)
            var file = try TemporaryFile(target: layout.chunkPath(hash))
            try file.write(bytes)
            // Chunks are renamed into place without fsync: an fsync per 1 MiB chunk held transfers to the disk's
            // speed (69 MiB/s here). A killed process loses nothing (the page cache outlives it); a power loss may
            // leave a damaged chunk, which the verified read finds, deletes and the next fetch replaces.
            try file.commit(durable: false)
        } catch {
            state.withLock { $0.cancelWrite(length: bytes.count) }
            throw error
        }
        state.withLock { $0.finishWrite(hash, length: bytes.count) }
    }

    /// Adds `manifest` to the store (or updates the blob already there): state file first, manifest file last,
    /// since the manifest's presence is what makes a blob exist when the store is opened again.
    func register(
        _ manifest: BlobManifest, pin: Bool, complete: Bool, in state: inout BlobStoreState
    ) throws(BlobStoreError) {
        let id = manifest.id
        if state.blobs[id] != nil {
            if pin { state.blobs[id]?.pinned = true }
            let allStored = state.allStored(manifest)
            if allStored { state.blobs[id]?.complete = true }
            state.touch(id)
            try state.save(id)
            return
        }
        // A saved state that matches nothing, so that `save` writes the real one.
        let unsaved = BlobStateRecord(pinned: !pin, complete: !complete, lastAccess: -1)
        state.register(manifest, saved: unsaved, probeDisk: !complete)
        state.blobs[id]?.pinned = pin
        let allStored = state.allStored(manifest)
        state.blobs[id]?.complete = complete || allStored
        state.touch(id)
        do {
            try state.save(id)
            try AtomicFile.write(Data(manifest.encoded()), to: URL(fileURLWithPath: layout.manifestPath(id)))
        } catch let error as BlobStoreError {
            state.removeBlob(id)
            throw error
        } catch {
            state.removeBlob(id)
            throw BlobStoreError(.fileSystem, "\(error) (check free space and permissions of \(layout.manifests))")
        }
    }

    static func checkChunkSize(_ chunkSize: Int) throws(BlobStoreError) {
        try BlobManifest.checkBounds(chunkSize: chunkSize, size: 0, chunkCount: 0)
    }

    /// Throws when a blob of `size` bytes in `chunkSize` chunks would break the manifest's bounds.
    static func checkSize(_ size: Int64, chunkSize: Int, source: String) throws(BlobStoreError) {
        let chunkCount = BlobManifest.chunkCount(size: size, chunkSize: chunkSize)
        guard size <= BlobManifest.maximumSize, chunkCount <= Int64(BlobManifest.maximumChunkCount) else {
            throw BlobStoreError(
                .outOfBounds,
                "\(source) is \(size) bytes or more: at \(chunkSize)-byte chunks that is \(chunkCount) chunks; a blob "
                    + "is at most \(BlobManifest.maximumSize) bytes and \(BlobManifest.maximumChunkCount) chunks, "
                    + "so use a larger chunk size or split the file")
        }
    }
}
