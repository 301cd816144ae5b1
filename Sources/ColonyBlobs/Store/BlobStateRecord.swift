import ColonyCore
import Foundation

/// What the store remembers about a blob besides its manifest: pinned, complete, last access. Stored bencoded
/// as `{"complete": 0|1, "last access": unix seconds, "pinned": 0|1}` in state/<id>, one small file per blob so
/// that changing one blob rewrites only its own record.
struct BlobStateRecord: Hashable, Sendable {
    /// Never evicted to make room.
    var pinned: Bool
    /// Every chunk is on disk.
    var complete: Bool
    /// The last use, whole seconds since 1970.
    var lastAccess: Int64

    /// The record's file content.
    func encoded() -> Data {
        let dictionary: BencodeDictionary = [
            "complete": .integer(complete ? 1 : 0), "last access": .integer(lastAccess),
            "pinned": .integer(pinned ? 1 : 0),
        ]
        return Data(BencodeValue.dictionary(dictionary).encoded())
    }

    /// Reads a record written by `encoded()`; nil for anything else (a damaged file is rebuilt, not trusted).
    init?(decoding bytes: [UInt8]) {
        guard let value = try? BencodeValue(decoding: bytes, limits: .datagram),
            let complete = value["complete"]?.integer, let pinned = value["pinned"]?.integer,
            let lastAccess = value["last access"]?.integer
        else { return nil }
        self.complete = complete != 0
        self.pinned = pinned != 0
        self.lastAccess = lastAccess
    }

    /// A record with these fields.
    init(pinned: Bool, complete: Bool, lastAccess: Int64) {
        self.pinned = pinned
        self.complete = complete
        self.lastAccess = lastAccess
    }
}
