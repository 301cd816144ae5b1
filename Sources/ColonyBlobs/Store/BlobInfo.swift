import Foundation

/// One blob as the store lists it: its size, its state and when it was last used.
public struct BlobInfo: Hashable, Sendable {
    /// The blob's ID (its root hash).
    public var id: BlobID
    /// The blob's total length in bytes.
    public var size: Int64
    /// The chunk size its manifest uses.
    public var chunkSize: Int
    /// The number of chunks in its manifest.
    public var chunkCount: Int
    /// How many of those chunks are on disk; equal to `chunkCount` when `complete`.
    public var storedChunkCount: Int
    /// Pinned blobs are never evicted to make room.
    public var pinned: Bool
    /// Every chunk is on disk (a put, or a fetch that finished); partial fetches are false.
    public var complete: Bool
    /// The last put, fetch, chunk read or export that touched it; the quota evicts the oldest first.
    public var lastAccess: Date

    /// A listing entry with these fields.
    public init(
        id: BlobID, size: Int64, chunkSize: Int, chunkCount: Int, storedChunkCount: Int, pinned: Bool,
        complete: Bool, lastAccess: Date
    ) {
        self.id = id
        self.size = size
        self.chunkSize = chunkSize
        self.chunkCount = chunkCount
        self.storedChunkCount = storedChunkCount
        self.pinned = pinned
        self.complete = complete
        self.lastAccess = lastAccess
    }
}
