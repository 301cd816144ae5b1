#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file opened for reading piece by piece, so that memory stays at one buffer however large the file is.
struct InputFile: ~Copyable {
    /// The file's path, for messages.
    let path: String
    /// The file's length in bytes when it was opened.
    let size: Int64
    private let descriptor: Int32

    /// Opens `path`; nil when there is no such file.
    init?(path: String) throws(BlobStoreError) {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw TemporaryFile.failure(path, "open for reading")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let error = TemporaryFile.failure(path, "stat")
            close(descriptor)
            throw error
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            close(descriptor)
            throw BlobStoreError(.fileSystem, "\(path) is not a regular file; give the path of a file")
        }
        size = Int64(status.st_size)
    }

    deinit {
        close(descriptor)
    }

    /// Fills `buffer` from the current position; returns fewer bytes than its size only at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(BlobStoreError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let count = Glibc.read(descriptor, buffer.baseAddress! + filled, buffer.count - filled)
            if count < 0 {
                if errno == EINTR { continue }
                throw TemporaryFile.failure(path, "read")
            }
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    /// The whole content of the file at `path`, or nil when there is none; throws when it is longer than `limit`,
    /// before reading it.
    static func readAll(path: String, limit: Int) throws(BlobStoreError) -> [UInt8]? {
        guard let file = try InputFile(path: path) else { return nil }
        guard file.size <= Int64(limit) else {
            throw BlobStoreError(
                .outOfBounds, "\(path) is \(file.size) bytes, more than the \(limit) expected; delete it")
        }
        let count = Int(file.size)
        var failure: BlobStoreError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(BlobStoreError) {
                initialized = try file.read(into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }
}
