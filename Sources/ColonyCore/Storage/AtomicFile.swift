import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files so that a crash or `kill -9` at any moment leaves either the old content or the new, never a
/// torn mix: write a temporary file beside the target, fsync it, rename it over the target, fsync the folder.
public enum AtomicFile {
    /// Replaces the file at `url` with `data`, atomically and durably; the file gets permission `mode`.
    public static func write(_ data: Data, to url: URL, mode: mode_t = 0o644) throws(FileSystemError) {
        let path = url.path
        let folder = url.deletingLastPathComponent().path
        let temporary = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw FileSystemError.last(path: temporary, action: "create") }
        var closed = false
        defer {
            if !closed { close(descriptor) }
        }
        do throws(FileSystemError) {
            // The umask may have removed bits from `mode`; a key file must end up exactly 0600.
            guard fchmod(descriptor, mode) == 0 else { throw FileSystemError.last(path: temporary, action: "chmod") }
            try writeAll(data, to: descriptor, path: temporary)
            guard fsync(descriptor) == 0 else { throw FileSystemError.last(path: temporary, action: "fsync") }
            closed = true
            guard close(descriptor) == 0 else { throw FileSystemError.last(path: temporary, action: "close") }
            guard rename(temporary, path) == 0 else {
                throw FileSystemError.last(path: temporary, action: "rename to \(path)")
            }
        } catch {
            unlink(temporary)
            throw error
        }
        syncFolder(folder)
    }

    /// Reads the whole file at `url`, or nil when it does not exist.
    public static func read(_ url: URL) throws(FileSystemError) -> Data? {
        do {
            return try Data(contentsOf: url)
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile {
            return nil
        } catch {
            let code = (error as NSError).userInfo[NSUnderlyingErrorKey].flatMap { ($0 as? NSError)?.code }
            throw FileSystemError(path: url.path, action: "read", code: Int32(code ?? 0))
        }
    }

    /// Creates `url` and any missing parents with permission `mode`.
    public static func createFolder(_ url: URL, mode: mode_t = 0o755) throws(FileSystemError) {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                throw FileSystemError(path: url.path, action: "use as a folder (it is a file)", code: ENOTDIR)
            }
            return
        }
        do {
            try FileManager.default.createDirectory(
                at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: Int(mode)])
        } catch {
            let code = (error as NSError).userInfo[NSUnderlyingErrorKey].flatMap { ($0 as? NSError)?.code }
            throw FileSystemError(path: url.path, action: "create folder", code: Int32(code ?? 0))
        }
    }

    private static func writeAll(_ data: Data, to descriptor: Int32, path: String) throws(FileSystemError) {
        if let code = FileDescriptorWrite.all(data, to: descriptor) {
            throw FileSystemError(path: path, action: "write", code: code)
        }
    }

    /// Makes the rename itself durable. Best effort: some file systems refuse fsync on folders.
    private static func syncFolder(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }
}
