import ColonyCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written piece by piece beside its target and renamed over it only when complete and fsynced, so a
/// crash leaves the old file or the new one, never a torn one; memory does not grow with the file's size.
///
/// Not `AtomicFile.write`: that takes the whole content as one `Data`, and chunks and exports are streamed.
struct TemporaryFile: ~Copyable {
    /// The file the content replaces on `commit()`.
    let target: String
    /// The temporary file being written, beside `target`.
    let path: String
    private var descriptor: Int32

    /// The prefix of every temporary file name, so that the store can recognise and sweep leftovers.
    static let namePrefix = ".tmp-"

    /// Creates an empty temporary file in `target`'s folder.
    init(target: String) throws(BlobStoreError) {
        self.target = target
        let folder = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        path = folder + "/" + Self.namePrefix + "\(getpid())-\(UInt32.random(in: 0 ... .max))-" + name
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Self.failure(path, "create") }
    }

    deinit {
        if descriptor >= 0 {
            close(descriptor)
            unlink(path)
        }
    }

    /// Appends `bytes`.
    func write(_ bytes: UnsafeRawBufferPointer) throws(BlobStoreError) {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.failure(path, "write")
            }
            offset += written
        }
    }

    /// Renames the file over the target once complete. When `durable`, the content and the folder are fsynced
    /// first so the rename survives a power loss too. The file is finished afterwards: further writes fail.
    mutating func commit(durable: Bool = true) throws(BlobStoreError) {
        let descriptor = self.descriptor
        // From here on this function, not `deinit`, closes or removes the temporary file.
        self.descriptor = -1
        guard !durable || fsync(descriptor) == 0 else {
            let error = Self.failure(path, "fsync")
            close(descriptor)
            unlink(path)
            throw error
        }
        guard close(descriptor) == 0 else {
            let error = Self.failure(path, "close")
            unlink(path)
            throw error
        }
        guard rename(path, target) == 0 else {
            let error = Self.failure(path, "rename to \(target)")
            unlink(path)
            throw error
        }
        if durable { Self.syncFolder((target as NSString).deletingLastPathComponent) }
    }

    /// Makes the rename of a file in `folder` durable. Best effort: some file systems refuse fsync on folders.
    static func syncFolder(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    /// The store's error for a failed system call on `path`, with the current `errno`.
    static func failure(_ path: String, _ action: String) -> BlobStoreError {
        let cause = FileSystemError(path: path, action: action, code: errno)
        return BlobStoreError(.fileSystem, "\(cause) (check free space and the permissions of the folder)")
    }
}
