import ColonyCore
import Foundation

extension BlobStore {
    /// The bytes of the chunk whose hash is `hash`, or nil when it is not on disk.
    ///
    /// With `verify` (the default) the bytes are hashed again: a chunk that no longer matches its hash is
    /// deleted, its blobs become incomplete, and this throws `corruptChunk` once; afterwards the chunk is
    /// missing (nil) until it is fetched or put again. Reading touches the blobs that list the chunk.
    public func readChunk(_ hash: SHA256Digest, verify: Bool = true) throws(BlobStoreError) -> [UInt8]? {
        let path = layout.chunkPath(hash)
        let bytes: [UInt8]?
        do {
            bytes = try InputFile.readAll(path: path, limit: BlobManifest.maximumChunkSize)
        } catch where error.code == .outOfBounds {
            throw corrupt(hash, path: path, reason: "is larger than any chunk can be")
        }
        guard let bytes else {
            // Deleted behind the store's back: make the bookkeeping agree.
            state.withLock { state in
                if state.chunks[hash]?.storedSize != nil { state.discardCorrupt(hash) }
            }
            return nil
        }
        if verify, SHA256.hash(bytes) != hash {
            throw corrupt(hash, path: path, reason: "no longer matches its hash")
        }
        state.withLock { state in
            for owner in state.chunks[hash]?.owners ?? [] { state.touch(owner) }
        }
        return bytes
    }

    /// The whole of blob `id` in memory, each chunk verified; throws `outOfBounds` without reading a chunk when its
    /// manifest declares more than `maxSize` bytes, `unknownBlob` when the store lacks it and `incompleteBlob` when
    /// a chunk is missing. For blobs a peer must hold in memory (job manifests, unit inputs): the size is checked
    /// before the bytes are.
    public func bytes(of id: BlobID, maxSize: Int) throws(BlobStoreError) -> [UInt8] {
        guard let manifest = try manifest(id) else { throw unknown(id) }
        guard manifest.size <= Int64(maxSize) else {
            throw BlobStoreError(
                .outOfBounds, "blob \(id.hex) is \(manifest.size) bytes; at most \(maxSize) are read into memory")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(manifest.size))
        for (index, hash) in manifest.chunkHashes.enumerated() {
            guard let chunk = try readChunk(hash), chunk.count == manifest.chunkLength(at: index) else {
                throw BlobStoreError(
                    .incompleteBlob,
                    "blob \(id.hex) lacks chunk \(index) of \(manifest.chunkCount); fetch the blob before reading it")
            }
            bytes += chunk
        }
        return bytes
    }

    /// Writes blob `id` to `file`, chunk by chunk (each verified), into a temporary file renamed over `file`
    /// only when complete: memory stays at one chunk and a failure leaves `file` as it was.
    public func export(_ id: BlobID, to file: URL) throws(BlobStoreError) {
        guard let manifest = try manifest(id) else { throw unknown(id) }
        var output = try TemporaryFile(target: file.standardizedFileURL.path)
        for (index, hash) in manifest.chunkHashes.enumerated() {
            guard let bytes = try readChunk(hash) else {
                throw BlobStoreError(
                    .incompleteBlob,
                    "blob \(id.hex) lacks chunk \(index) of \(manifest.chunkCount); fetch the blob before exporting")
            }
            guard bytes.count == manifest.chunkLength(at: index) else {
                throw BlobStoreError(
                    .invalidManifest,
                    "chunk \(index) of blob \(id.hex) is \(bytes.count) bytes, its manifest says "
                        + "\(manifest.chunkLength(at: index)); the manifest is wrong: remove the blob")
            }
            let result = bytes.withUnsafeBytes { raw in Result { () throws(BlobStoreError) in try output.write(raw) } }
            try result.get()
        }
        try output.commit()
        state.withLock { $0.touch(id) }
    }

    private func corrupt(_ hash: SHA256Digest, path: String, reason: String) -> BlobStoreError {
        state.withLock { $0.discardCorrupt(hash) }
        return BlobStoreError(
            .corruptChunk,
            "chunk \(hash.hex) at \(path) \(reason) (disk damage or an outside edit); it was deleted and must be "
                + "fetched or put again")
    }
}
