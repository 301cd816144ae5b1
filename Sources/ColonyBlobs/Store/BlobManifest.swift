import ColonyCore

/// The root blob: the chunk size, the total size and the SHA-256 of every chunk, bencoded as
/// `{"chunk size": Int, "chunks": <32-byte hashes, concatenated>, "size": Int}`. Its SHA-256 is the blob's ID.
///
/// The format is fixed: the transfer layer and every peer compute the same root from the same file, so the
/// dictionary has exactly these three keys and nothing else (an extra key would give one content two IDs).
public struct BlobManifest: Hashable, Sendable {
    /// The smallest chunk size accepted: 16 KiB. Below it the manifest outgrows its use (32 bytes per chunk).
    public static let minimumChunkSize = 16 << 10
    /// The largest chunk size accepted: 16 MiB, the most a peer must hold in memory for one chunk.
    public static let maximumChunkSize = 16 << 20
    /// The default chunk size: 1 MiB.
    public static let defaultChunkSize = 1 << 20
    /// The largest blob accepted: 1 TiB.
    public static let maximumSize: Int64 = 1 << 40
    /// The most chunks one blob may have: 2^20, so a 1 TiB blob of 1 MiB chunks fits and a manifest never
    /// exceeds 32 MiB of hashes. Smaller chunks therefore mean a smaller largest blob (16 KiB chunks: 16 GiB).
    public static let maximumChunkCount = 1 << 20
    /// The largest encoded manifest: the hashes of `maximumChunkCount` chunks plus the keys and integers.
    public static let maximumEncodedCount = maximumChunkCount * SHA256Digest.byteCount + 128

    /// The length of every chunk but the last, in bytes.
    public let chunkSize: Int
    /// The blob's total length in bytes.
    public let size: Int64
    /// The SHA-256 of each chunk, in order.
    public let chunkHashes: [SHA256Digest]
    /// The SHA-256 of `encoded()`: the blob's ID.
    public let root: SHA256Digest

    /// The manifest of a blob of `size` bytes cut into `chunkSize` chunks with these hashes; throws when a
    /// bound is broken or the number of hashes does not match the size.
    public init(chunkSize: Int, size: Int64, chunkHashes: [SHA256Digest]) throws(BlobStoreError) {
        try Self.checkBounds(chunkSize: chunkSize, size: size, chunkCount: chunkHashes.count)
        self.chunkSize = chunkSize
        self.size = size
        self.chunkHashes = chunkHashes
        root = SHA256.hash(Self.encode(chunkSize: chunkSize, size: size, chunkHashes: chunkHashes))
    }

    /// The blob's ID.
    public var id: BlobID { BlobID(root: root) }

    /// The blob's DHT key: the first 20 bytes of the root hash.
    public var dhtKey: [UInt8] { id.dhtKey }

    /// The number of chunks; zero for an empty blob.
    public var chunkCount: Int { chunkHashes.count }

    /// The length of chunk `index`: `chunkSize`, except the last chunk, which holds the rest.
    public func chunkLength(at index: Int) -> Int {
        precondition(chunkHashes.indices.contains(index), "chunk index \(index) out of 0..<\(chunkCount)")
        if index < chunkCount - 1 { return chunkSize }
        return Int(size - Int64(chunkSize) * Int64(chunkCount - 1))
    }

    /// The canonical bencoding, whose SHA-256 is `root`.
    public func encoded() -> [UInt8] {
        Self.encode(chunkSize: chunkSize, size: size, chunkHashes: chunkHashes)
    }

    /// The number of chunks a blob of `size` bytes has when cut into `chunkSize` chunks.
    public static func chunkCount(size: Int64, chunkSize: Int) -> Int64 {
        size == 0 ? 0 : (size - 1) / Int64(chunkSize) + 1
    }

