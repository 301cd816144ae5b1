import ColonyCore
import Foundation
import Testing

@Suite("SHA-1, SHA-256 and SHA-512")
struct SHATests {
    /// FIPS 180 example messages.
    static let abc = Data("abc".utf8)
    static let twoBlock = Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)

    @Test func fipsExamplesSHA1() {
        #expect(SHA1.hash(Self.abc).hex == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1.hash(Self.twoBlock).hex == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(SHA1.hash(Data()).hex == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    }

    @Test func fipsExamplesSHA256() {
        #expect(SHA256.hash(Self.abc).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash(Self.twoBlock).hex == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hash([UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func fipsExampleSHA512() {
        #expect(
            SHA512.hash(Self.abc).hex
                == "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
    }

    /// One million 'a', fed in chunks of uneven sizes that straddle the 64-byte block boundaries.
    @Test func millionAStreamed() {
        let chunkSizes = [1, 63, 64, 65, 127, 1000, 4097, 3]
        let buffer = Data(repeating: UInt8(ascii: "a"), count: chunkSizes.max()!)
        var sha1 = SHA1()
        var sha256 = SHA256()
        var sha512 = SHA512()
        var fed = 0
        var turn = 0
        while fed < 1_000_000 {
            let size = min(chunkSizes[turn % chunkSizes.count], 1_000_000 - fed)
            let chunk = buffer.prefix(size)
            sha1.update(chunk)
            sha256.update(chunk)
            sha512.update(chunk)
            fed += size
            turn += 1
        }
        #expect(sha1.finalize().hex == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        #expect(sha256.finalize().hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(
            sha512.finalize().hex
                == "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
                + "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b")
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func streamingEqualsOneShot(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let count = Int(random.next() % 20_000)
        let data = Data((0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        var cuts = (0..<Int(random.next() % 8)).map { _ in Int(random.next() % UInt64(count + 1)) }
        cuts = ([0] + cuts + [count]).sorted()
        var sha1 = SHA1()
        var sha256 = SHA256()
        var sha512 = SHA512()
        for (start, end) in zip(cuts, cuts.dropFirst()) {
            let piece = data[start..<end]
            sha1.update(piece)
            sha256.update(piece)
            sha512.update(piece)
        }
        #expect(sha1.finalize() == SHA1.hash(data))
        #expect(sha256.finalize() == SHA256.hash(data))
        #expect(sha512.finalize() == SHA512.hash(data))
    }

    /// A data value made of several regions goes through the streaming path of the one-shot call.
    @Test func discontiguousInput() {
        let parts: [[UInt8]] = [Array("ab".utf8), [], Array("c".utf8)]
        var dispatchData = DispatchData.empty
        for part in parts {
            part.withUnsafeBytes { dispatchData.append($0) }
        }
        #expect(dispatchData.regions.count == 2)
        #expect(SHA256.hash(dispatchData).hex == SHA256.hash(Self.abc).hex)
        #expect(SHA1.hash(dispatchData) == SHA1.hash(Self.abc))
    }

    /// Copies continue independently, and finalize leaves the hasher usable.
    @Test func valueSemantics() {
        var first = SHA256()
        first.update(Data("ab".utf8))
        var second = first
        first.update(Data("c".utf8))
        second.update(Data("x".utf8))
        #expect(first.finalize() == SHA256.hash(Data("abc".utf8)))
        #expect(second.finalize() == SHA256.hash(Data("abx".utf8)))
        let snapshot = first.finalize()
        first.update(Data("d".utf8))
        #expect(snapshot == SHA256.hash(Data("abc".utf8)))
        #expect(first.finalize() == SHA256.hash(Data("abcd".utf8)))
    }

    @Test func digestBytesHexAndOrdering() throws {
        let digest = SHA256.hash(Self.abc)
        #expect(digest.bytes.count == 32)
        #expect(digest.data == Data(digest.bytes))
        #expect(digest.bytes.first == 0xba && digest.bytes.last == 0xad)
        #expect(try SHA256Digest(hex: digest.hex) == digest)
        #expect(try SHA256Digest(hex: digest.hex.uppercased()) == digest)
        #expect(try SHA256Digest(bytes: digest.bytes) == digest)
        let sha1 = SHA1.hash(Self.abc)
        #expect(try SHA1Digest(bytes: sha1.bytes) == sha1)
        #expect(try SHA1Digest(hex: sha1.hex).bytes == sha1.bytes)
        #expect(Set([digest, SHA256.hash(Self.abc), SHA256.hash(Self.twoBlock)]).count == 2)
        let low = try SHA1Digest(hex: "00" + String(repeating: "ff", count: 19))
        let high = try SHA1Digest(hex: "01" + String(repeating: "00", count: 19))
        #expect(low < high)
        #expect("\(digest)" == digest.hex)
    }

    @Test func invalidDigestText() {
        #expect(throws: CryptoError.self) { try SHA256Digest(hex: "abc") }
        #expect(throws: CryptoError.self) { try SHA1Digest(hex: String(repeating: "g", count: 40)) }
        #expect(throws: CryptoError.self) { try SHA1Digest(bytes: [UInt8](repeating: 0, count: 21)) }
        do {
            _ = try SHA256Digest(hex: String(repeating: "0", count: 63) + "z")
            Issue.record("a non-hex digit was accepted")
        } catch {
            #expect(error.code == .invalidHex)
            #expect(error.message.contains("character 63"))
        }
    }
}
