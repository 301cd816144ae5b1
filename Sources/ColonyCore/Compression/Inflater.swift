internal import CZlib
import Foundation

/// Streaming zlib decompression with an output limit: feed compressed chunks with `update(_:)`, collect the bytes
/// each call returns, and call `finish()` to confirm the stream was complete.
///
/// Compressed input is hostile: 1 MiB can expand to 1 GiB. The inflater never produces more than `limit` bytes in
/// total, and its output buffer never grows past the limit plus one byte: once the output would pass the limit
/// it throws `limitExceeded` and refuses further input.
///
/// A class because zlib's stream refers to itself and must stay at one address; not `Sendable`: use one inflater
/// from one thread (or actor) at a time.
public final class Inflater {
    /// The container expected around the deflate data.
    public let format: CompressionFormat
    /// The most bytes this inflater will produce in total.
    public let limit: Int
    /// Compressed bytes consumed so far.
    public private(set) var totalIn = 0
    /// Decompressed bytes produced so far.
    public private(set) var totalOut = 0
    /// Whether the end of the compressed stream (and its checksum) has been read and checked.
    public private(set) var isFinished = false

    /// The largest output buffer allocated so far, for tests that check the memory bound.
    private(set) var largestAllocation = 0

    private let stream: UnsafeMutablePointer<z_stream>
    private var failure: DecompressionError?

    /// An inflater reading `format` that refuses to produce more than `limit` bytes.
    public init(format: CompressionFormat = .zlib, limit: Int) throws(DecompressionError) {
        guard limit >= 0 else {
            throw DecompressionError(.misuse, "the decompression limit must not be negative, got \(limit)")
        }
        self.format = format
        self.limit = limit
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = colony_inflateInit2(stream, format.windowBits)
        guard status == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw DecompressionError(.libraryFailure, "zlib inflateInit2 failed with code \(status)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Decompresses `input` and returns the bytes it yields. Throws when the input is damaged, when bytes follow
    /// the end of the stream, or when the total output would pass `limit`; after a throw the inflater is spent.
    public func update(_ input: some DataProtocol) throws(DecompressionError) -> Data {
        if let failure { throw failure }
        var output = OutputBuffer()
        defer { largestAllocation = max(largestAllocation, output.largestCapacity) }
        do throws(DecompressionError) {
            for region in input.regions {
                let result = region.withUnsafeBytes { bytes in
                    Result { () throws(DecompressionError) in try inflate(bytes, into: &output) }
                }
                try result.get()
            }
        } catch {
            failure = error
            throw error
        }
        return output.take()
    }

    /// Confirms that the whole stream, including its checksum, has been read; throws `truncated` otherwise.
    public func finish() throws(DecompressionError) {
        if let failure { throw failure }
        guard isFinished else {
            throw DecompressionError(
                .truncated,
                "compressed data ended early: \(totalIn) bytes in, \(totalOut) bytes out, no end of stream yet")
        }
    }

    private func inflate(_ bytes: UnsafeRawBufferPointer, into output: inout OutputBuffer) throws(DecompressionError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        guard !isFinished else {
            throw DecompressionError(
                .trailingData, "\(bytes.count) bytes follow the end of the compressed stream (after \(totalIn) bytes)")
        }
        var offset = 0
        while offset < bytes.count {
            // zlib counts input in 32-bit units.
            let step = min(bytes.count - offset, Int(UInt32.max))
            stream.pointee.next_in = UnsafeMutablePointer(mutating: (base + offset).assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(step)
            defer { stream.pointee.next_in = nil }
            try run(into: &output)
            let left = Int(stream.pointee.avail_in)
            if isFinished && (left > 0 || offset + step < bytes.count) {
                throw DecompressionError(
                    .trailingData,
                    "\(left + bytes.count - offset - step) bytes follow the end of the compressed stream "
                        + "(after \(totalIn) bytes)")
            }
            offset += step
        }
    }

    /// Runs zlib's inflate on the current input until it is used up, the stream ends, or the limit is passed.
    private func run(into output: inout OutputBuffer) throws(DecompressionError) {
        while true {
            // Room for one byte past the limit: producing it proves the limit would be passed.
            let allowance = limit - totalOut + 1
            guard let space = output.reserve(upTo: allowance) else {
                throw DecompressionError(.libraryFailure, "out of memory for \(allowance) bytes of output")
            }
            let availableBefore = Int(stream.pointee.avail_in)
            stream.pointee.next_out = space.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(space.count)
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            let produced = space.count - Int(stream.pointee.avail_out)
            stream.pointee.next_out = nil
            output.count += produced
            totalOut += produced
            totalIn += availableBefore - Int(stream.pointee.avail_in)

            if totalOut > limit {
                throw DecompressionError(
                    .limitExceeded,
                    "decompressed data exceeds the limit of \(limit) bytes after \(totalIn) compressed bytes; "
                        + "refused (the input may be a decompression bomb)")
            }
            switch status {
            case Z_STREAM_END:
                isFinished = true
                return
            case Z_OK:
                // More input to use or more output pending: go round again.
                if stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0 { continue }
                return
            case Z_BUF_ERROR:
                // No progress possible: either all input is used (wait for more) or the output space was zero.
                if stream.pointee.avail_in == 0 { return }
                continue
            case Z_DATA_ERROR:
                throw DecompressionError(
                    .corrupt, "compressed data is corrupt after \(totalIn) bytes: \(zlibMessage())")
            case Z_NEED_DICT:
                throw DecompressionError(
                    .corrupt, "compressed data asks for a preset dictionary, which Colony never uses")
            case Z_MEM_ERROR:
                throw DecompressionError(.libraryFailure, "zlib ran out of memory while decompressing")
            default:
                throw DecompressionError(
                    .libraryFailure, "zlib inflate failed with code \(status): \(zlibMessage())")
            }
        }
    }

    private func zlibMessage() -> String {
        guard let message = stream.pointee.msg else { return "no reason given" }
        return String(cString: message)
    }
}

/// A growing byte buffer handed to zlib as output space, capped so it never holds more than it is allowed to.
private struct OutputBuffer: ~Copyable {
    private var base: UnsafeMutableRawPointer?
    private var capacity = 0
    var count = 0
    private(set) var largestCapacity = 0

    /// 64 KiB: large enough that zlib runs long between calls, small enough to waste little on short outputs.
    private static let initialCapacity = 64 * 1024

    deinit {
        free(base)
    }

    /// Free space after `count`, growing the buffer (doubling) but never past `count + allowance` bytes in total;
    /// nil when memory runs out.
    mutating func reserve(upTo allowance: Int) -> UnsafeMutableRawBufferPointer? {
        let ceiling = count + allowance
        if count == capacity {
            let wanted = min(max(capacity * 2, Self.initialCapacity), ceiling)
            guard let grown = realloc(base, wanted) else { return nil }
            base = grown
            capacity = wanted
            largestCapacity = max(largestCapacity, capacity)
        }
        let room = min(capacity, ceiling) - count
        // zlib counts output space in 32-bit units.
        return UnsafeMutableRawBufferPointer(start: base! + count, count: min(room, Int(UInt32.max)))
    }

    /// The bytes written so far, handed over without a copy; the buffer is empty afterwards.
    mutating func take() -> Data {
        guard let filled = base, count > 0 else { return Data() }
        // Give back the unused tail; realloc shrinks in place on every allocator in use.
        let trimmed = realloc(filled, count) ?? filled
        let data = Data(bytesNoCopy: trimmed, count: count, deallocator: .free)
        base = nil
        capacity = 0
        count = 0
        return data
    }
}