    /// Decodes manifest bytes received from a peer or read from disk; throws unless they hash to `expectedRoot`,
    /// are the canonical three-key dictionary, and respect every bound (checked before the hashes are copied).
    public static func decode(_ bytes: [UInt8], expectedRoot: SHA256Digest) throws(BlobStoreError) -> BlobManifest {
        let name = "manifest \(expectedRoot.hex)"
        guard bytes.count <= maximumEncodedCount else {
            throw BlobStoreError(
                .invalidManifest,
                "\(name) is \(bytes.count) bytes; a manifest is at most \(maximumEncodedCount) bytes")
        }
        guard SHA256.hash(bytes) == expectedRoot else {
            throw BlobStoreError(
                .invalidManifest, "\(name): the bytes received hash to \(SHA256.hash(bytes).hex), not to the ID")
        }
        let limits = BencodeLimits(
            maxInputSize: maximumEncodedCount, maxStringLength: maximumChunkCount * SHA256Digest.byteCount,
            maxDepth: 1, maxElements: 8)
        let value: BencodeValue
        do {
            value = try BencodeDecoder(limits: limits).decode(bytes)
        } catch {
            throw BlobStoreError(.invalidManifest, "\(name) is not canonical bencode: \(error)")
        }
        guard let dictionary = value.dictionary else {
            throw BlobStoreError(.invalidManifest, "\(name) must be a bencoded dictionary")
        }
        let expectedKeys = ["chunk size", "chunks", "size"].map { Array($0.utf8) }
        guard dictionary.keys == expectedKeys else {
            let keys = dictionary.keys.map { String(decoding: $0, as: UTF8.self) }
            throw BlobStoreError(
                .invalidManifest, "\(name) must have exactly the keys chunk size, chunks, size; it has \(keys)")
        }
        guard let chunkSize = dictionary["chunk size"]?.integer, let size = dictionary["size"]?.integer,
            let packed = dictionary["chunks"]?.bytes
        else {
            throw BlobStoreError(
                .invalidManifest, "\(name): chunk size and size must be integers, chunks a byte string")
        }
        guard (Int64(minimumChunkSize)...Int64(maximumChunkSize)).contains(chunkSize) else {
            throw BlobStoreError(
                .invalidManifest,
                "\(name): chunk size \(chunkSize) is outside \(minimumChunkSize)...\(maximumChunkSize)")
        }
        guard packed.count % SHA256Digest.byteCount == 0 else {
            throw BlobStoreError(
                .invalidManifest, "\(name): chunks is \(packed.count) bytes, not a whole number of 32-byte hashes")
        }
        do {
            try checkBounds(chunkSize: Int(chunkSize), size: size, chunkCount: packed.count / SHA256Digest.byteCount)
        } catch {
            throw BlobStoreError(.invalidManifest, "\(name): \(error.message)")
        }
        var hashes: [SHA256Digest] = []
        hashes.reserveCapacity(packed.count / SHA256Digest.byteCount)
        for start in stride(from: 0, to: packed.count, by: SHA256Digest.byteCount) {
            // Exactly 32 bytes each, so the initializer cannot fail.
            hashes.append(try! SHA256Digest(bytes: packed[start..<start + SHA256Digest.byteCount]))
        }
        return BlobManifest(checkedChunkSize: Int(chunkSize), size: size, chunkHashes: hashes, root: expectedRoot)
    }

    /// Decodes manifest bytes announced as blob `id`: `decode(_:expectedRoot:)` with the ID's root hash.
    public static func decode(_ bytes: [UInt8], expectedRoot id: BlobID) throws(BlobStoreError) -> BlobManifest {
        try decode(bytes, expectedRoot: id.root)
    }

    /// Throws unless the chunk size, total size and chunk count are in range and agree with each other.
    static func checkBounds(chunkSize: Int, size: Int64, chunkCount: Int) throws(BlobStoreError) {
        guard (minimumChunkSize...maximumChunkSize).contains(chunkSize) else {
            throw BlobStoreError(
                .outOfBounds,
                "chunk size \(chunkSize) is outside \(minimumChunkSize)...\(maximumChunkSize) bytes (16 KiB...16 MiB)")
        }
        guard (0...maximumSize).contains(size) else {
            throw BlobStoreError(.outOfBounds, "a blob of \(size) bytes is outside 0...\(maximumSize) (1 TiB)")
        }
        let expected = Self.chunkCount(size: size, chunkSize: chunkSize)
        guard expected <= Int64(maximumChunkCount) else {
            throw BlobStoreError(
                .outOfBounds,
                "a blob of \(size) bytes in \(chunkSize)-byte chunks needs \(expected) chunks; at most "
                    + "\(maximumChunkCount) are allowed, so use a larger chunk size")
        }
        guard Int64(chunkCount) == expected else {
            throw BlobStoreError(
                .invalidManifest,
                "a blob of \(size) bytes in \(chunkSize)-byte chunks has \(expected) chunks, not \(chunkCount)")
        }
    }

    private init(checkedChunkSize: Int, size: Int64, chunkHashes: [SHA256Digest], root: SHA256Digest) {
        chunkSize = checkedChunkSize
        self.size = size
        self.chunkHashes = chunkHashes
        self.root = root
    }

    private static func encode(chunkSize: Int, size: Int64, chunkHashes: [SHA256Digest]) -> [UInt8] {
        var packed: [UInt8] = []
        packed.reserveCapacity(chunkHashes.count * SHA256Digest.byteCount)
        for hash in chunkHashes { hash.withUnsafeBytes { packed.append(contentsOf: $0) } }
        let dictionary: BencodeDictionary = [
            "chunk size": .integer(Int64(chunkSize)), "chunks": .bytes(packed), "size": .integer(size),
        ]
        return BencodeValue.dictionary(dictionary).encoded()
    }

    /// Manifests are equal when their roots are: the root is the SHA-256 of everything else.
    public static func == (lhs: BlobManifest, rhs: BlobManifest) -> Bool { lhs.root == rhs.root }

    /// Hashes the root only, which determines everything else.
    public func hash(into hasher: inout Hasher) { hasher.combine(root) }
}
