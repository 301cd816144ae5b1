import ColonyCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a store's folder when it is opened: every manifest that verifies becomes a blob, every chunk file is
/// counted, and what a crash or an outside edit left behind is repaired (each repair described for the log).
struct BlobStoreLoader {
    let layout: BlobStoreLayout
    /// The time of opening, for the age of leftovers.
    let now: Date

    /// Fills `state` from disk and returns the repairs made.
    func load(into state: inout BlobStoreState) -> [String] {
        var repairs: [String] = []
        sweepTemporaryFiles(in: layout.manifests, repairs: &repairs)
        sweepTemporaryFiles(in: layout.states, repairs: &repairs)
        loadManifests(into: &state, repairs: &repairs)
        loadChunks(into: &state, repairs: &repairs)
        for (id, record) in state.blobs {
            let complete = state.allStored(record.manifest)
            if record.complete && !complete {
                repairs.append(
                    "blob \(id.hex) lacks \(state.missing(record.manifest).count) chunks; it is partial again")
            }
            state.blobs[id]?.complete = complete
            try? state.save(id)
        }
        return repairs
    }

    /// The state record at `path`, or nil when it is missing or damaged.
    static func readSaved(_ path: String) -> BlobStateRecord? {
        guard let bytes = try? InputFile.readAll(path: path, limit: 1024) else { return nil }
        return BlobStateRecord(decoding: bytes)
    }

    private func loadManifests(into state: inout BlobStoreState, repairs: inout [String]) {
        for name in names(in: layout.manifests) {
            guard let id = BlobID(hex: name), id.hex == name else { continue }
            let path = layout.manifestPath(id)
            do {
                guard let bytes = try InputFile.readAll(path: path, limit: BlobManifest.maximumEncodedCount) else {
                    continue
                }
                let manifest = try BlobManifest.decode(bytes, expectedRoot: id.root)
                // A blob whose state is lost stays pinned: better to keep it than to evict what a user pinned.
                let saved =
                    Self.readSaved(layout.statePath(id))
                    ?? BlobStateRecord(pinned: true, complete: false, lastAccess: Int64(now.timeIntervalSince1970))
                state.register(manifest, saved: saved, probeDisk: false)
            } catch {
                unlink(path)
                unlink(layout.statePath(id))
                repairs.append("removed blob \(id.hex): \(error.message)")
            }
        }
        for name in names(in: layout.states) {
            guard let id = BlobID(hex: name), id.hex == name, state.blobs[id] == nil else { continue }
            unlink(layout.statePath(id))
        }
    }

    /// Counts every chunk file some manifest lists and sweeps the rest once they are old enough.
    private func loadChunks(into state: inout BlobStoreState, repairs: inout [String]) {
        var orphans = 0
        for outer in names(in: layout.chunks) where isFanOut(outer) {
            for inner in names(in: layout.chunks + "/" + outer) where isFanOut(inner) {
                let folder = layout.chunks + "/" + outer + "/" + inner
                sweepTemporaryFiles(in: folder, repairs: &repairs)
                for name in names(in: folder) {
                    guard let hash = try? SHA256Digest(hex: name), hash.hex == name,
                        name.hasPrefix(outer + inner)
                    else { continue }
                    let path = folder + "/" + name
                    guard let size = BlobStoreState.fileSize(path) else { continue }
                    if var entry = state.chunks[hash] {
                        entry.storedSize = size
                        state.chunks[hash] = entry
                        state.storedBytes += Int64(size)
                    } else if isOld(path) {
                        unlink(path)
                        orphans += 1
                    }
                }
            }
        }
        if orphans > 0 { repairs.append("deleted \(orphans) chunks that no blob lists (left by interrupted puts)") }
    }

    private func sweepTemporaryFiles(in folder: String, repairs: inout [String]) {
        for name in names(in: folder) where name.hasPrefix(".") && isOld(folder + "/" + name) {
            unlink(folder + "/" + name)
            repairs.append("deleted the leftover temporary file \(folder)/\(name)")
        }
    }

    private func names(in folder: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    }

    private func isFanOut(_ name: String) -> Bool {
        name.utf8.count == 2 && name.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Whether `path` was last modified longer than `BlobStore.sweepAge` ago.
    private func isOld(_ path: String) -> Bool {
        var status = stat()
        guard stat(path, &status) == 0 else { return false }
        return now.timeIntervalSince1970 - Double(status.st_mtim.tv_sec) > BlobStore.sweepAge
    }
}
