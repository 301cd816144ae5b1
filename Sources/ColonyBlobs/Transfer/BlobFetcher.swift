import ColonyCore
import ColonyNet
import Foundation

/// How far a fetch has come.
public struct FetchProgress: Sendable {
    /// Bytes verified and written, including chunks already present when the fetch began.
    public var bytesDone: Int64
    /// The blob's size.
    public var bytesTotal: Int64
    /// Holders currently sending.
    public var activeHolders: Int
    /// Seconds since the fetch began.
    public var seconds: Double
}

/// What a finished fetch did.
public struct FetchReport: Sendable {
    /// The blob.
    public var blob: BlobID
    /// Its size in bytes.
    public var size: Int64
    /// Chunks fetched now.
    public var chunksFetched: Int
    /// Chunks already in the store (a resumed fetch).
    public var chunksPresent: Int
    /// Chunks (and their bytes on the wire) each holder delivered.
    public var chunksByHolder: [Endpoint: Int]
    /// Holders dropped for sending bytes that did not match their hash, and why.
    public var badHolders: [Endpoint: String]
    /// Holders that could not be used (refused, unreachable, did not hold it).
    public var unusableHolders: [Endpoint: String]
    /// Bytes received on the wire (after compression).
    public var wireBytes: Int64
    /// Seconds taken.
    public var seconds: Double
}

/// A fetch that could not complete.
public struct FetchError: Error, CustomStringConvertible {
    /// Why a fetch failed.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// No holder gave the manifest, or chunks are still missing: fetching again may succeed.
        public static let unavailable = Code(rawValue: "unavailable")
        /// The blob is larger than the fetch's `maxSize`: refused before any chunk was asked for.
        public static let tooLarge = Code(rawValue: "too large")
    }

    /// Why it failed.
    public var code: Code
    /// What happened, naming the blob and the holders.
    public var description: String

    /// A failure of kind `code` described by `description`.
    public init(_ code: Code = .unavailable, description: String) {
        self.code = code
        self.description = description
    }
}

/// Fetches a blob from several holders at once over framed TCP: each chunk is verified against the manifest
/// before it is written, a holder that sends bad bytes is dropped for this fetch and named in the report, and
/// chunks already in the store are not fetched again (resume).
public final class BlobFetcher: @unchecked Sendable {
    /// The store chunks go into.
    public let store: BlobStore
    /// Requests kept in flight on each connection.
    public var requestsInFlight = 4
    /// Holders used at once.
    public var maxHolders = 8
    /// Connections to each holder: two let both peers hash one chunk while the next is on the wire.
    public var connectionsPerHolder = 2
    /// Seconds to wait for a connection and for each reply.
    public var timeout = 30.0
    /// Frame limits for replies.
    public var limits = FrameLimits()
    /// The local IPv4 address connections leave from (`FrameConnection.connect(to:from:…)`); nil lets the system
    /// choose. A peer serving on 127.0.N.1 sets it so that holders see its own address.
    public var localHost: String?

    /// A fetcher writing into `store`.
    public init(store: BlobStore) {
        self.store = store
    }

