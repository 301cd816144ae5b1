import ColonyCore
import Foundation

extension BlobStore {
    /// Records `manifest` as a partial blob about to be fetched chunk by chunk (its manifest is saved, so the
    /// fetch resumes after a restart: `missingChunks(of:)` says what is left). Chunks already on disk, from other
    /// blobs, count at once. Beginning a blob the store already has only touches it (and pins it if `pin`).
    public func beginFetch(_ manifest: BlobManifest, pin: Bool = false) throws(BlobStoreError) {
        try state.withLock { (state) throws(BlobStoreError) in
            try register(manifest, pin: pin, complete: false, in: &state)
        }
    }

    /// Stores chunk `index` of `manifest`, fetched from a peer. The bytes are checked against the manifest's
    /// length and hash first: on a mismatch this throws `chunkMismatch` and writes nothing.
    public func writeChunk(_ bytes: [UInt8], index: Int, of manifest: BlobManifest) throws(BlobStoreError) {
        let id = manifest.id
        guard manifest.chunkHashes.indices.contains(index) else {
            throw BlobStoreError(
                .chunkMismatch, "blob \(id.hex) has chunks 0..<\(manifest.chunkCount); there is no chunk \(index)")
        }
        let expected = manifest.chunkLength(at: index)
        guard bytes.count == expected else {
            throw BlobStoreError(
                .chunkMismatch,
                "chunk \(index) of blob \(id.hex) must be \(expected) bytes, got \(bytes.count); the sender is "
                    + "faulty or hostile")
        }
        let hash = manifest.chunkHashes[index]
        let actual = SHA256.hash(bytes)
        guard actual == hash else {
            throw BlobStoreError(
                .chunkMismatch,
                "chunk \(index) of blob \(id.hex) must hash to \(hash.hex), the bytes hash to \(actual.hex); the "
                    + "sender is faulty or hostile")
        }
        try state.withLock { (state) throws(BlobStoreError) in
            guard state.blobs[id] != nil else {
                throw BlobStoreError(
                    .fetchNotBegun, "blob \(id.hex) is not being fetched; call beginFetch before writeChunk")
            }
            state.touch(id)
        }
        defer { state.withLock { $0.release(hash) } }
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(BlobStoreError) in
                try storeChunk(hash, raw, purpose: "fetching chunk \(index) of blob \(id.hex)")
            }
        }
        try result.get()
    }

    /// Marks the fetched blob `manifest` complete: `completeFetch(_:)` with its ID.
    public func completeFetch(_ manifest: BlobManifest) throws(BlobStoreError) {
        try completeFetch(manifest.id)
    }

    /// Marks a fetched blob complete; throws `incompleteBlob` naming what is missing when a chunk is not on disk.
    public func completeFetch(_ id: BlobID) throws(BlobStoreError) {
        try state.withLock { (state) throws(BlobStoreError) in
            guard let record = state.blobs[id] else {
                throw BlobStoreError(.fetchNotBegun, "blob \(id.hex) is not being fetched; call beginFetch first")
            }
            let missing = state.missing(record.manifest)
            guard missing.isEmpty else {
                throw BlobStoreError(
                    .incompleteBlob,
                    "blob \(id.hex) still lacks \(missing.count) of \(record.manifest.chunkCount) chunks (first: "
                        + "\(missing[0])); fetch them before completing")
            }
            state.blobs[id]?.complete = true
            state.touch(id)
            try state.save(id)
        }
    }
}
