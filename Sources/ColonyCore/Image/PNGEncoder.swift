internal import CZlib
import Foundation

/// The PNG byte stream without any I/O: takes rows, returns finished bytes (signature, IHDR, IDAT chunks, IEND)
/// for the caller to store. Shared by `PNGWriter` (into memory) and `PNGFileWriter` (into a file).
final class PNGEncoder {
    /// The 8-byte PNG signature (PNG section 5.2).
    static let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
    /// Compressed bytes gathered before an IDAT chunk is emitted: big enough that chunk overhead (12 bytes) is
    /// negligible, small enough that the writer's memory stays flat.
    static let idatChunkSize = 64 * 1024

    let width: Int
    let height: Int
    let colorType: PNGColorType
    let filter: PNGFilter
    let rowBytes: Int
    private(set) var rowsWritten = 0

    private let deflater: Deflater
    /// The row above the next one; zeros before the first row.
    private let previousRow: UnsafeMutableRawBufferPointer
    /// Room for the five filtered versions of a row.
    private let candidates: UnsafeMutableRawBufferPointer
    private var pendingCompressed = Data()

    /// Checks the settings; see `PNGWriter.validate` for the rules.
    init(width: Int, height: Int, colorType: PNGColorType, filter: PNGFilter, compressionLevel: Int) throws(PNGError) {
        try PNGWriter.validate(width: width, height: height)
        self.width = width
        self.height = height
        self.colorType = colorType
        self.filter = filter
        rowBytes = width * colorType.bytesPerPixel
        do {
            deflater = try Deflater(format: .zlib, level: compressionLevel)
        } catch {
            throw PNGError(.invalidSetting, "PNG compression level: \(error.message)")
        }
        previousRow = .allocate(byteCount: rowBytes, alignment: 16)
        previousRow.initializeMemory(as: UInt8.self, repeating: 0)
        candidates = .allocate(byteCount: 5 * (rowBytes + 1), alignment: 16)
        candidates.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        previousRow.deallocate()
        candidates.deallocate()
    }

    /// The signature and the IHDR chunk: the first bytes of the file.
    func header() -> Data {
        var output = Data(Self.signature)
        var fields = Data()
        fields.appendBigEndian(UInt32(width))
        fields.appendBigEndian(UInt32(height))
        // Bit depth 8, then color type, compression method 0, filter method 0, no interlace.
        fields.append(contentsOf: [8, colorType.code, 0, 0, 0])
        Self.appendChunk("IHDR", fields, to: &output)
        return output
    }

    /// Adds one row of exactly `rowBytes` bytes; returns any IDAT chunks that are complete.
    func append(row: UnsafeRawBufferPointer) throws(PNGError) -> Data {
        guard rowsWritten < height else {
            throw PNGError(.wrongRowCount, "the image is \(height) rows high and all \(height) are written already")
        }
        guard row.count == rowBytes else {
            throw PNGError(
                .invalidPixelCount,
                "row \(rowsWritten) has \(row.count) bytes; a \(width)-pixel \(colorType) row needs \(rowBytes) "
                    + "(width × \(colorType.bytesPerPixel))")
        }
        let filtered = PNGRowFilter.filter(
            row, previous: UnsafeRawBufferPointer(previousRow), using: filter,
            bytesPerPixel: colorType.bytesPerPixel, candidates: candidates)
        do throws(CompressionError) {
            try deflater.update(filtered) { pendingCompressed.append(contentsOf: $0) }
        } catch {
            throw PNGError(.misuse, "PNG compression failed: \(error.message)")
        }
        previousRow.copyMemory(from: row)
        rowsWritten += 1
        return takeChunks(final: false)
    }

    /// Ends the image: the last IDAT chunk and IEND. Throws unless all `height` rows were added.
    func finish() throws(PNGError) -> Data {
        guard rowsWritten == height else {
            throw PNGError(
                .wrongRowCount, "the image is \(height) rows high but only \(rowsWritten) rows were written")
        }
        do throws(CompressionError) {
            try deflater.finish { pendingCompressed.append(contentsOf: $0) }
        } catch {
            throw PNGError(.misuse, "PNG compression failed: \(error.message)")
        }
        var output = takeChunks(final: true)
        Self.appendChunk("IEND", Data(), to: &output)
        return output
    }

    /// Wraps the compressed bytes gathered so far in IDAT chunks: every full chunk, and at the end the rest too.
    private func takeChunks(final: Bool) -> Data {
        guard pendingCompressed.count >= Self.idatChunkSize || (final && !pendingCompressed.isEmpty) else {
            return Data()
        }
        var output = Data()
        var start = pendingCompressed.startIndex
        while pendingCompressed.endIndex - start >= Self.idatChunkSize {
            Self.appendChunk("IDAT", pendingCompressed[start..<(start + Self.idatChunkSize)], to: &output)
            start += Self.idatChunkSize
        }
        if final && start < pendingCompressed.endIndex {
            Self.appendChunk("IDAT", pendingCompressed[start...], to: &output)
            start = pendingCompressed.endIndex
        }
        pendingCompressed = Data(pendingCompressed[start...])
        return output
    }

    /// Appends a chunk: length, type, data, and the CRC-32 of type and data (PNG section 5.3).
    static func appendChunk(_ type: String, _ data: Data, to output: inout Data) {
        let typeBytes = Array(type.utf8)
        precondition(typeBytes.count == 4)
        output.appendBigEndian(UInt32(data.count))
        output.append(contentsOf: typeBytes)
        output.append(data)
        var crc = typeBytes.withUnsafeBufferPointer { crc32(0, $0.baseAddress, 4) }
        data.withUnsafeBytes { raw in
            if let base = raw.baseAddress {
                crc = crc32(crc, base.assumingMemoryBound(to: Bytef.self), uInt(raw.count))
            }
        }
        output.appendBigEndian(UInt32(truncatingIfNeeded: crc))
    }
}

extension Data {
    fileprivate mutating func appendBigEndian(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
