/// What the store knows about one chunk hash: which blobs list it, how many puts in progress rely on it, and
/// whether (and how large) its file is on disk.
struct ChunkEntry: Sendable {
    /// The first blob whose manifest lists the chunk; nearly every chunk has exactly one, kept without an array.
    private var firstOwner: BlobID?
    /// Any further blobs that list it.
    private var otherOwners: [BlobID] = []
    /// Puts in progress that wrote or found this chunk and have not registered their manifest yet.
    var holds = 0
    /// The length of the chunk's file when it is on disk; nil while it is missing.
    var storedSize: Int?

    /// An entry for a chunk no blob lists yet.
    init() {}

    /// No blob lists the chunk and no put relies on it: its file may go.
    var isUnused: Bool { firstOwner == nil && holds == 0 }

    /// The blobs that list the chunk.
    var owners: [BlobID] {
        guard let firstOwner else { return [] }
        return [firstOwner] + otherOwners
    }

    /// Records that blob `id` lists the chunk (once, however often its manifest repeats the chunk).
    mutating func addOwner(_ id: BlobID) {
        if firstOwner == id || otherOwners.contains(id) { return }
        if firstOwner == nil {
            firstOwner = id
        } else {
            otherOwners.append(id)
        }
    }

    /// Records that blob `id` no longer lists the chunk.
    mutating func removeOwner(_ id: BlobID) {
        if firstOwner == id {
            firstOwner = otherOwners.popLast()
        } else {
            otherOwners.removeAll { $0 == id }
        }
    }
}
