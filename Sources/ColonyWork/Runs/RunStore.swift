import ColonyCore
import Foundation

/// A `UnitStore` on disk, one folder per piece of work under the data directory's `runs/`:
///
///     runs/<workID>/unit-000042.out    the output of a finished unit
///     runs/<workID>/unit-000042.ckpt   the last checkpoint of an unfinished one
///
/// Every file is written atomically, so a crash leaves the previous version or the new one, never a torn file.
/// A store holds an exclusive lock on its folder while it exists, so two processes never work on the same run.
public final class RunStore: UnitStore {
    /// The folder holding this run's files.
    public let folder: URL
    private let lockDescriptor: Int32

    /// The store for `workID` in `dataDirectory`, created if needed. Throws `RunLockedError` when another
    /// store (in this process or another) has it open.
    public init(dataDirectory: DataDirectory, workID: String) throws {
        let runs = try dataDirectory.folder("runs")
        folder = runs.appendingPathComponent(workID, isDirectory: true)
        try AtomicFile.createFolder(folder, mode: 0o700)
        let lockPath = folder.appendingPathComponent("lock").path
        lockDescriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockDescriptor >= 0 else { throw FileSystemError(path: lockPath, action: "open", code: errno) }
        // flock locks belong to the open file, so a second store in the same process is refused too.
        guard flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(lockDescriptor)
            throw RunLockedError(folder: folder.path)
        }
    }

    deinit {
        close(lockDescriptor)
    }

    public func output(unit: Int) throws -> Data? {
        try AtomicFile.read(file(unit, "out"))
    }

    public func checkpoint(unit: Int) throws -> Data? {
        try AtomicFile.read(file(unit, "ckpt"))
    }

    public func saveOutput(_ output: Data, unit: Int) throws {
        try AtomicFile.write(output, to: file(unit, "out"), mode: 0o600)
        let checkpoint = file(unit, "ckpt").path
        if unlink(checkpoint) != 0, errno != ENOENT {
            throw FileSystemError(path: checkpoint, action: "remove", code: errno)
        }
    }

    public func saveCheckpoint(_ checkpoint: Data, unit: Int) throws {
        try AtomicFile.write(checkpoint, to: file(unit, "ckpt"), mode: 0o600)
    }

    /// How many units have a stored output and how many a checkpoint.
    public func counts() -> (outputs: Int, checkpoints: Int) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return (names.filter { $0.hasSuffix(".out") }.count, names.filter { $0.hasSuffix(".ckpt") }.count)
    }

    /// Deletes the run's folder: called once the job's result has been assembled.
    public func remove() throws(FileSystemError) {
        do {
            try FileManager.default.removeItem(at: folder)
        } catch {
            throw FileSystemError(path: folder.path, action: "remove", code: 0)
        }
    }

    private func file(_ unit: Int, _ suffix: String) -> URL {
        let number = String(unit)
        let padded = String(repeating: "0", count: max(0, 6 - number.count)) + number
        return folder.appendingPathComponent("unit-\(padded).\(suffix)")
    }
}

/// Another process (or store) is working on the same run.
public struct RunLockedError: Error, CustomStringConvertible, Sendable {
    /// The run's folder.
    public var folder: String

    public var description: String {
        "another colony process is already computing this job (its state is in \(folder)); wait for it or stop it"
    }
}