    /// Fetches `blob` from `holders` into the store; `progress` is called from worker threads, at most a few
    /// times a second.
    ///
    /// With `maxSize`, a blob whose manifest declares more bytes is refused (`FetchError.Code.tooLarge`) before any
    /// chunk is asked for or any of it is stored, and the manifest itself is read only when its frame is no larger
    /// than a manifest of a `maxSize` blob can be: a holder cannot make this peer take in more than it agreed to.
    public func fetch(
        _ blob: BlobID, from holders: [Endpoint], maxSize: Int64? = nil,
        progress: @escaping @Sendable (FetchProgress) -> Void = { _ in }
    ) throws -> FetchReport {
        let started = Date()
        var unusable: [Endpoint: String] = [:]
        var bad: [Endpoint: String] = [:]
        let manifest: BlobManifest
        if let known = try store.manifest(blob) {
            manifest = known
        } else {
            var found: BlobManifest?
            var oversized: [Endpoint: String] = [:]
            for holder in holders where found == nil {
                do {
                    found = try fetchManifest(blob, from: holder, maxSize: maxSize)
                } catch let error as BadHolder {
                    bad[holder] = error.reason
                } catch let error as FrameTransportError where error.code == .payloadTooLarge && maxSize != nil {
                    oversized[holder] = "sent a manifest too large for a blob of at most \(maxSize!) bytes"
                } catch {
                    unusable[holder] = "\(error)"
                }
            }
            guard let found else {
                let everyone = unusable.merging(bad) { a, _ in a }.merging(oversized) { a, _ in a }
                let text = "no holder gave the manifest of \(blob.hex): " + Self.describe(everyone)
                throw FetchError(oversized.isEmpty ? .unavailable : .tooLarge, description: text)
            }
            manifest = found
        }
        if let maxSize, Int64(manifest.size) > maxSize {
            throw FetchError(
                .tooLarge,
                description: "blob \(blob.hex) is \(manifest.size) bytes by its manifest; this fetch takes at most "
                    + "\(maxSize); nothing of it was fetched")
        }
        try store.beginFetch(manifest)
        let missing = store.missingChunks(of: manifest)
        let state = FetchState(manifest: manifest, missing: missing, started: started, progress: progress)
        let usable = holders.filter { bad[$0] == nil && unusable[$0] == nil }
        let group = DispatchGroup()
        let workers = usable.prefix(maxHolders).flatMap { Array(repeating: $0, count: connectionsPerHolder) }
        for holder in workers where !missing.isEmpty {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                self.work(holder, state: state)
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        let report = state.withLock { state in
            FetchReport(
                blob: blob, size: Int64(manifest.size), chunksFetched: state.fetched, chunksPresent: manifest.chunkHashes.count - missing.count,
                chunksByHolder: state.byHolder, badHolders: bad.merging(state.bad) { a, _ in a },
                unusableHolders: unusable.merging(state.unusable) { a, _ in a }, wireBytes: state.wireBytes,
                seconds: Date().timeIntervalSince(started))
        }
        let left = store.missingChunks(of: manifest)
        guard left.isEmpty else {
            var text = "\(left.count) of \(manifest.chunkHashes.count) chunks of \(blob.hex) could not be fetched"
            if !report.badHolders.isEmpty { text += "; bad holders: " + Self.describe(report.badHolders) }
            if !report.unusableHolders.isEmpty { text += "; unusable: " + Self.describe(report.unusableHolders) }
            if holders.isEmpty { text += "; no holders known" }
            text += ". Fetching again resumes with the chunks already verified."
            throw FetchError(.unavailable, description: text)
        }
        try store.completeFetch(manifest.id)
        return report
    }

    static func describe(_ holders: [Endpoint: String]) -> String {
        holders.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
    }

    private struct BadHolder: Error {
        var reason: String
    }

    /// The largest encoded manifest of a blob of at most `maxSize` bytes: its most chunks (at the smallest chunk
    /// size) times 32 bytes of hash, plus the keys and integers.
    static func manifestBound(maxSize: Int64) -> Int {
        let chunks = BlobManifest.chunkCount(size: max(0, maxSize), chunkSize: BlobManifest.minimumChunkSize)
        let capped = min(chunks, Int64(BlobManifest.maximumChunkCount))
        return Int(capped) * SHA256Digest.byteCount + 128
    }

    private func fetchManifest(_ blob: BlobID, from holder: Endpoint, maxSize: Int64?) throws -> BlobManifest {
        var manifestLimits = limits
        if let maxSize { manifestLimits.maxPayload = min(limits.maxPayload, Self.manifestBound(maxSize: maxSize)) }
        let connection = try FrameConnection.connect(
            to: holder, from: localHost, timeout: timeout, limits: manifestLimits)
        defer { connection.close() }
        try connection.send(BlobWire.request("manifest", blob: blob))
        let reply = try connection.receive(timeout: timeout)
        if let error = BlobWire.errorText(reply) { throw FetchError(.unavailable, description: error) }
        do {
            return try BlobManifest.decode(reply.payload, expectedRoot: blob.root)
        } catch {
            throw BadHolder(reason: "sent a manifest that does not match \(blob.hex): \(error)")
        }
    }

    /// Writes a chunk; the store's error, or nil when it was verified and written.
    private func write(_ bytes: [UInt8], index: Int, of manifest: BlobManifest) -> BlobStoreError? {
        do {
            try store.writeChunk(bytes, index: index, of: manifest)
            return nil
        } catch {
            return error
        }
    }

    /// One holder's worker: keeps `requestsInFlight` chunk requests open, verifies and writes each reply.
    private func work(_ holder: Endpoint, state: FetchState) {
        let connection: FrameConnection
        do {
            connection = try FrameConnection.connect(to: holder, from: localHost, timeout: timeout, limits: limits)
        } catch {
            state.withLock { $0.unusable[holder] = "\(error)" }
            return
        }
        defer { connection.close() }
        state.withLock { $0.active += 1 }
        defer { state.withLock { $0.active -= 1 } }
        var inFlight: [Int] = []
        let manifest = state.manifest
        let blob = manifest.id
        while true {
            // Top up the pipeline.
            while inFlight.count < requestsInFlight, let index = state.take() {
                do {
                    try connection.send(BlobWire.request("chunk", blob: blob, extra: [("index", .integer(Int64(index)))]))
                    inFlight.append(index)
                } catch {
                    state.giveBack([index])
                    state.withLock { $0.unusable[holder] = "\(error)" }
                    state.giveBack(inFlight)
                    return
                }
            }
            if inFlight.isEmpty {
                // Nothing to ask for now; another worker may still give chunks back.
                if state.waitForWork() { continue }
                return
            }
            let index = inFlight.removeFirst()
            do {
                let reply = try connection.receive(timeout: timeout)
                if let error = BlobWire.errorText(reply) {
                    state.giveBack([index] + inFlight)
                    state.withLock { $0.unusable[holder] = error }
                    return
                }
                guard BlobWire.op(reply) == "chunk", reply.header["index"]?.integer == Int64(index) else {
                    throw BadHolder(reason: "answered chunk \(index) with something else")
                }
                let compressed = reply.header["z"]?.integer == 1
                let expected = manifest.chunkLength(at: index)
                let bytes: [UInt8]
                do {
                    bytes = try BlobWire.decodeChunk(reply.payload, compressed: compressed, limit: expected)
                } catch {
                    throw BadHolder(reason: "sent chunk \(index) that does not decompress: \(error)")
                }
                if let failure = write(bytes, index: index, of: manifest) {
                    guard failure.code == .chunkMismatch else { throw failure }
                    throw BadHolder(reason: "sent chunk \(index) whose SHA-256 does not match the manifest")
                }
                state.finished(index, bytes: bytes.count, wire: reply.payload.count, holder: holder)
            } catch let error as BadHolder {
                state.giveBack([index] + inFlight)
                state.withLock { $0.bad[holder] = error.reason }
                return
            } catch {
                state.giveBack([index] + inFlight)
                state.withLock { $0.unusable[holder] = "\(error)" }
                return
            }
        }
    }
}

/// The shared state of one fetch: the chunks left to ask for, who delivered what.
private final class FetchState: @unchecked Sendable {
    struct Fields {
        var queue: [Int]
        var outstanding = 0
        var fetched = 0
        var bytesDone: Int64
        var wireBytes: Int64 = 0
        var active = 0
        var byHolder: [Endpoint: Int] = [:]
        var bad: [Endpoint: String] = [:]
        var unusable: [Endpoint: String] = [:]
        var lastReport = Date.distantPast
    }

