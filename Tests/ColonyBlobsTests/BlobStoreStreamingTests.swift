import ColonyBlobs
import ColonyCore
import Foundation
import Testing

@Suite struct BlobStoreStreamingTests {
    static let fileSize = 64 << 20

    /// Putting and exporting a 64 MiB file must read and write it a chunk at a time: resident memory may grow by
    /// a few buffers, never by the file's size.
    @Test func largeFileStreamsThroughBoundedMemory() throws {
        let folder = try BlobTestFolder()
        let source = folder.file("large")
        let sourceHash = try Self.writeRandomFile(source, size: Self.fileSize)
        let store = try folder.store()

        let before = try Self.residentBytes()
        let manifest = try store.put(file: source)
        let afterPut = try Self.residentBytes()
        let exported = folder.file("exported")
        try store.export(manifest.id, to: exported)
        let afterExport = try Self.residentBytes()

        #expect(manifest.size == Int64(Self.fileSize) && manifest.chunkCount == 64)
        #expect(try Self.hashFile(exported) == sourceHash)
        let limit = 24 << 20
        #expect(afterPut - before < limit, "put grew resident memory by \(afterPut - before) bytes")
        #expect(afterExport - before < limit, "export grew resident memory by \(afterExport - before) bytes")
    }

    /// Writes `size` pseudo-random bytes to `url` one MiB at a time; returns their SHA-256.
    static func writeRandomFile(_ url: URL, size: Int) throws -> SHA256Digest {
        FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        var state: UInt64 = 42
        var piece = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<size / piece.count {
            piece.withUnsafeMutableBytes { raw in
                for index in 0..<raw.count / 8 {
                    raw.storeBytes(of: BlobTestRandom.next(&state), toByteOffset: index * 8, as: UInt64.self)
                }
            }
            hasher.update(piece)
            try handle.write(contentsOf: piece)
        }
        return hasher.finalize()
    }

    /// The SHA-256 of the file at `url`, read one MiB at a time.
    static func hashFile(_ url: URL) throws -> SHA256Digest {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty {
            hasher.update(piece)
        }
        return hasher.finalize()
    }

    /// The process's resident set size, from /proc/self/statm (second field, in pages).
    static func residentBytes() throws -> Int {
        let text = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let fields = text.split(separator: " ")
        let pages = try #require(fields.count > 1 ? Int(fields[1]) : nil)
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
