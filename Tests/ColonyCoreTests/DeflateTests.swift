import Foundation
import Testing

@testable import ColonyCore

@Suite("Deflate and inflate")
struct DeflateTests {
    static let formats: [CompressionFormat] = [.zlib, .gzip, .raw]

    @Test(arguments: formats)
    func roundTrips(format: CompressionFormat) throws {
        var random = SplitMix64(seed: 7)
        let noise = Data((0..<100_000).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        let text = Data(String(repeating: "colony volunteer computing ", count: 4000).utf8)
        let zeros = Data(count: 1 << 20)
        for (name, original) in [
            ("empty", Data()), ("one byte", Data([42])), ("noise", noise), ("text", text),
            ("zeros", zeros),
        ] {
            for level in [-1, 0, 1, 9] {
                let compressed = try Deflate.compress(original, level: level, format: format)
                let restored = try Inflate.decompress(compressed, limit: original.count, format: format)
                #expect(restored == original, "\(name) at level \(level)")
            }
        }
        let packed = try Deflate.compress(zeros, format: format)
        #expect(packed.count < 2048, "1 MiB of zeros compressed to \(packed.count) bytes")
        #expect(try Deflate.compress(noise, level: 0, format: format).count > noise.count)
    }

    /// The header bytes say which container was written: zlib 0x78, gzip 1f 8b, raw neither.
    @Test func formatsAreDistinct() throws {
        let data = Data("hello hello hello".utf8)
        #expect(try Deflate.compress(data, format: .zlib).first == 0x78)
        #expect(try Deflate.compress(data, format: .gzip).prefix(2) == Data([0x1f, 0x8b]))
        let zlib = try Deflate.compress(data, format: .zlib)
        #expect(throws: DecompressionError.self) { try Inflate.decompress(zlib, limit: 100, format: .gzip) }
        let gzip = try Deflate.compress(data, format: .gzip)
        #expect(throws: DecompressionError.self) { try Inflate.decompress(gzip, limit: 100, format: .zlib) }
    }

    /// Streaming in uneven pieces on both sides gives the same bytes as the one-shot calls.
    @Test(arguments: [UInt64(1), 2, 3])
    func chunkedStreaming(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        // Half noise, half repetition, so that both literal and match paths run.
        var original = Data((0..<50_000).map { _ in UInt8(truncatingIfNeeded: random.next() % 16) })
        original.append(Data(String(repeating: "abcdefgh", count: 20_000).utf8))

        let deflater = try Deflater(format: .zlib, level: 6)
        var compressed = Data()
        var offset = 0
        while offset < original.count {
            let size = min(Int(random.next() % 9000), original.count - offset)
            compressed.append(try deflater.update(original[offset..<(offset + size)]))
            offset += size
        }
        compressed.append(try deflater.finish())
        #expect(deflater.isFinished)
        #expect(deflater.totalIn == original.count)
        #expect(deflater.totalOut == compressed.count)
        #expect(try Inflate.decompress(compressed, limit: original.count) == original)

        let inflater = try Inflater(format: .zlib, limit: original.count)
        var restored = Data()
        offset = 0
        while offset < compressed.count {
            let size = min(Int(random.next() % 700) + 1, compressed.count - offset)
            restored.append(try inflater.update(compressed[offset..<(offset + size)]))
            offset += size
        }
        try inflater.finish()
        #expect(restored == original)
        #expect(inflater.totalIn == compressed.count)
        #expect(inflater.totalOut == original.count)
    }

    /// A sync flush makes everything written so far decodable before the stream ends.
    @Test func flushDeliversPendingData() throws {
        let deflater = try Deflater()
        let inflater = try Inflater(limit: 1000)
        var received = Data()
        for word in ["alpha ", "beta ", "gamma "] {
            var piece = try deflater.update(Data(word.utf8))
            piece.append(try deflater.flush())
            received.append(try inflater.update(piece))
            #expect(received.count > 0)
            #expect(String(decoding: received, as: UTF8.self).hasSuffix(word))
        }
        received.append(try inflater.update(try deflater.finish()))
        try inflater.finish()
        #expect(String(decoding: received, as: UTF8.self) == "alpha beta gamma ")
        #expect(throws: CompressionError.self) { try deflater.update(Data([1])) }
    }

    @Test func exactLimitIsAllowedOneMoreIsNot() throws {
        let original = Data(repeating: 7, count: 10_000)
        let compressed = try Deflate.compress(original)
        #expect(try Inflate.decompress(compressed, limit: 10_000) == original)
        do {
            _ = try Inflate.decompress(compressed, limit: 9_999)
            Issue.record("output past the limit was accepted")
        } catch {
            #expect(error.code == .limitExceeded)
            #expect(error.message.contains("9999"))
        }
        #expect(try Inflate.decompress(try Deflate.compress(Data()), limit: 0).isEmpty)
    }

    /// 1 GiB of zeros packed into about 1 MiB is refused at a 16 MiB limit, and the inflater's buffers stay within
    /// the limit plus one byte.
    @Test func decompressionBombIsRefused() throws {
        let bomb = try Self.zeroBomb(mebibytes: 1024)
        #expect(bomb.count < 1_100_000, "the bomb is \(bomb.count) bytes")
        let limit = 16 << 20

        let inflater = try Inflater(limit: limit)
        do {
            _ = try inflater.update(bomb)
            Issue.record("a 1 GiB bomb was decompressed")
        } catch {
            #expect(error.code == .limitExceeded)
        }
        #expect(inflater.totalOut == limit + 1)
        #expect(inflater.largestAllocation <= limit + 1)
        #expect(inflater.totalIn < bomb.count / 10, "stopped after \(inflater.totalIn) compressed bytes")
        // Spent: it refuses further input instead of carrying on.
        #expect(throws: DecompressionError.self) { try inflater.update(Data([0])) }

        #expect(throws: DecompressionError.self) { try Inflate.decompress(bomb, limit: limit) }

        // Fed in small pieces, the limit counts across calls.
        let streaming = try Inflater(limit: limit)
        var produced = 0
        var refused = false
        for start in stride(from: 0, to: bomb.count, by: 4096) {
            do {
                produced += try streaming.update(bomb[start..<min(start + 4096, bomb.count)]).count
            } catch {
                #expect(error.code == .limitExceeded)
                refused = true
                break
            }
        }
        #expect(refused)
        #expect(produced <= limit)
    }

    /// The bomb construction itself is a valid stream: at a small size it inflates completely and checks out.
    @Test func bombConstructionIsValid() throws {
        let small = try Self.zeroBomb(mebibytes: 8)
        let output = try Inflate.decompress(small, limit: 8 << 20)
        #expect(output.count == 8 << 20)
        #expect(!output.contains { $0 != 0 })
    }

    @Test func corruptInputIsAnError() throws {
        var random = SplitMix64(seed: 11)
        let original = Data((0..<20_000).map { _ in UInt8(truncatingIfNeeded: random.next() % 32) })
        let compressed = try Deflate.compress(original)

        // A damaged checksum.
        var badChecksum = compressed
        badChecksum[badChecksum.count - 1] ^= 0xff
        #expect(Self.code(of: badChecksum) == .corrupt)
        // A damaged header.
        var badHeader = compressed
        badHeader[0] = 0x00
        #expect(Self.code(of: badHeader) == .corrupt)
        // Not compressed at all.
        #expect(Self.code(of: Data("plain text, not zlib".utf8)) == .corrupt)
        // Damage in the middle: corrupt or checksum mismatch, never a crash and never the original back.
        for position in stride(from: 10, to: compressed.count - 4, by: 97) {
            var damaged = compressed
            damaged[position] ^= 0x5a
            let result = try? Inflate.decompress(damaged, limit: original.count * 2)
            #expect(result != original, "damage at byte \(position) went unnoticed")
        }
        // Random garbage of many sizes.
        for size in [1, 2, 3, 10, 100, 5000] {
            let garbage = Data((0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) })
            #expect(throws: DecompressionError.self) { try Inflate.decompress(garbage, limit: 1 << 20) }
        }
    }

