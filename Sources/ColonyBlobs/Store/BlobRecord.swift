/// One blob the store holds or is fetching: its manifest and its state.
struct BlobRecord: Sendable {
    /// The blob's manifest.
    let manifest: BlobManifest
    /// The state as last written to state/<id>.
    var saved: BlobStateRecord
    /// Never evicted to make room.
    var pinned: Bool
    /// Every chunk is on disk.
    var complete: Bool
    /// The last use, seconds since 1970 with sub-second precision; saved only now and then (`saved.lastAccess`).
    var lastAccess: Double
    /// Tie-breaker for equal access times: the store's use counter at the last use.
    var lastUse: UInt64

    /// The state to write to disk.
    var current: BlobStateRecord {
        BlobStateRecord(pinned: pinned, complete: complete, lastAccess: Int64(lastAccess.rounded(.down)))
    }
}
