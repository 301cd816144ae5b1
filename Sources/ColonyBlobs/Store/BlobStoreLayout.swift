import ColonyCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the store keeps things inside its folder:
///
///     chunks/ab/cd/abcd…   one file per chunk, named by its own SHA-256 (so equal chunks are stored once)
///     manifests/<id>       the encoded manifest of each blob, named by its root hash
///     state/<id>           pinned flag, complete flag and last access time of each blob (`BlobStateRecord`)
///
/// Every name is built from a parsed digest's lowercase hex, never from text handed in. Two levels of 256-way
/// fan-out keep each chunk folder small (a million chunks leave about 16 files per folder).
struct BlobStoreLayout: Sendable {
    /// The store's folder.
    let root: String
    /// The folder of chunk fan-out folders.
    let chunks: String
    /// The folder of encoded manifests.
    let manifests: String
    /// The folder of per-blob state records.
    let states: String

    /// The layout inside `folder`.
    init(folder: URL) {
        root = folder.standardizedFileURL.path
        chunks = root + "/chunks"
        manifests = root + "/manifests"
        states = root + "/state"
    }

    /// Creates the store's folders if they are missing.
    func createFolders() throws(BlobStoreError) {
        for folder in [root, chunks, manifests, states] {
            do {
                try AtomicFile.createFolder(URL(fileURLWithPath: folder), mode: 0o700)
            } catch {
                throw BlobStoreError(.fileSystem, "\(error) (the blob store needs a writable folder there)")
            }
        }
    }

    /// The fan-out folder of the chunk whose hash is `hex`: chunks/ab/cd.
    func chunkFolder(_ hex: String) -> String {
        let utf8 = Array(hex.utf8)
        return chunks + "/" + String(decoding: utf8[0..<2], as: UTF8.self) + "/"
            + String(decoding: utf8[2..<4], as: UTF8.self)
    }

    /// The file of the chunk whose hash is `hash`.
    func chunkPath(_ hash: SHA256Digest) -> String {
        let hex = hash.hex
        return chunkFolder(hex) + "/" + hex
    }

    /// The encoded manifest of blob `id`.
    func manifestPath(_ id: BlobID) -> String { manifests + "/" + id.hex }

    /// The state record of blob `id`.
    func statePath(_ id: BlobID) -> String { states + "/" + id.hex }

    /// Creates the fan-out folders of `hash`'s chunk if they are missing.
    func createChunkFolder(_ hash: SHA256Digest) throws(BlobStoreError) {
        let folder = chunkFolder(hash.hex)
        let parent = (folder as NSString).deletingLastPathComponent
        for path in [parent, folder] {
            // Not fsynced, like the chunks themselves (see storeChunk): a chunk lost to a power cut is found
            // missing by the verified read and fetched again.
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw TemporaryFile.failure(path, "create folder")
            }
        }
    }
}
