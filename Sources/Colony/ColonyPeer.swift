import ColonyBlobs
import ColonyCore
import ColonyDHT
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Synchronization

/// A Colony peer: a DHT node and blob server on one port number, the custody of the shards it is among the
/// closest nodes to, and the manifests of the jobs it knows (DESIGN.md, Layers: the embedding API). Workers,
/// publishers and collectors use a peer to reach the swarm. Several peers may live in one process, each with
/// its own data directory.
public final class ColonyPeer: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// The blob peer's configuration (DHT, replicas, rate limit).
        public var blobs = BlobPeer.Configuration()
        /// Custodians per shard (c).
        public var custodians = 3
        /// Seconds between anti-entropy rounds with the other custodians; nil turns them off.
        public var syncInterval: Double? = 10
        /// Kernels whose `equivalent` custody uses to compare outputs.
        public var registry = KernelRegistry([])
        /// Seconds a custody request may take.
        public var requestTimeout = 30.0
        /// Seconds a custodian lookup is reused.
        public var lookupLifetime = 20.0
        /// A peer for one command: a fresh DHT ID and no saved routing table, so that it never collides with a
        /// long-running peer on the same data directory.
        public var oneShot = false

        public init() {}
    }

    public let configuration: Configuration
    public let identity: Identity
    public let blobs: BlobPeer
    let custody: Mutex<Custodian>
    /// Reused connections to other peers.
    let pool: ConnectionPool
    /// Custody records and job roots on disk, read back on start.
    let journal: CustodyJournal
    let log: @Sendable (String) -> Void
    private let roots = Mutex<[JobID: BlobID]>([:])
    private let lookups = Mutex<[[UInt8]: (at: Date, endpoints: [Endpoint])]>([:])
    private let manifestLock = NSLock()
    let forwardQueue = DispatchQueue(label: "colony.custody.forward")
    private let syncQueue = DispatchQueue(label: "colony.custody.sync")
    private var syncTimer: (any DispatchSourceTimer)?
    private let requests = Mutex<[String: Int]>([:])
    /// Signatures of lease requests answered within the time window, by when.
    private let seenLeaseRequests = Mutex<[[UInt8]: Int64]>([:])
    private let running = Atomic<Bool>(false)
    /// Called (on a request's thread) whenever records are added to the custody state; set before `start`.
    public var onCustodyChange: (@Sendable () -> Void)?

    /// A peer whose identity, DHT state and blobs live in `dataDirectory`.
    public init(
        dataDirectory: URL, host: String = "127.0.0.1", port: UInt16 = 0, configuration: Configuration = .init(),
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws {
        self.configuration = configuration
        self.log = log
        let directory = DataDirectory(url: dataDirectory)
        try directory.create()
        identity = try Identity.loadOrCreate(in: directory)
        blobs = try BlobPeer(
            dataDirectory: dataDirectory, host: host, port: port, configuration: configuration.blobs,
            dhtStateFolder: configuration.oneShot ? .some(nil) : nil, log: log,
            id: configuration.oneShot ? .random() : nil)
        var custodian = Custodian(identity: identity)
        for kernel in configuration.registry.kernels {
            custodian.equivalence[kernel.name] = configuration.registry.outputEquivalence(kernel.name)
        }
        custody = Mutex(custodian)
        pool = ConnectionPool(timeout: configuration.requestTimeout)
        journal = try CustodyJournal(folder: directory.folder("custody"))
    }

    /// Reads back the jobs and custody records a previous run of this peer kept: each manifest from its pinned
    /// blob (checked again: its hash and signature), each record through the same checks as a merge.
    private func restore() {
        let loaded = journal.load()
        for problem in loaded.problems { log("custody journal: \(problem)") }
        var restored = 0
        for (job, root, records) in loaded.jobs {
            do {
                let bytes = try readBlob(root)
                guard SHA256.hash(bytes) == job else { throw CustodyError("bad manifest", "its blob does not hash to the job") }
                let manifest = try JobManifest(decoding: bytes)
                roots.withLock { $0[job] = root }
                restored += custody.withLock { custodian in
                    custodian.add(manifest)
                    return custodian.merge(records).count
                }
            } catch {
                log("custody journal: job \(job.hex.prefix(12)) not restored: \(error)")
            }
        }
        if !loaded.jobs.isEmpty { log("custody journal: \(loaded.jobs.count) jobs, \(restored) records restored") }
    }

    /// Writes records just added to custody to the journal; they are on disk when this returns.
    func persist(_ records: [CustodyRecord]) throws(CustodyError) {
        do {
            try journal.append(records)
        } catch {
            log("custody journal: \(error)")
            throw CustodyError("storage", "the custodian cannot store records: \(error)")
        }
    }

    /// Binds UDP and TCP and starts answering custody requests.
    public func start() throws {
        restore()
        blobs.otherOperations = { [weak self] frame, peer in self?.answer(frame, from: peer) }
        try blobs.start()
        running.store(true, ordering: .relaxed)
        if let interval = configuration.syncInterval {
            let timer = DispatchSource.makeTimerSource(queue: syncQueue)
            timer.schedule(deadline: .now() + interval, repeating: interval)
            timer.setEventHandler { [weak self] in self?.synchronize() }
            timer.resume()
            syncTimer = timer
        }
    }

    /// Joins the swarm through `seeds`; returns the routing table's size.
    @discardableResult
    public func join(_ seeds: [Endpoint], timeout: Double = 30) -> Int { blobs.node.join(seeds, timeout: timeout) }

    /// Leaves: hands every shard's records to the other custodians (so that nothing this peer accepted is
    /// lost), then stops. `handOff` false skips that, for a whole swarm stopping at once.
    public func stop(handOff: Bool = true) {
        guard running.exchange(false, ordering: .relaxed) else { return }
        syncTimer?.cancel()
        syncQueue.sync {}
        if handOff { self.handOff() }
        forwardQueue.sync {}
        pool.closeAll()
        blobs.stop()
    }

    /// Dies at once, as a process killed with signal 9 would: no hand-off, no goodbyes (for `--crash` and tests).
    public func crash() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        syncTimer?.cancel()
        blobs.server?.stop()
        blobs.node.stop()
        pool.closeAll()
    }

    public var isRunning: Bool { running.load(ordering: .relaxed) }

    /// The UDP and TCP endpoint.
    public var endpoint: Endpoint { blobs.endpoint }

    /// Requests answered, by op, and refusals by reason.
    public var statistics: (requests: [String: Int], rejected: [String: Int], accepted: [String: Int]) {
        let custodian = custody.withLock { ($0.rejected, $0.accepted) }
        return (requests.withLock { $0 }, custodian.0, custodian.1)
    }

    /// A copy of the custody state (for the demo's view and tests).
    public var custodian: Custodian { custody.withLock { $0 } }

    // MARK: Finding nodes

    /// The `custodians` closest Colony nodes to `key`, this peer included when it is among them, nearest first.
    /// `excludingSelf` leaves this peer out of the count: the set that keeps custody once it has gone.
    public func custodians(of key: [UInt8], refresh: Bool = false, excludingSelf: Bool = false) -> [Endpoint] {
        if !refresh, !excludingSelf, let cached = lookups.withLock({ $0[key] }),
            Date().timeIntervalSince(cached.at) < configuration.lookupLifetime
        {
            return cached.endpoints
        }
        guard let target = NodeID(bytes: key) else { return [] }
        let selfID = blobs.node.id
        var candidates: [(NodeID, Endpoint)] = excludingSelf ? [] : [(selfID, endpoint)]
        if let lookup = blobs.node.wait(timeout: 30, { dht, now, done in dht.findNode(target, now: now) { done($0) } }) {
            candidates += lookup.closest.filter { lookup.colonyNodes.contains($0.id) && $0.endpoint != endpoint }
                .map { ($0.id, $0.endpoint) }
        }
        let chosen = candidates.sorted { $0.0.distance(to: target) < $1.0.distance(to: target) }
            .prefix(configuration.custodians).map(\.1)
        if !excludingSelf { lookups.withLock { $0[key] = (Date(), chosen) } }
        return chosen
    }

    /// Forgets a cached custodian list (one of them stopped answering).
    func forgetCustodians(of key: [UInt8]) { _ = lookups.withLock { $0.removeValue(forKey: key) } }

    /// Sends a request to `endpoint`, answering it in-process when it is this peer.
    func request(_ frame: Frame, to endpoint: Endpoint, timeout: Double? = nil) throws(ColonyRequestError) -> Frame {
        if endpoint == self.endpoint {
            let reply = answer(frame, from: endpoint)
            if let refusal = CustodyWire.failure(reply) { throw ColonyRequestError(endpoint: endpoint, refusal: refusal) }
            return reply
        }
        return try pool.request(frame, to: endpoint, timeout: timeout)
    }

    /// Peers announced under a 20-byte key.
    func peers(under key: [UInt8]) -> [Endpoint] {
        guard let target = NodeID(bytes: key) else { return [] }
        let found = blobs.node.wait(timeout: 30) { dht, now, done in dht.getPeers(target, now: now) { done($0.peers) } } ?? []
        return found.filter { $0 != endpoint }
    }

    /// Announces this peer under a 20-byte key.
    func announce(under key: [UInt8]) {
        guard let target = NodeID(bytes: key) else { return }
        _ = blobs.node.wait(timeout: 30) { dht, now, done in dht.announce(target, port: nil, now: now) { done($0.stored) } }
    }

    // MARK: Manifests

    /// The manifest root of a job this peer knows.
    public func root(of job: JobID) -> BlobID? { roots.withLock { $0[job] } }

    /// A job's manifest, when known here.
    public func manifest(_ job: JobID) -> JobManifest? { custody.withLock { $0.manifests[job] } }

    /// Stores a manifest this peer built or checked, pins it, and remembers it.
    @discardableResult
    func keep(_ manifest: JobManifest) throws -> BlobID {
        let blob = try blobs.store.put(data: manifest.encoded(), pin: true).id
        try journal.remember(manifest.id, root: blob)
        roots.withLock { $0[manifest.id] = blob }
        custody.withLock { $0.add(manifest) }
        return blob
    }

    /// The manifest of `job`, fetched from `hint` or the blob's holders when not known here, and checked: its
    /// SHA-256 must be the job ID and its signature must verify. Throws "unknown job" otherwise.
    public func fetchManifest(_ job: JobID, root: BlobID?, hint: [Endpoint]) throws(CustodyError) -> JobManifest {
        if let known = manifest(job) { return known }
        manifestLock.lock()
        defer { manifestLock.unlock() }
        if let known = manifest(job) { return known }
        var root = root
        var sources = hint
        if root == nil {
            // Ask those announced under the job's key for the root.
            for holder in peers(under: JobKeys.job(job)) where root == nil {
                let reply = try? request(CustodyWire.frame("co_job", [("job", .bytes(job.bytes))]), to: holder)
                if let reply, let digest = CustodyWire.digest(reply, "root") {
                    root = BlobID(root: digest)
                    sources.append(holder)
                }
            }
        }
        guard let root else { throw CustodyError("unknown job", "no manifest found for job \(job.hex)") }
        let bytes: [UInt8]
        do {
            if !blobs.store.isComplete(root) {
                _ = try blobs.fetcher.fetch(root, from: sources + blobs.holders(root).filter { !sources.contains($0) })
            }
            bytes = try readBlob(root)
        } catch {
            throw CustodyError("unknown job", "manifest \(root.hex.prefix(12)) of job \(job.hex.prefix(12)) could not be fetched: \(error)")
        }
        guard SHA256.hash(bytes) == job else {
            _ = blobs.store.remove(root)
            throw CustodyError("unknown job", "the manifest fetched does not hash to job \(job.hex.prefix(12))")
        }
        let manifest: JobManifest
        do {
            manifest = try JobManifest(decoding: bytes)
        } catch {
            _ = blobs.store.remove(root)
            throw CustodyError("bad manifest", "\(error)")
        }
        try? blobs.store.pin(root)
        do {
            try journal.remember(job, root: root)
        } catch {
            throw CustodyError("storage", "cannot remember job \(job.hex.prefix(12)): \(error)")
        }
        roots.withLock { $0[job] = root }
        custody.withLock { $0.add(manifest) }
        return manifest
    }

    /// The bytes of a complete blob held here.
    func readBlob(_ blob: BlobID) throws -> [UInt8] {
        guard let manifest = try blobs.store.manifest(blob) else { throw CustodyError("unknown job", "blob not held") }
        var bytes: [UInt8] = []
        for hash in manifest.chunkHashes {
            guard let chunk = try blobs.store.readChunk(hash) else { throw CustodyError("unknown job", "chunk missing") }
            bytes += chunk
        }
        return bytes
    }

    /// Stores a unit input as a blob of the swarm: pinned here, announced, and replicated to the closest Colony
    /// nodes (so the publisher may leave); returns its root for the manifest. Throws when no other node took a
    /// replica: a job whose inputs live only with a publisher about to leave could never be computed.
    public func putInput(_ data: Data) throws -> SHA256Digest {
        let manifest = try blobs.store.put(data: data, pin: true)
        blobs.announce(manifest.id)
        guard !blobs.replicate(manifest.id, excluding: []).isEmpty else {
            throw CustodyError("storage", "no Colony node took a replica of input blob \(manifest.id.hex.prefix(12))")
        }
        return manifest.id.root
    }

    /// The bytes of a unit input kept as a blob: fetched from its holders when not held here, then checked
    /// against the size the manifest states (each chunk is verified against the root as it arrives).
    public func fetchInput(root: SHA256Digest, size: Int) throws -> Data {
        let blob = BlobID(root: root)
        if !blobs.store.isComplete(blob) {
            _ = try blobs.fetcher.fetch(blob, from: blobs.holders(blob))
        }
        let bytes = try readBlob(blob)
        guard bytes.count == size else {
            throw CustodyError("bad input", "input blob \(blob.hex.prefix(12)) has \(bytes.count) bytes; the manifest says \(size)")
        }
        return Data(bytes)
    }

    // MARK: Publishing

    /// Signs and publishes a job: the manifest is stored as a blob here and replicated, the job's custodians
    /// (closest to its key) fetch and keep it, and they and this peer announce it under the kernel's topic.
    /// Returns the job ID and the custodians that hold the manifest.
    public func publish(_ manifest: JobManifest) throws -> (job: JobID, holders: [Endpoint]) {
        let job = manifest.id
        let root = try keep(manifest)
        announce(under: JobKeys.topic(kernel: manifest.kernel, version: manifest.kernelVersion))
        announce(under: JobKeys.job(job))
        blobs.announce(root)
        var holders: [Endpoint] = []
        for custodian in custodians(of: JobKeys.job(job)) where custodian != endpoint {
            let frame = CustodyWire.frame("co_publish", [("job", .bytes(job.bytes)), ("root", .bytes(root.root.bytes)), ("port", .integer(Int64(endpoint.port)))])
            do {
                _ = try request(frame, to: custodian, timeout: 120)
                holders.append(custodian)
            } catch {
                log("publish: \(error)")
            }
        }
        return (job, holders)
    }

    /// Jobs announced for a kernel: (job, manifest root, who told us).
    public func discoverJobs(kernel: String, version: Int) -> [(job: JobID, root: BlobID, source: Endpoint)] {
        var found: [JobID: (BlobID, Endpoint)] = [:]
        var sources = peers(under: JobKeys.topic(kernel: kernel, version: version))
        if custody.withLock({ !$0.manifests.isEmpty }) { sources.append(endpoint) }
        for source in sources {
            let frame = CustodyWire.frame("co_jobs", [("kernel", .text(kernel)), ("version", .integer(Int64(version)))])
            guard let reply = try? request(frame, to: source, timeout: 10), let list = try? CustodyWire.payload(reply).list
            else { continue }
            for item in list.prefix(1000) {
                guard let pair = item.list, pair.count == 2, let jobBytes = pair[0].bytes, let rootBytes = pair[1].bytes,
                    let job = try? JobID(bytes: jobBytes), let root = try? SHA256Digest(bytes: rootBytes)
                else { continue }
                if found[job] == nil { found[job] = (BlobID(root: root), source) }
            }
        }
        return found.map { ($0.key, $0.value.0, $0.value.1) }.sorted { $0.job < $1.job }
    }

    // MARK: Answering

    func answer(_ frame: Frame, from peer: Endpoint) -> Frame {
        guard let op = CustodyWire.op(frame) else { return CustodyWire.error(400, .malformed("no op")) }
        requests.withLock { $0[op, default: 0] += 1 }
        do {
            return try answer(op, frame, from: peer)
        } catch {
            return CustodyWire.error(error.reason == "unknown job" ? 404 : 400, error)
        }
    }

    /// The job a request names, fetching its manifest from the asker (its `port`) when not known.
    private func requestedJob(_ frame: Frame, from peer: Endpoint) throws(CustodyError) -> JobManifest {
        guard let job = CustodyWire.job(frame) else {
            throw custody.withLock { $0.refuse(.malformed("a 32-byte job is required")) }
        }
        if let known = manifest(job) { return known }
        let root = CustodyWire.digest(frame, "root").map(BlobID.init(root:))
        var hint: [Endpoint] = []
        if let port = CustodyWire.int(frame, "port"), (1...65_535).contains(port) {
            hint.append(Endpoint(address: peer.address, port: UInt16(port)))
        }
        do {
            return try fetchManifest(job, root: root, hint: hint)
        } catch {
            throw custody.withLock { $0.refuse(error) }
        }
    }

    private func answer(_ op: String, _ frame: Frame, from peer: Endpoint) throws(CustodyError) -> Frame {
        let now = CustodyClock.now()
        switch op {
        case "co_publish":
            let manifest = try requestedJob(frame, from: peer)
            let job = manifest.id
            // Keep it where others look: the blob's key, the job's key and the kernel's topic.
            if let root = root(of: job) {
                DispatchQueue.global().async { [self] in
                    blobs.announce(root)
                    announce(under: JobKeys.job(job))
                    announce(under: JobKeys.topic(kernel: manifest.kernel, version: manifest.kernelVersion))
                }
            }
            return CustodyWire.frame("ok")
        case "co_job":
            guard let job = CustodyWire.job(frame), let root = root(of: job) else {
                throw CustodyError("unknown job", "not known here")
            }
            return CustodyWire.frame("root", [("root", .bytes(root.root.bytes))])
        case "co_jobs":
            guard let kernel = frame.header["kernel"]?.string, let version = CustodyWire.int(frame, "version") else {
                throw .malformed("co_jobs needs kernel and version")
            }
            let manifests = custody.withLock { $0.manifests }
            let list: [BencodeValue] = manifests.values.filter { $0.kernel == kernel && $0.kernelVersion == version }
                .compactMap { manifest in
                    root(of: manifest.id).map { .list([.bytes(manifest.id.bytes), .bytes($0.root.bytes)]) }
                }
            return CustodyWire.frame("jobs", payload: .list(list))
        case "co_lease":
            let manifest = try requestedJob(frame, from: peer)
            let request: (shard: Int, worker: Ed25519PublicKey, count: Int, signature: [UInt8])
            do {
                request = try CustodyWire.checkedLeaseRequest(frame, job: manifest.id, now: now)
                try noteLeaseRequest(request.signature, now: now)
            } catch {
                throw custody.withLock { $0.refuse(error) }
            }
            let (shard, worker) = (request.shard, request.worker)
            let count = min(max(request.count, 1), manifest.policy.shardSize)
            pullIfNew(ShardRef(job: manifest.id, shard: shard), manifest: manifest)
            let lease = try custody.withLock { custodian throws(CustodyError) in
                try custodian.lease(job: manifest.id, shard: shard, worker: worker, count: count, now: now)
            }
            guard let lease else {
                let verdicts = custody.withLock { $0.verdicts(ShardRef(job: manifest.id, shard: shard), now: now) } ?? []
                let done = verdicts.allSatisfy { $0.state != .open }
                return CustodyWire.frame("none", [("done", .integer(done ? 1 : 0))])
            }
            try persist([lease])
            forward([lease], of: manifest)
            custodyChanged(1)
            return CustodyWire.frame("lease", payload: lease.value)
        case "co_submit":
            let manifest = try requestedJob(frame, from: peer)
            let record: CustodyRecord
            do {
                record = try CustodyRecord(try CustodyWire.payload(frame))
            } catch {
                throw custody.withLock { $0.refuse(error) }
            }
            pullIfNew(ShardRef(job: manifest.id, shard: record.shard), manifest: manifest)
            let ref = ShardRef(job: manifest.id, shard: record.shard)
            let (added, verdicts) = try custody.withLock { custodian throws(CustodyError) in
                let added: [CustodyRecord]
                do throws(CustodyError) {
                    added = try custodian.submit(record, now: now)
                } catch {
                    // A refused reveal may leave the custodian's own error record ending that lease: it is kept
                    // and sent on like any accepted record.
                    let evidence = custodian.takeEvidence()
                    if !evidence.isEmpty {
                        try? journal.append(evidence)
                        forward(evidence, of: manifest)
                    }
                    throw error
                }
                // A commit is answered with its units' status, so that the worker whose seal completes a quorum
                // reveals at once instead of asking again.
                return (added, record.kind == .commit ? custodian.verdicts(ref, now: now) ?? [] : [])
            }
            try persist(added)
            forward(added, of: manifest)
            custodyChanged(added.count)
            let units = Set(record.entries.map(\.unit))
            return CustodyWire.frame("ok", payload: Self.statusRows(verdicts.filter { units.contains($0.unit) }, for: record.author))
        case "co_status":
            let manifest = try requestedJob(frame, from: peer)
            guard let shard = CustodyWire.int(frame, "shard"),
                let verdicts = custody.withLock({ $0.verdicts(ShardRef(job: manifest.id, shard: shard), now: now) })
            else { throw CustodyError("unknown unit", "no such shard") }
            let worker = frame.header["worker"]?.bytes.flatMap { try? Ed25519PublicKey(rawRepresentation: $0) }
            return CustodyWire.frame("status", payload: Self.statusRows(verdicts, for: worker))
        case "co_records":
            let manifest = try requestedJob(frame, from: peer)
            guard let shard = CustodyWire.int(frame, "shard") else { throw .malformed("co_records needs shard") }
            let ref = ShardRef(job: manifest.id, shard: shard)
            let (records, verdicts) = custody.withLock { ($0.records(ref), $0.verdicts(ref, now: now) ?? []) }
            // Outputs of undecided units stay with the custodians: a lazy peer reading them could copy them.
            let undecided = Set(verdicts.filter { $0.state == .open }.map(\.unit))
            let visible = records.filter { record in
                record.kind != .reveal || record.entries.allSatisfy { !undecided.contains($0.unit) }
            }
            return CustodyWire.frame("records", payload: CustodyWire.recordList(visible))
        case "co_sync":
            let manifest = try requestedJob(frame, from: peer)
            guard let shard = CustodyWire.int(frame, "shard") else { throw .malformed("co_sync needs shard") }
            let ref = ShardRef(job: manifest.id, shard: shard)
            guard let list = try CustodyWire.payload(frame).list else { throw .malformed("co_sync needs a list of IDs") }
            let theirs = Set(list.compactMap { $0.bytes.flatMap { try? SHA256Digest(bytes: $0) } })
            let records = custody.withLock { $0.records(ref) }
            let ours = Set(records.map(\.id))
            let missingThere = records.filter { !theirs.contains($0.id) }
            let wanted = theirs.subtracting(ours).sorted().map { BencodeValue.bytes($0.bytes) }
            return CustodyWire.frame("records", [("want", .list(wanted))], payload: CustodyWire.recordList(missingThere))
        case "co_merge":
            let manifest = try requestedJob(frame, from: peer)
            let records = try CustodyWire.records(frame)
            let added = custody.withLock { $0.merge(records.filter { $0.job == manifest.id }) }
            try persist(added)
            custodyChanged(added.count)
            return CustodyWire.frame("ok", [("added", .integer(Int64(added.count)))])
        default:
            throw custody.withLock { $0.refuse(.malformed("unknown op \(op)")) }
        }
    }

    /// Per unit: [unit, state (0 open, 1 validated, 2 failed), distinct seals, live leases, open slots, attempts,
    /// and for `worker`: 1 when its result is among those agreeing, -1 when it was counted invalid, else 0].
    static func statusRows(_ verdicts: [UnitVerdict], for worker: Ed25519PublicKey? = nil) -> BencodeValue {
        .list(
            verdicts.map { verdict in
                let state: Int64 = verdict.state == .validated ? 1 : verdict.state == .failed ? 2 : 0
                var mine: Int64 = 0
                if let worker {
                    if verdict.agreeing.contains(worker) { mine = 1 } else if verdict.invalid.contains(where: { $0.worker == worker }) { mine = -1 }
                }
                return .list([
                    .integer(Int64(verdict.unit)), .integer(state), .integer(Int64(verdict.commits)),
                    .integer(Int64(verdict.liveLeases)), .integer(Int64(verdict.openSlots)),
                    .integer(Int64(verdict.attempts)), .integer(mine),
                ])
            })
    }

    /// Refuses a lease request seen before (a replay in the worker's name); remembers each for the time window.
    private func noteLeaseRequest(_ signature: [UInt8], now: Int64) throws(CustodyError) {
        let fresh = seenLeaseRequests.withLock { seen in
            if seen.count > 50_000 { seen = seen.filter { now - $0.value <= CustodyWire.leaseRequestWindow } }
            return seen.updateValue(now, forKey: signature) == nil
        }
        guard fresh else { throw CustodyError("replayed", "this lease request was answered before") }
    }
}
