import ColonyCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Length-prefixed frames over a pair of pipe descriptors: a 4-byte big-endian length, then a message.
///
/// The length is checked against `maxFrameBytes` before anything is allocated for the frame, so a host that
/// writes garbage costs the worker at most one frame's worth of memory.
final class KernelHostPipe: @unchecked Sendable {
    // Unchecked: one thread reads (and owns `buffer`) and at most one other writes, each on its own descriptor.
    /// The largest frame either side accepts, in bytes.
    let maxFrameBytes: Int
    private let readDescriptor: Int32
    private let writeDescriptor: Int32
    private var buffer = Data()
    /// Where `read` puts bytes, reused across calls: a fresh 64 KiB per wake-up cost more than the frame it read.
    private var chunk = [UInt8](repeating: 0, count: 65_536)

    init(read: Int32, write: Int32, maxFrameBytes: Int) {
        self.readDescriptor = read
        self.writeDescriptor = write
        self.maxFrameBytes = maxFrameBytes
    }

    /// Writes one message as a frame; throws when the other side has gone (EPIPE) or the message is too large.
    func send(_ message: KernelHostMessage) throws(KernelHostPipeError) {
        let body = message.encoded()
        guard body.count <= maxFrameBytes else {
            throw .tooLarge(body.count, limit: maxFrameBytes)
        }
        var frame = Data(capacity: body.count + 4)
        withUnsafeBytes(of: UInt32(body.count).bigEndian) { frame.append(contentsOf: $0) }
        frame.append(body)
        if let code = FileDescriptorWrite.all(frame, to: writeDescriptor) { throw .closed(errno: code) }
    }

    /// The next message, waiting at most `timeoutMilliseconds` (-1: forever) for bytes to arrive. Nil when the
    /// wait ended with no complete frame; throws `.closed` at end of file and `.tooLarge` or `.malformed` for bytes
    /// that break the protocol.
    func receive(timeoutMilliseconds: Int32) throws(KernelHostPipeError) -> KernelHostMessage? {
        if let message = try nextBufferedMessage() { return message }
        var descriptor = pollfd(fd: readDescriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMilliseconds)
        if ready < 0 {
            if errno == EINTR { return nil }
            throw .closed(errno: errno)
        }
        guard ready > 0 else { return nil }
        let count = chunk.withUnsafeMutableBytes { Glibc.read(readDescriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR || errno == EAGAIN { return nil }
            throw .closed(errno: errno)
        }
        guard count > 0 else { throw .closed(errno: 0) }
        buffer.append(contentsOf: chunk[0..<count])
        return try nextBufferedMessage()
    }

    private func nextBufferedMessage() throws(KernelHostPipeError) -> KernelHostMessage? {
        guard buffer.count >= 4 else { return nil }
        let start = buffer.startIndex
        let length = buffer[start..<(start + 4)].reduce(0) { $0 << 8 | Int($1) }
        guard length <= maxFrameBytes else { throw .tooLarge(length, limit: maxFrameBytes) }
        guard buffer.count >= 4 + length else { return nil }
        let body = buffer.subdata(in: (start + 4)..<(start + 4 + length))
        buffer.removeSubrange(start..<(start + 4 + length))
        do {
            return try KernelHostMessage(decoding: body)
        } catch {
            throw .malformed(error)
        }
    }
}

/// A kernel host pipe that cannot carry on.
enum KernelHostPipeError: Error, CustomStringConvertible {
    /// The other side closed its end (or the descriptor failed with `errno`).
    case closed(errno: Int32)
    /// A frame longer than the limit.
    case tooLarge(Int, limit: Int)
    /// A frame whose message cannot be read.
    case malformed(KernelHostProtocolError)

    var description: String {
        switch self {
        case .closed(let code):
            code == 0 ? "the pipe was closed" : "the pipe failed: \(String(cString: strerror(code)))"
        case .tooLarge(let size, let limit): "a frame of \(size) bytes is over the limit of \(limit)"
        case .malformed(let error): "\(error)"
        }
    }
}
