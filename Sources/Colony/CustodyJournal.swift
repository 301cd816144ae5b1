import ColonyBlobs
import ColonyCore
import ColonyWork
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Custody records on disk (DESIGN.md, Data directory: a `kill -9` loses nothing acknowledged to another peer).
///
///     custody/<job>.root   the job's manifest root (hex), written atomically when the job is first kept
///     custody/<job>.learned the same, for a job known only for this peer's worker: removed when it is forgotten
///     custody/<job>.<shard>.signed the set change this custodian signed last for the shard (bencoded)
///     custody/<job>.failures the failed checks found in shards of the job this peer does not keep (gathered, see
///                          `ColonyPeer.adoptFailures`), bencoded: a list of [shard, [[worker, [time…]]…]], rewritten
///                          atomically whole
///     custody/<job>.log    the job's records and custodian set changes, appended: 4-byte big-endian length,
///                          then the bencoded record or change
///
/// A record is appended and the file synced before the request that brought it is answered. Appends from
/// concurrent requests share one sync (group commit): a request waits until a sync covering its bytes is done.
/// A process killed mid-append leaves a short last entry, which loading cuts off.
final class CustodyJournal: @unchecked Sendable {
    /// The largest record a log entry may hold: a frame's payload (reveals carry outputs).
    static let maximumEntry = 16 << 20

    let folder: URL
    private let condition = NSCondition()
    private var files: [JobID: Int32] = [:]
    /// Bytes appended (all jobs) and bytes known synced; a request waits until `synced` reaches its end.
    private var appended = 0
    private var synced = 0
    private var syncing = false
    private var unsynced: Set<Int32> = []
    /// Descriptors a group commit is syncing right now (outside the lock): never closed meanwhile.
    private var inSync: Set<Int32> = []

    init(folder: URL) throws {
        self.folder = folder
        try AtomicFile.createFolder(folder, mode: 0o700)
    }

    deinit {
        for descriptor in files.values { close(descriptor) }
    }

    private func path(_ job: JobID, _ suffix: String) -> String { folder.appendingPathComponent(job.hex + suffix).path }

    /// Remembers where a job's manifest is (once per job). `learned`: a job this peer only knows of for its worker,
    /// which it forgets once the worker is done with it (`forget`); a job kept otherwise is remembered for good, also
    /// when it was learned first.
    func remember(_ job: JobID, root: BlobID, learned: Bool = false) throws {
        let kept = URL(fileURLWithPath: path(job, ".root"))
        let learnedFile = URL(fileURLWithPath: path(job, ".learned"))
        if FileManager.default.fileExists(atPath: kept.path) { return }
        if learned {
            if FileManager.default.fileExists(atPath: learnedFile.path) { return }
            try AtomicFile.write(Data(root.root.hex.utf8), to: learnedFile, mode: 0o600)
        } else {
            try AtomicFile.write(Data(root.root.hex.utf8), to: kept, mode: 0o600)
            try? FileManager.default.removeItem(at: learnedFile)
        }
    }

    /// Remembers the set change this custodian signed last for a shard (proposed or co-signed), on disk before the
    /// signature leaves this peer: it signs one change per epoch, and a restart must not make it sign another
    /// (two changes to one epoch, each with a majority, would fork the shard's authority).
    func rememberSigned(_ change: CustodySetChange) throws {
        let url = URL(fileURLWithPath: path(change.job, ".\(change.shard).signed"))
        try AtomicFile.write(Data(change.encoded()), to: url, mode: 0o600)
    }

    /// Serializes `rememberFailures`, reading the state and writing it in one step.
    private let failuresLock = NSLock()

    /// Writes the failures `current` gives (per shard of `job`, per worker, the lease times of its failed checks),
    /// read under this journal's lock so that two writers do not write each other's out; nothing when it gives nil.
    func rememberFailures(of job: JobID, _ current: () -> [Int: [Ed25519PublicKey: [Int64]]]?) throws {
        failuresLock.lock()
        defer { failuresLock.unlock() }
        guard let failures = current() else { return }
        let value = BencodeValue.list(
            failures.sorted { $0.key < $1.key }.map { shard, workers in
                .list([
                    .integer(Int64(shard)),
                    .list(
                        workers.sorted { $0.key.rawRepresentation.lexicographicallyPrecedes($1.key.rawRepresentation) }.map { worker, times in
                            .list([.bytes([UInt8](worker.rawRepresentation)), .list(times.map { .integer($0) })])
                        }),
                ])
            })
        try AtomicFile.write(Data(value.encoded()), to: URL(fileURLWithPath: path(job, ".failures")), mode: 0o600)
    }

