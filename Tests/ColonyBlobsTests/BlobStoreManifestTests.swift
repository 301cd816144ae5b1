import ColonyBlobs
import ColonyCore
import Foundation
import Testing

@Suite struct BlobStoreManifestTests {
    /// 40,000 bytes of `i % 251` in 16 KiB chunks: three chunks, the last 7,232 bytes.
    static let sample = (0..<40_000).map { UInt8($0 % 251) }

    @Test func rootIsTheHashOfTheExactBencoding() throws {
        let folder = try BlobTestFolder()
        let store = try folder.store()
        let manifest = try store.put(data: Self.sample, chunkSize: 16_384)
        let hashes = stride(from: 0, to: Self.sample.count, by: 16_384).map {
            SHA256.hash(Self.sample[$0..<min($0 + 16_384, Self.sample.count)])
        }
        var expected = Array("d10:chunk sizei16384e6:chunks96:".utf8)
        for hash in hashes { expected += hash.bytes }
        expected += Array("4:sizei40000ee".utf8)

        #expect(manifest.chunkHashes == hashes)
        #expect(manifest.encoded() == expected)
        #expect(manifest.root == SHA256.hash(expected))
        // Computed once with Python's hashlib over the same bytes: the format must never drift.
        #expect(manifest.id.hex == "206c3e8384a946b74d6bfe6ff643cbec1ceb7b139259439b60a302d946ebb150")
        #expect(manifest.dhtKey == Array(manifest.root.bytes.prefix(20)))
        #expect(manifest.chunkLength(at: 2) == 40_000 - 2 * 16_384)
    }

    @Test func emptyBlobHasNoChunks() throws {
        let manifest = try BlobManifest(chunkSize: 1 << 20, size: 0, chunkHashes: [])
        #expect(manifest.encoded() == Array("d10:chunk sizei1048576e6:chunks0:4:sizei0ee".utf8))
        #expect(manifest.id.hex == "dd0a05316a6dc3af033bae417b624a888ef8c582f8550830bdcd653301efc99f")
    }

    @Test func decodeRoundTripsAndChecksTheRoot() throws {
        let hashes = stride(from: 0, to: Self.sample.count, by: 16_384).map {
            SHA256.hash(Self.sample[$0..<min($0 + 16_384, Self.sample.count)])
        }
        let manifest = try BlobManifest(chunkSize: 16_384, size: 40_000, chunkHashes: hashes)
        let decoded = try BlobManifest.decode(manifest.encoded(), expectedRoot: manifest.root)
        #expect(decoded.chunkHashes == hashes && decoded.size == 40_000 && decoded.chunkSize == 16_384)

        let other = SHA256.hash(Array("something else".utf8))
        let error = #expect(throws: BlobStoreError.self) {
            try BlobManifest.decode(manifest.encoded(), expectedRoot: other)
        }
        #expect(error?.code == .invalidManifest)
    }

    /// Hostile manifests whose hash does match (the attacker picks the ID), so that the bound checks are reached.
    @Test(arguments: [
        ("extra key", "d10:chunk sizei16384e6:chunks0:5:extrai1e4:sizei0ee"),
        ("missing size", "d10:chunk sizei16384e6:chunks0:e"),
        ("chunk size too small", "d10:chunk sizei1024e6:chunks0:4:sizei0ee"),
        ("chunk size too large", "d10:chunk sizei33554432e6:chunks0:4:sizei0ee"),
        ("size over 1 TiB", "d10:chunk sizei16777216e6:chunks0:4:sizei1099511627777ee"),
        ("negative size", "d10:chunk sizei16384e6:chunks0:4:sizei-1ee"),
        ("chunks missing for the size", "d10:chunk sizei16384e6:chunks0:4:sizei5ee"),
        ("hashes not a multiple of 32", "d10:chunk sizei16384e6:chunks3:abc4:sizei0ee"),
        ("huge declared string", "d10:chunk sizei16384e6:chunks999999999999:"),
        ("not canonical", "d6:chunks0:10:chunk sizei16384e4:sizei0ee"),
        ("not a dictionary", "li1ee"),
        ("chunk size a string", "d10:chunk size1:x6:chunks0:4:sizei0ee"),
    ])
    func decodeRefusesBadManifests(_ name: String, _ text: String) {
        let bytes = Array(text.utf8)
        let error = #expect(throws: BlobStoreError.self, "\(name)") {
            try BlobManifest.decode(bytes, expectedRoot: SHA256.hash(bytes))
        }
        #expect(error?.code == .invalidManifest, "\(name)")
    }

    @Test func decodeRefusesTooManyChunksForTheSize() throws {
        // 2 hashes for a 1-byte blob.
        var bytes = Array("d10:chunk sizei16384e6:chunks64:".utf8)
        bytes += [UInt8](repeating: 7, count: 64)
        bytes += Array("4:sizei1ee".utf8)
        #expect(throws: BlobStoreError.self) { try BlobManifest.decode(bytes, expectedRoot: SHA256.hash(bytes)) }
    }

    @Test func constructionEnforcesBounds() {
        #expect(throws: BlobStoreError.self) { try BlobManifest(chunkSize: 16_383, size: 0, chunkHashes: []) }
        #expect(throws: BlobStoreError.self) { try BlobManifest(chunkSize: 16_384, size: 16_385, chunkHashes: []) }
        // 16 KiB chunks allow at most 2^20 chunks: 16 GiB.
        #expect(throws: BlobStoreError.self) {
            try BlobManifest(chunkSize: 16_384, size: 16 << 30 + 1, chunkHashes: [])
        }
    }

    @Test func blobIDAcceptsOnlySixtyFourHexDigits() throws {
        let hex = "206c3e8384a946b74d6bfe6ff643cbec1ceb7b139259439b60a302d946ebb150"
        let id = try #require(BlobID(hex: hex))
        #expect(id.hex == hex)
        #expect(id.dhtKey == Array(id.root.bytes.prefix(20)))
        // Upper case is the same ID, printed (and used as a file name) in lower case.
        #expect(BlobID(hex: hex.uppercased()) == id)
        #expect(BlobID(hex: hex.uppercased())?.hex == hex)

        let short = String(hex.dropLast())
        let shorter = String(hex.dropLast(2))
        var refused: [String] = ["", "../etc", "ab/cd", "..", short, hex + "0", shorter + "/."]
        refused += ["../" + String(hex.dropFirst(3)), short + "g", String(repeating: "z", count: 64)]
        refused += [" " + String(hex.dropFirst()), short + "\n", "+" + String(hex.dropFirst())]
        refused += [short + "\u{0660}", shorter + "%2f", String(hex.dropLast(3)) + "..."]
        for text in refused {
            #expect(BlobID(hex: text) == nil, "\(text.debugDescription) must be refused")
        }
    }
}
