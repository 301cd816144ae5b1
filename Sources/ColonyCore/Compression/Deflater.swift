internal import CZlib
import Foundation

/// Streaming zlib compression: feed chunks with `update(_:)`, collect the compressed bytes each call returns, and
/// end with `finish()`.
///
/// A class because zlib's stream refers to itself and must stay at one address; not `Sendable`: use one deflater
/// from one thread (or actor) at a time.
public final class Deflater {
    /// The container written around the deflate data.
    public let format: CompressionFormat
    /// The compression level, 0 (store) to 9 (smallest), or -1 for zlib's default (6).
    public let level: Int
    /// Uncompressed bytes consumed so far.
    public private(set) var totalIn = 0
    /// Compressed bytes produced so far.
    public private(set) var totalOut = 0
    /// Whether `finish()` has run; the deflater takes no more input after it.
    public private(set) var isFinished = false

    private let stream: UnsafeMutablePointer<z_stream>
    private let scratch: UnsafeMutableRawBufferPointer

    /// A deflater writing `format` at `level` (-1 for zlib's default, or 0 through 9).
    public init(format: CompressionFormat = .zlib, level: Int = -1) throws(CompressionError) {
        guard (-1...9).contains(level) else {
            throw CompressionError("compression level must be -1 (default) or 0 through 9, got \(level)")
        }
        self.format = format
        self.level = level
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        scratch = .allocate(byteCount: 64 * 1024, alignment: 16)
        let status = colony_deflateInit2(stream, Int32(level), format.windowBits)
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            scratch.deallocate()
            throw CompressionError("zlib deflateInit2 failed with code \(status)")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        scratch.deallocate()
    }

    /// Compresses `input` and returns the compressed bytes that are ready; zlib may hold some back until later
    /// calls or `finish()`.
    public func update(_ input: some DataProtocol) throws(CompressionError) -> Data {
        var output = Data()
        try update(input) { output.append(contentsOf: $0) }
        return output
    }

    /// Returns everything compressed so far, ending on a byte boundary so a reader can decode all of it now. With
    /// `resettingHistory`, later data does not refer back to earlier data (a full flush), so a reader can start
    /// decoding there.
    public func flush(resettingHistory: Bool = false) throws(CompressionError) -> Data {
        var output = Data()
        try run(flush: resettingHistory ? Z_FULL_FLUSH : Z_SYNC_FLUSH) { output.append(contentsOf: $0) }
        return output
    }

    /// Ends the stream and returns its last bytes (including the trailer of zlib or gzip).
    public func finish() throws(CompressionError) -> Data {
        var output = Data()
        try finish { output.append(contentsOf: $0) }
        return output
    }

    /// Compresses `input`, handing the compressed bytes to `sink` as they come; the buffer is valid only during
    /// each call.
    func update(
        _ input: some DataProtocol, sink: (UnsafeRawBufferPointer) throws(CompressionError) -> Void
    ) throws(CompressionError) {
        for region in input.regions {
            let result = region.withUnsafeBytes { bytes in
                Result { () throws(CompressionError) in try compress(bytes, sink: sink) }
            }
            try result.get()
        }
    }

    /// Ends the stream, handing its last bytes to `sink`.
    func finish(sink: (UnsafeRawBufferPointer) throws(CompressionError) -> Void) throws(CompressionError) {
        try run(flush: Z_FINISH, sink: sink)
        isFinished = true
    }

    private func compress(
        _ bytes: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws(CompressionError) -> Void
    ) throws(CompressionError) {
        guard !isFinished else { throw CompressionError("the deflater already finished; start a new one") }
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        var offset = 0
        while offset < bytes.count {
            // zlib counts input in 32-bit units.
            let step = min(bytes.count - offset, Int(UInt32.max))
            stream.pointee.next_in = UnsafeMutablePointer(
                mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(step)
            try run(flush: Z_NO_FLUSH, sink: sink)
            offset += step
        }
        stream.pointee.next_in = nil
    }

    /// Calls deflate with `flush` until it has consumed all input and, for a flush, written all output.
    private func run(
        flush: Int32, sink: (UnsafeRawBufferPointer) throws(CompressionError) -> Void
    ) throws(CompressionError) {
        guard !isFinished else { throw CompressionError("the deflater already finished; start a new one") }
        while true {
            let availableBefore = Int(stream.pointee.avail_in)
            stream.pointee.next_out = scratch.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(scratch.count)
            let status = deflate(stream, flush)
            let produced = scratch.count - Int(stream.pointee.avail_out)
            stream.pointee.next_out = nil
            totalIn += availableBefore - Int(stream.pointee.avail_in)
            totalOut += produced
            if produced > 0 {
                try sink(UnsafeRawBufferPointer(rebasing: scratch[0..<produced]))
            }
            switch status {
            case Z_STREAM_END:
                return
            case Z_OK, Z_BUF_ERROR:
                // A full output buffer means deflate may have more to say; otherwise the call is complete.
                if stream.pointee.avail_out == 0 || (flush == Z_FINISH && status == Z_OK) { continue }
                if stream.pointee.avail_in > 0 { continue }
                return
            default:
                throw CompressionError("zlib deflate failed with code \(status)")
            }
        }
    }
}