    /// Reads what `rememberFailures` wrote for `job`: nil when nothing, or nothing that decodes.
    static func failures(in bytes: [UInt8]) -> [Int: [Ed25519PublicKey: [Int64]]]? {
        guard bytes.count <= maximumEntry, let shards = (try? BencodeDecoder(limits: .frame).decode(bytes))?.list else { return nil }
        var failures: [Int: [Ed25519PublicKey: [Int64]]] = [:]
        for entry in shards {
            guard let shard = entry[0]?.integer, let workers = entry[1]?.list else { return nil }
            var found: [Ed25519PublicKey: [Int64]] = [:]
            for worker in workers {
                guard let bytes = worker[0]?.bytes, let key = try? Ed25519PublicKey(rawRepresentation: bytes),
                    let times = worker[1]?.list?.compactMap(\.integer)
                else { return nil }
                found[key] = times
            }
            failures[Int(shard)] = found
        }
        return failures
    }

    /// Forgets a job remembered as `learned`: its root file and any log. A job remembered as kept stays.
    func forget(_ job: JobID) {
        condition.lock()
        defer { condition.unlock() }
        guard !FileManager.default.fileExists(atPath: path(job, ".root")) else { return }
        if let descriptor = files[job] {
            // A log waiting for a sync stays: the job has records after all.
            guard !unsynced.contains(descriptor), !inSync.contains(descriptor) else { return }
            close(descriptor)
            files[job] = nil
        }
        unlink(path(job, ".learned"))
        unlink(path(job, ".log"))
        unlink(path(job, ".failures"))
    }

    /// Appends records and set changes and returns once they are on disk.
    func append(_ records: [CustodyRecord], changes: [CustodySetChange] = []) throws {
        guard !records.isEmpty || !changes.isEmpty else { return }
        let entries = records.map { ($0.job, $0.encoded()) } + changes.map { ($0.job, $0.encoded()) }
        let byJob = Dictionary(grouping: entries, by: \.0)
        var end = 0
        condition.lock()
        do {
            for (job, entries) in byJob {
                let descriptor = try file(job)
                var bytes: [UInt8] = []
                for (_, encoded) in entries {
                    let length = UInt32(encoded.count)
                    bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
                    bytes += encoded
                }
                try Self.writeAll(bytes, to: descriptor, path: path(job, ".log"))
                unsynced.insert(descriptor)
                appended += bytes.count
            }
            end = appended
        } catch {
            condition.unlock()
            throw error
        }
        // Group commit: one thread syncs every file written so far while the others wait for it.
        while synced < end {
            if syncing {
                condition.wait()
                continue
            }
            syncing = true
            let descriptors = unsynced
            unsynced = []
            inSync = descriptors
            let target = appended
            condition.unlock()
            var failure: Int32 = 0
            for descriptor in descriptors where fsync(descriptor) != 0 { failure = errno }
            condition.lock()
            syncing = false
            inSync = []
            if failure == 0 { synced = max(synced, target) } else { unsynced.formUnion(descriptors) }
            condition.broadcast()
            if failure != 0 {
                condition.unlock()
                throw FileSystemError(path: folder.path, action: "sync custody records", code: failure)
            }
        }
        condition.unlock()
    }

    /// Logs kept open at once; past this, the others are closed (after a sync) and reopened when next written.
    static let openLimit = 64

