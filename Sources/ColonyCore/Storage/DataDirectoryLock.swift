#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The claim of one process on a data directory: an exclusive `flock` on `DIR/lock`, held until the process exits
/// or `release` is called. Two processes on one data directory would share one identity and one node ID and write
/// the same routing table, blobs and custody journal; the second is refused with the holder's process ID and
/// command. The kernel drops the lock when the holder dies, even after `kill -9`, so a stale file never blocks.
public final class DataDirectoryLock: @unchecked Sendable {
    /// The lock file.
    public let url: URL
    private var descriptor: Int32

    /// The process holding a data directory.
    public struct Held: Error, CustomStringConvertible, Sendable {
        public var directory: String
        /// "pid 1234, colony worker", as the holder wrote it; empty when it wrote nothing readable.
        public var holder: String

        public var description: String {
            let who = holder.isEmpty ? "another process" : "another process (\(holder))"
            return "data directory \(directory) is in use by \(who); stop it, or give this command a data directory of its own with --data-dir"
        }
    }

    /// Takes the lock of `directory` for this process, describing it as `command` ("colony worker"). Throws
    /// `Held` when another process holds it, `FileSystemError` when the lock file cannot be opened.
    public static func acquire(_ directory: DataDirectory, command: String) throws -> DataDirectoryLock {
        try directory.create()
        let url = directory.url.appendingPathComponent("lock")
        let descriptor = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FileSystemError.last(path: url.path, action: "open the lock file") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.read(descriptor)
            close(descriptor)
            if code == EWOULDBLOCK { throw Held(directory: directory.url.path, holder: holder) }
            throw FileSystemError(path: url.path, action: "lock", code: code)
        }
        // Who holds it, for the next process to name: written only while holding the lock.
        let text = Array("pid \(getpid()), \(command)\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        return DataDirectoryLock(url: url, descriptor: descriptor)
    }

    private init(url: URL, descriptor: Int32) {
        self.url = url
        self.descriptor = descriptor
    }

    /// Gives the data directory up (also done when the process exits).
    public func release() {
        guard descriptor >= 0 else { return }
        _ = ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }

    /// The holder's line, at most 256 bytes of it.
    private static func read(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return "" }
        return String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
