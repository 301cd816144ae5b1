#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file-system call that failed: names the path, what was being done, and the system's reason.
public struct FileSystemError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file or folder involved.
    public var path: String
    /// What was being done: "create", "write", "rename to …".
    public var action: String
    /// The `errno` value, or 0 when the failure was not a system call's.
    public var code: Int32

    /// An error for `action` on `path` that failed with `errno` `code`.
    public init(path: String, action: String, code: Int32) {
        self.path = path
        self.action = action
        self.code = code
    }

    /// The error for the current `errno`.
    static func last(path: String, action: String) -> FileSystemError {
        FileSystemError(path: path, action: action, code: errno)
    }

    public var description: String {
        let reason = code == 0 ? "failed" : String(cString: strerror(code))
        return "\(path): cannot \(action): \(reason)"
    }
}