    @Test func truncatedAndTrailingInput() throws {
        let original = Data(String(repeating: "truncate me ", count: 500).utf8)
        let compressed = try Deflate.compress(original)
        for cut in [0, 1, 2, compressed.count / 2, compressed.count - 1] {
            #expect(Self.code(of: compressed.prefix(cut)) == .truncated, "cut at \(cut)")
        }
        #expect(Self.code(of: compressed + Data([0])) == .trailingData)
        // Trailing bytes arriving in a later call are refused too.
        let inflater = try Inflater(limit: original.count)
        _ = try inflater.update(compressed)
        try inflater.finish()
        #expect(throws: DecompressionError.self) { try inflater.update(Data([1, 2, 3])) }
    }

    @Test func invalidSettings() {
        #expect(throws: CompressionError.self) { try Deflater(level: 10) }
        #expect(throws: CompressionError.self) { try Deflate.compress(Data(), level: -2) }
        #expect(throws: DecompressionError.self) { try Inflater(limit: -1) }
    }

    private static func code(of input: Data) -> DecompressionError.Code? {
        do {
            _ = try Inflate.decompress(input, limit: 1 << 20)
            return nil
        } catch {
            return error.code
        }
    }

    /// A valid zlib stream of `mebibytes` MiB of zeros, built in milliseconds: after a full flush deflate forgets
    /// its history, so the block it writes for each further MiB of zeros is the same and can be repeated. The
    /// Adler-32 of n zeros is (n mod 65521) << 16 | 1.
    static func zeroBomb(mebibytes: Int) throws -> Data {
        let mebibyte = Data(count: 1 << 20)
        let deflater = try Deflater(format: .zlib, level: 9)
        var stream = try deflater.update(mebibyte)
        stream.append(try deflater.flush(resettingHistory: true))
        var block = try deflater.update(mebibyte)
        block.append(try deflater.flush(resettingHistory: true))
        var again = try deflater.update(mebibyte)
        again.append(try deflater.flush(resettingHistory: true))
        #expect(block == again, "deflate's output for a repeated MiB after a full flush changed")
        for _ in 1..<mebibytes { stream.append(block) }
        let ending = try deflater.finish()
        stream.append(ending.dropLast(4))
        let adler = UInt32((mebibytes << 20) % 65521) << 16 | 1
        stream.append(contentsOf: withUnsafeBytes(of: adler.bigEndian) { Array($0) })
        return stream
    }
}
