/// Why the blob store refused or failed an operation: the kind, and a message naming the blob, chunk or file
/// involved and what to do about it.
public struct BlobStoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// Manifest bytes that do not hash to the expected root, do not decode, or break a bound.
        case invalidManifest
        /// A chunk size outside 16 KiB…16 MiB, or a blob larger than the store accepts.
        case outOfBounds
        /// A chunk on disk whose bytes no longer hash to its name; it was deleted and is now missing.
        case corruptChunk
        /// Bytes offered for a chunk that do not match the manifest's hash or length; nothing was written.
        case chunkMismatch
        /// The blob is not in the store.
        case unknownBlob
        /// The blob lacks chunks: a fetch is still partial.
        case incompleteBlob
        /// `writeChunk` or `completeFetch` before `beginFetch`.
        case fetchNotBegun
        /// Storing more would exceed the quota, even after evicting every unpinned complete blob.
        case quotaExceeded
        /// A file-system call failed.
        case fileSystem
    }

    /// The kind of failure.
    public var code: Code
    /// What went wrong, naming the blob, chunk or file, and what to do.
    public var message: String

    /// An error of kind `code` described by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Whether bytes offered for a chunk were refused (`chunkMismatch`): the peer that sent them is at fault.
    public var isMismatch: Bool { code == .chunkMismatch }

    public var description: String { "blob store: \(message)" }
}
