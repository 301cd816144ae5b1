import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes a PNG file row by row, so an image assembled from bands (say 4096×4096 from 64 work units) never has to
/// be in memory whole: the writer holds two rows and up to 64 KiB of compressed data.
///
/// The file appears at `url` only when `finish()` succeeds: rows go to a temporary file beside it, which is synced
/// and renamed over `url` at the end, and removed if the writer is dropped unfinished. Not `Sendable`: use one
/// writer from one thread (or actor) at a time.
public final class PNGFileWriter {
    /// Where the finished file goes.
    public let url: URL
    /// Image width in pixels.
    public let width: Int
    /// Image height in pixels.
    public let height: Int
    /// The pixel layout.
    public let colorType: PNGColorType
    /// Bytes in one row: `width × colorType.bytesPerPixel`.
    public var rowBytes: Int { encoder.rowBytes }
    /// Rows written so far.
    public var rowsWritten: Int { encoder.rowsWritten }

    private let encoder: PNGEncoder
    private let temporaryPath: String
    private var descriptor: Int32
    private var failure: PNGError?
    private var isFinished = false

    /// Starts `url` as a `width` × `height` image of `colorType` pixels; throws on bad dimensions or when the
    /// folder cannot be written.
    public init(
        url: URL, width: Int, height: Int, colorType: PNGColorType, filter: PNGFilter = .adaptive,
        compressionLevel: Int = 6
    ) throws(PNGError) {
        encoder = try PNGEncoder(
            width: width, height: height, colorType: colorType, filter: filter, compressionLevel: compressionLevel)
        self.url = url
        self.width = width
        self.height = height
        self.colorType = colorType
        let folder = url.deletingLastPathComponent().path
        temporaryPath = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw PNGError(.fileSystem, FileSystemError(path: temporaryPath, action: "create", code: errno).description)
        }
        try store(encoder.header())
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
        if !isFinished { unlink(temporaryPath) }
    }

    /// Adds the next row: exactly `rowBytes` bytes, top row first.
    public func append(row: some DataProtocol) throws(PNGError) {
        try check()
        guard row.count == rowBytes else {
            throw PNGError(
                .invalidPixelCount,
                "\(url.lastPathComponent): row \(rowsWritten) has \(row.count) bytes; a \(width)-pixel "
                    + "\(colorType) row needs \(rowBytes) (width × \(colorType.bytesPerPixel))")
        }
        try append(contiguous: row, rowCount: 1)
    }

    /// Adds several consecutive rows given as one buffer of `n × rowBytes` bytes, such as a band of the image.
    public func append(rows: some DataProtocol) throws(PNGError) {
        try check()
        guard rows.count % rowBytes == 0 else {
            throw PNGError(
                .invalidPixelCount,
                "\(url.lastPathComponent): \(rows.count) bytes of rows is not a whole number of \(rowBytes)-byte "
                    + "rows (\(width) \(colorType) pixels each)")
        }
        let count = rows.count / rowBytes
        guard count <= height - rowsWritten else {
            throw PNGError(
                .wrongRowCount,
                "\(url.lastPathComponent): \(count) more rows would make \(rowsWritten + count); the image is "
                    + "\(height) rows high")
        }
        try append(contiguous: rows, rowCount: count)
    }

    /// Writes the end of the image, syncs the file and moves it to `url`. Throws unless all rows were written.
    public func finish() throws(PNGError) {
        try check()
        do throws(PNGError) {
            try store(encoder.finish())
            guard fsync(descriptor) == 0 else { throw systemError("fsync", temporaryPath) }
            let closing = descriptor
            descriptor = -1
            guard close(closing) == 0 else { throw systemError("close", temporaryPath) }
            guard rename(temporaryPath, url.path) == 0 else {
                throw systemError("rename to \(url.path)", temporaryPath)
            }
            isFinished = true
            syncFolder()
        } catch {
            if error.code != .wrongRowCount { failure = error }
            throw error
        }
    }

    private func check() throws(PNGError) {
        if let failure { throw failure }
        guard !isFinished else {
            throw PNGError(.misuse, "\(url.lastPathComponent) is finished already; start a new writer")
        }
    }

    private func append(contiguous rows: some DataProtocol, rowCount: Int) throws(PNGError) {
        let result = rows.withContiguousBytes { raw in
            Result { () throws(PNGError) in
                for index in 0..<rowCount {
                    let start = index * rowBytes
                    let row = UnsafeRawBufferPointer(rebasing: raw[start..<(start + rowBytes)])
                    try store(encoder.append(row: row))
                }
            }
        }
        do {
            try result.get()
        } catch {
            // A write that failed halfway leaves the file unusable; a row-count mistake does not.
            if error.code == .fileSystem { failure = error }
            throw error
        }
    }

    private func store(_ data: Data) throws(PNGError) {
        let failed = FileDescriptorWrite.all(data, to: descriptor)
        if let failed {
            let error = PNGError(
                .fileSystem, FileSystemError(path: temporaryPath, action: "write", code: failed).description)
            failure = error
            throw error
        }
    }

    /// Makes the rename durable. Best effort: some file systems refuse fsync on folders.
    private func syncFolder() {
        let folder = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else { return }
        _ = fsync(folder)
        close(folder)
    }

    private func systemError(_ action: String, _ path: String) -> PNGError {
        PNGError(.fileSystem, FileSystemError(path: path, action: action, code: errno).description)
    }
}