    let manifest: BlobManifest
    let started: Date
    let progress: @Sendable (FetchProgress) -> Void
    private let condition = NSCondition()
    private var fields: Fields

    init(manifest: BlobManifest, missing: [Int], started: Date, progress: @escaping @Sendable (FetchProgress) -> Void) {
        self.manifest = manifest
        self.started = started
        self.progress = progress
        let missingBytes = missing.reduce(Int64(0)) { $0 + Int64(manifest.chunkLength(at: $1)) }
        fields = Fields(queue: missing.reversed(), bytesDone: Int64(manifest.size) - missingBytes)
    }

    func withLock<T>(_ body: (inout Fields) -> T) -> T {
        condition.lock()
        defer { condition.unlock() }
        return body(&fields)
    }

    func take() -> Int? {
        withLock { fields in
            guard let index = fields.queue.popLast() else { return nil }
            fields.outstanding += 1
            return index
        }
    }

    func giveBack(_ indices: [Int]) {
        guard !indices.isEmpty else { return }
        condition.lock()
        fields.queue.append(contentsOf: indices)
        fields.outstanding -= indices.count
        condition.broadcast()
        condition.unlock()
    }

    /// Waits while other workers hold chunks that may come back; false when all is done or nothing can return.
    func waitForWork() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while fields.queue.isEmpty && fields.outstanding > 0 {
            condition.wait(until: Date().addingTimeInterval(1))
        }
        return !fields.queue.isEmpty
    }

    func finished(_ index: Int, bytes: Int, wire: Int, holder: Endpoint) {
        condition.lock()
        fields.outstanding -= 1
        fields.fetched += 1
        fields.bytesDone += Int64(bytes)
        fields.wireBytes += Int64(wire)
        fields.byHolder[holder, default: 0] += 1
        let now = Date()
        var report: FetchProgress?
        if now.timeIntervalSince(fields.lastReport) >= 0.2 || fields.queue.isEmpty && fields.outstanding == 0 {
            fields.lastReport = now
            report = FetchProgress(
                bytesDone: fields.bytesDone, bytesTotal: Int64(manifest.size), activeHolders: fields.active,
                seconds: now.timeIntervalSince(started))
        }
        condition.broadcast()
        condition.unlock()
        if let report { progress(report) }
    }
}