    private func file(_ job: JobID) throws -> Int32 {
        if let descriptor = files[job] { return descriptor }
        if files.count >= Self.openLimit { closeIdleFiles() }
        let descriptor = open(path(job, ".log"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FileSystemError(path: path(job, ".log"), action: "open", code: errno) }
        files[job] = descriptor
        return descriptor
    }

    /// Closes every open log not waiting for or in a sync (called under the lock; a log with unsynced bytes
    /// stays open until the group commit that covers them).
    private func closeIdleFiles() {
        for (job, descriptor) in files where !unsynced.contains(descriptor) && !inSync.contains(descriptor) {
            close(descriptor)
            files[job] = nil
        }
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FileSystemError(path: path, action: "append to", code: errno)
                }
                offset += written
            }
        }
    }

    /// What loading found: each job's manifest root and records, and what could not be used.
    struct Loaded {
        var jobs: [(job: JobID, root: BlobID, learned: Bool, records: [CustodyRecord], changes: [CustodySetChange])] = []
        /// The set change this custodian signed last, per shard (`rememberSigned`).
        var signed: [CustodySetChange] = []
        var problems: [String] = []
        /// Per job, the failures found in shards it does not keep (`rememberFailures`).
        var failures: [JobID: [Int: [Ed25519PublicKey: [Int64]]]] = [:]
    }

    /// Reads every job's root and records. A short or oversized last entry (a write cut off by a crash) is cut
    /// from the file; an entry that does not decode is skipped and named.
    func load() -> Loaded {
        var loaded = Loaded()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names.sorted() where name.hasSuffix(".signed") {
            let path = folder.appendingPathComponent(name).path
            guard let data = FileManager.default.contents(atPath: path), data.count <= Self.maximumEntry,
                let value = try? BencodeDecoder(limits: .frame).decode([UInt8](data)), let change = try? CustodySetChange(value),
                name == change.job.hex + ".\(change.shard).signed"
            else {
                loaded.problems.append("\(path): not a set change this custodian signed; ignored")
                continue
            }
            loaded.signed.append(change)
        }
        let kept = Set(names.filter { $0.hasSuffix(".root") }.map { $0.dropLast(5) })
        for name in names.sorted() where name.hasSuffix(".root") || name.hasSuffix(".learned") {
            let learned = name.hasSuffix(".learned")
            let hex = String(name.dropLast(learned ? 8 : 5))
            // Written as learned, then kept: the kept file says so (a crash between the two writes).
            if learned, kept.contains(Substring(hex)) { continue }
            guard let job = try? JobID(hex: hex),
                let text = try? String(contentsOfFile: folder.appendingPathComponent(name).path, encoding: .utf8),
                let root = try? SHA256Digest(hex: text.trimmingCharacters(in: .whitespacesAndNewlines))
            else {
                loaded.problems.append("\(folder.appendingPathComponent(name).path): not a job's manifest root; ignored")
                continue
            }
            let (records, changes, problems) = readLog(path(job, ".log"))
            loaded.problems += problems
            loaded.jobs.append((job, BlobID(root: root), learned, records, changes))
            let failuresPath = path(job, ".failures")
            if let data = FileManager.default.contents(atPath: failuresPath) {
                if let failures = Self.failures(in: [UInt8](data)) {
                    loaded.failures[job] = failures
                } else {
                    loaded.problems.append("\(failuresPath): not the failed checks of a job's shards; ignored (gathered again when told)")
                }
            }
        }
        return loaded
    }

    private func readLog(_ path: String) -> ([CustodyRecord], [CustodySetChange], [String]) {
        guard let data = FileManager.default.contents(atPath: path) else { return ([], [], []) }
        let bytes = [UInt8](data)
        var records: [CustodyRecord] = []
        var changes: [CustodySetChange] = []
        var problems: [String] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { break }
            let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            guard length <= Self.maximumEntry, bytes.count - offset - 4 >= length else { break }
            let entry = Array(bytes[offset + 4..<offset + 4 + length])
            offset += 4 + length
            do {
                let value = try BencodeDecoder(limits: .frame).decode(entry)
                if value["k"]?.string == "custodians" {
                    changes.append(try CustodySetChange(value))
                } else {
                    records.append(try CustodyRecord(value))
                }
            } catch {
                problems.append("\(path): an entry at byte \(offset - length - 4) does not decode (\(error)); skipped")
            }
        }
        if offset < bytes.count {
            problems.append("\(path): cut \(bytes.count - offset) bytes of an unfinished last entry")
            truncate(path, off_t(offset))
        }
        return (records, changes, problems)
    }
}
