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
        /// Seconds at least between two gathers of one shard for the failed checks it shows (`co_failed`): hints
        /// that come meanwhile are answered by one gather when the time is up.
        public var failureGatherInterval = 2.0
        /// A peer for one command: a fresh DHT ID and no saved routing table, so that it never collides with a
        /// long-running peer on the same data directory.
        public var oneShot = false
        /// How the peer learns whether others can reach it: assumed (one machine) or checked by dial-back.
        public var reachability = ReachabilityMode.assumed
        /// The address a router forwards to this peer (`--advertise`): dial-backs and custody requests name its
        /// port.
        public var advertised: Endpoint?
        /// The Colony network this peer belongs to (`--network`): it keeps custody and finds jobs only of that one.
        public var network = Networks.defaultName
        /// Announce this peer under its network's rendezvous key and look up the others there (`--network`): how
        /// peers that know only an ordinary BitTorrent DHT node find each other.
        public var rendezvous = false
        /// Announce this peer on the LAN and join the Colony peers heard there (BEP 14).
        public var localDiscovery = false
        /// How many jobs others can make this peer keep, and how fast one address can publish new ones here.
        public var custodyLimits = CustodyLimits()

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
    private let lookups = Mutex<[[UInt8]: (at: Date, nodes: [(NodeID, Endpoint)])]>([:])
    /// Manifests being fetched, so that requests about one job wait for one fetch (without a lock held across it).
    private let manifestFetches = Mutex<[JobID: DispatchGroup]>([:])
    /// New jobs published here per address (`CustodyLimits.newJobsPerAddress`).
    let publishedJobs: Mutex<RateLimiter?>
    /// Forwards in flight, each on a queue of its member's (`forwardQueue(to:)`): a member that does not answer
    /// delays only what goes to it.
    let forwards = DispatchGroup()
    let forwardQueues = Mutex<[Ed25519PublicKey: DispatchQueue]>([:])
    private let syncQueue = DispatchQueue(label: "colony.custody.sync")
    private var syncTimer: (any DispatchSourceTimer)?
    let requests = Mutex<[String: Int]>([:])
    /// Signatures of lease requests answered within the time window, by when.
    let seenLeaseRequests = Mutex<[[UInt8]: Int64]>([:])
    /// Leases handed again to a worker that never got them (its request's answer was lost).
    let leasesHandedAgain = Atomic<Int>(0)
    /// When this peer last announced itself under each worker's evidence key (`ColonyPeer+Evidence.swift`).
    let evidenceAnnounced = Mutex<[Ed25519PublicKey: Date]>([:])
    /// Announces one evidence key at a time: an announce waits on a DHT lookup for up to 30 s.
    let evidenceQueue = DispatchQueue(label: "colony.peer.evidence")
    /// Workers whose prior standing this custodian looked up through their evidence key, with when it may look
    /// again; the jobs it gathered for them, by when; lookups waiting or running, the most ever at once, and how
    /// many started (`lookUpPrior`).
    let priorLookups = Mutex<PriorLookups>(PriorLookups())
    let priorLookupsOff = Atomic<Bool>(false)
    let priorQueue = DispatchQueue(label: "colony.peer.prior")
    /// Shards of jobs kept here gathered for the failed checks they show (`ColonyPeer+Failures.swift`).
    let failureGathers = Mutex<FailureGathers>(FailureGathers())
    /// How many leases this custodian handed again to workers whose first answer was lost.
    public var leasesResent: Int { leasesHandedAgain.load(ordering: .relaxed) }
    /// Set by the red team's corrupt custodian: this peer forwards nothing and answers no sync (it withholds the
    /// records it holds). Never set by Colony itself.
    var withholding: Bool {
        get { withholdingFlag.load(ordering: .relaxed) }
        set { withholdingFlag.store(newValue, ordering: .relaxed) }
    }
    private let withholdingFlag = Atomic<Bool>(false)
    /// A fault a test puts on a peer's answers.
    enum AnswerFault: Sendable {
        /// The request is handled and answered after this many seconds (a reply slow or lost on the way back).
        case late(Double)
        /// The request is not handled; an error answers it after this many seconds (a request lost on the way).
        case lost(Double)
        /// The request is not handled; this refusal answers it (a custodian whose view differed for a moment).
        case refused(CustodyError)
        /// The request is not handled; this frame answers it (a custodian's view that changed in between).
        case answered(Frame)
    }
    /// Set by tests: the fault, if any, on this peer's answer to a request. Never set by Colony itself.
    var answerFault: (@Sendable (Frame) -> AnswerFault?)? {
        get { answerFaultHook.withLock { $0 } }
        set { answerFaultHook.withLock { $0 = newValue } }
    }
    private let answerFaultHook = Mutex<(@Sendable (Frame) -> AnswerFault?)?>(nil)
    /// Blobs this peer accepts replicas of.
    let wantedBlobs: WantedBlobs
    /// Jobs this peer knows only for its worker (`forgetLearnedJob`).
    let learnedForWorker = Mutex<Set<JobID>>([])
    /// Authorities of shards this peer does not keep, with the changes it learned (`learnChanges`).
    let learnedAuthorities = Mutex<[ShardRef: ShardAuthority]>([:])
    /// When each shard's set was last asked for in the background (`learnChangesSoon`): at most once per
    /// `learnChangesInterval`.
    let lastLearned = Mutex<[ShardRef: Date]>([:])
    let learnQueue = DispatchQueue(label: "colony.learn-changes")
    /// The closing check replicas (shard, worker and closing units) for which this custodian synchronized the shard before telling
    /// the worker to reveal alone (`syncBeforeClosingReveal`): once each.
    let closingSyncs = Mutex<Set<ClosingReplica>>([])
    /// Custodians that stopped answering this peer, since when.
    let silentSince = Mutex<[Ed25519PublicKey: Silence]>([:])
    /// For a stall's trace (`LocalSwarm.stallTrace`): when the last anti-entropy round started and ended, and the
    /// last few outcomes of replacing a silent custodian.
    let syncDiagnostics = Mutex<(started: Date?, finished: Date?, replacements: [String])>((nil, nil, []))
    private let running = Atomic<Bool>(false)
    /// Whether others can reach this peer, and the dial-back checks in flight.
    let reach: ReachabilityState
    let reachQueue = DispatchQueue(label: "colony.reachability")
    /// The reachability checks' timer; set by `start`, cancelled by `stop`.
    var reachTimer: (any DispatchSourceTimer)?
    /// The rendezvous timer; set by `start`, cancelled by `stop`.
    var rendezvousTimer: (any DispatchSourceTimer)?
    /// Colony peers of this network found under its rendezvous key, with their node IDs, and when to look again.
    let rendezvousState = Mutex<(peers: [Endpoint: NodeID], next: Date, misses: Int)>(([:], Date(), 0))
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
        var blobConfiguration = configuration.blobs
        let wanted = WantedBlobs()
        let reach = ReachabilityState(
            configuration.oneShot ? .unreachable : configuration.reachability == .assumed ? .reachable : .unknown)
        self.reach = reach
        if blobConfiguration.acceptsReplica == nil {
            // Replicas only of what this peer keeps (the manifests and unit inputs of jobs it is a custodian of),
            // and only while others can reach it to fetch them.
            blobConfiguration.acceptsReplica = { blob, _ in reach.isReachable && wanted.contains(blob) }
        }
        wantedBlobs = wanted
        blobs = try BlobPeer(
            dataDirectory: dataDirectory, host: host, port: port, configuration: blobConfiguration,
            dhtStateFolder: configuration.oneShot ? .some(nil) : nil, log: log,
            id: configuration.oneShot ? .random() : nil)
        var custodian = Custodian(identity: identity)
        for kernel in configuration.registry.kernels {
            custodian.equivalence[kernel.name] = configuration.registry.outputEquivalence(kernel.name)
            custodian.checks[kernel.name] = configuration.registry.outputCheck(kernel.name)
        }
        custody = Mutex(custodian)
        publishedJobs = Mutex(configuration.custodyLimits.newJobsPerAddress.map { RateLimiter(limit: $0) })
        pool = ConnectionPool(timeout: configuration.requestTimeout, localHost: host)
        journal = try CustodyJournal(folder: directory.folder("custody"))
    }

    /// Reads back the jobs and custody records a previous run of this peer kept: each manifest from its pinned
    /// blob (checked again: its hash and signature), each record through the same checks as a merge.
    private func restore() {
        let loaded = journal.load()
        for problem in loaded.problems { log("custody journal: \(problem)") }
        var restored = 0
        for (job, root, learned, records, changes) in loaded.jobs {
            do {
                let bytes = try readBlob(root)
                guard SHA256.hash(bytes) == job else { throw CustodyError("bad manifest", "its blob does not hash to the job") }
                let manifest = try JobManifest(decoding: bytes)
                roots.withLock { $0[job] = root }
                want(manifest, root: root)
                if learned { learnedForWorker.withLock { _ = $0.insert(job) } }
                restored += custody.withLock { custodian in
                    custodian.add(manifest)
                    return custodian.merge(records, changes: changes, now: CustodyClock.now()).records.count
                }
            } catch {
                log("custody journal: job \(job.hex.prefix(12)) not restored: \(error)")
            }
        }
        custody.withLock { custodian in
            for change in loaded.signed { custodian.restoreSigned(change) }
            for (job, shards) in loaded.failures {
                for (shard, failures) in shards { custodian.adoptJobFailures(ShardRef(job: job, shard: shard), failures, now: CustodyClock.now()) }
            }
        }
        if !loaded.jobs.isEmpty { log("custody journal: \(loaded.jobs.count) jobs, \(restored) records restored") }
    }

    /// Writes records and set changes just added to custody to the journal; they are on disk when this returns.
    func persist(_ records: [CustodyRecord], changes: [CustodySetChange] = []) throws(CustodyError) {
        do {
            try journal.append(records, changes: changes)
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
        startReachability()
        startRendezvous()
        startLocalDiscovery()
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
    /// Stops: ends the sync timer, hands custody to the next closest nodes (`handOff`), lets queued forwards
    /// go, closes connections and stops the DHT and blob servers. `within` bounds the wait for the hand-off and
    /// the forwards, for a person pressing Ctrl-C: past it, the peer stops anyway and says so (its records are in
    /// its journal and with the other custodians, who replace a member that stops answering). Without it, the
    /// wait is as long as they take.
    public func stop(handOff: Bool = true, within seconds: Double? = nil) {
        guard running.exchange(false, ordering: .relaxed) else { return }
        syncTimer?.cancel()
        stopReachability()
        rendezvousTimer?.cancel()
        let done = DispatchSemaphore(value: 0)
        let leave: @Sendable () -> Void = { [self] in
            syncQueue.sync {}
            if handOff { self.handOff() }
            forwards.wait()
            done.signal()
        }
        if let seconds {
            Thread.detachNewThread(leave)
            if done.wait(timeout: .now() + seconds) == .timedOut {
                log("stopped before the custody hand-off ended (\(seconds) s); the other custodians hold every record")
            }
        } else {
            leave()
        }
        pool.closeAll()
        blobs.stop()
    }

    /// Dies at once, as a process killed with signal 9 would: no hand-off, no goodbyes (for `--crash` and tests).
    public func crash() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        syncTimer?.cancel()
        stopReachability()
        rendezvousTimer?.cancel()
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

    /// Refusals below custody, by reason: connections and frames, replica requests, announces.
    public var transportRefusals: [String: Int] {
        var total = blobs.server?.frames.statistics.refusals ?? [:]
        for (reason, count) in blobs.statistics.replicasRefused { total["replica: " + reason, default: 0] += count }
        let announces = blobs.node.withNode { node, _ in (node.statistics.announcesRefused, []) }
        for (reason, count) in announces { total["announce: " + reason, default: 0] += count }
        return total
    }

    /// A copy of the custody state (for the demo's view and tests), its shards walked for their failures.
    public var custodian: Custodian {
        custody.withLock { custodian in
            custodian.walkAllFailures()
            return custodian
        }
    }

    // MARK: Finding nodes

    /// The `count` closest Colony nodes to `key` that the DHT finds, this peer included when it is among them,
    /// nearest first, leaving out `excluding`. Lookups are kept `lookupLifetime` seconds.
    public func closestNodes(to key: [UInt8], count: Int, excluding: Set<Endpoint> = [], refresh: Bool = false) -> [Endpoint] {
        guard let target = NodeID(bytes: key) else { return [] }
        var found: [(NodeID, Endpoint)]
        if !refresh, let cached = lookups.withLock({ $0[key] }), Date().timeIntervalSince(cached.at) < configuration.lookupLifetime {
            found = cached.nodes
        } else {
            found = [(blobs.node.id, endpoint)]
            if let lookup = blobs.node.wait(timeout: 30, { dht, now, done in dht.findNode(target, now: now) { done($0) } }) {
                found += lookup.closest.filter { lookup.colonyNodes.contains($0.id) && $0.endpoint != endpoint }
                    .map { ($0.id, $0.endpoint) }
            }
            // Colony nodes are few among the nodes of a public DHT: the peers of this network found under its
            // rendezvous key are candidates too.
            let known = Set(found.map(\.1))
            found += rendezvousPeers().filter { !known.contains($0.0) }.map { ($0.1, $0.0) }
            found.sort { $0.0.distance(to: target) < $1.0.distance(to: target) }
            lookups.withLock { $0[key] = (Date(), found) }
        }
        return Array(found.lazy.map(\.1).filter { !excluding.contains($0) }.prefix(count))
    }

    /// The current custodians of a shard as known here (the manifest's set and the changes held or learned), in set
    /// order.
    public func members(of ref: ShardRef) -> [CustodianMember] { authority(of: ref)?.current ?? [] }

    /// A shard's authority as known here: the kept ledger's, else what `learnChanges` found, else the manifest's.
    public func authority(of ref: ShardRef) -> ShardAuthority? {
        let kept = custody.withLock { custodian -> ShardAuthority?? in
            custodian.ledgers[ref] != nil ? .some(custodian.authority(ref)) : nil
        }
        if let kept { return kept }
        if let learned = learnedAuthorities.withLock({ $0[ref] }) { return learned }
        return custody.withLock { $0.authority(ref) }
    }

    /// Asks the shard's custodians for changes of its set (a worker, publisher or collector keeps none): each is
    /// admitted against the chain from the manifest, so no custodian can name a set the others did not sign.
    public func learnChanges(_ ref: ShardRef) {
        guard var authority = authority(of: ref), let manifest = manifest(ref.job) else { return }
        let frame = CustodyWire.frame("co_changes", jobFields(ref.job) + [("shard", .integer(Int64(ref.shard)))])
        var asked: Set<Ed25519PublicKey> = []
        while let member = authority.sets.joined().first(where: { !asked.contains($0.key) && $0.key != identity.publicKey }) {
            asked.insert(member.key)
            guard asked.count <= 32, let reply = try? request(frame, to: member.endpoint, timeout: 10),
                let changes = try? CustodyWire.items(reply).changes
            else { continue }
            for change in changes.sorted(by: { $0.epoch < $1.epoch }) where change.job == ref.job && change.shard == ref.shard {
                _ = try? authority.admit(change, minimumMembers: manifest.policy.quorum)
            }
        }
        learnedAuthorities.withLock { learned in
            if learned.count >= 10_000 { learned.removeAll() }
            learned[ref] = authority
        }
    }

    /// Seconds between two background look-ups of one shard's set.
    static let learnChangesInterval = 10.0

    /// A member of the shard's set did not answer: it may have died and been replaced by a change this peer has
    /// not seen. Asks the others for changes off the caller's thread, at most once per `learnChangesInterval` per
    /// shard. (netlab kill-custodian: a worker that never learned the newcomer never asked it for leases, and the
    /// slots it owned waited for the other workers alone until every one of them had used its turn on a unit.)
    public func learnChangesSoon(_ ref: ShardRef) {
        let now = Date()
        let due = lastLearned.withLock { last -> Bool in
            if let previous = last[ref], now.timeIntervalSince(previous) < Self.learnChangesInterval { return false }
            if last.count >= 10_000 { last.removeAll() }
            last[ref] = now
            return true
        }
        guard due else { return }
        learnQueue.async { [weak self] in
            guard let self, self.isRunning || self.configuration.oneShot else { return }
            self.learnChanges(ref)
        }
    }

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
        want(manifest, root: blob)
        try journal.remember(manifest.id, root: blob)
        learnedForWorker.withLock { _ = $0.remove(manifest.id) }
        roots.withLock { $0[manifest.id] = blob }
        custody.withLock { $0.add(manifest) }
        return blob
    }

    /// The manifest of `job`, fetched from `hint` or the blob's holders when not known here, and checked: its
    /// SHA-256 must be the job ID and its signature must verify. Throws "unknown job" otherwise. A manifest for
    /// which `keep` is false is checked, then dropped and refused as `refusal` (a peer asked to keep custody of a
    /// job that does not name it keeps nothing). `forWorker`: fetched for this peer's worker, and forgotten once the
    /// worker is done with it, when it does not name this peer (`forgetLearnedJob`). `keeping` false: only read
    /// (a job gathered for a worker's prior standing); the manifest is checked and returned but not kept, and its
    /// blob stays in the store unpinned, evicted when room is needed. Kept, every job a custodian looked up for
    /// anyone asking for units stayed in memory and the journal for good, and counted against `CustodyLimits`: a
    /// Sybil whose evidence key named jobs of its own could fill them, and the peer then refused custody and its
    /// own worker's jobs ("custody full").
    public func fetchManifest(
        _ job: JobID, root: BlobID?, hint: [Endpoint], keep: (JobManifest) -> Bool = { _ in true },
        refusal: CustodyError = CustodyError("not a custodian", "the job does not name this peer"), forWorker: Bool = false,
        keeping: Bool = true
    ) throws(CustodyError) -> JobManifest {
        // One fetch per job at a time: a request that finds one in flight waits for it (a minute in all), then
        // looks again; no lock is held while the network is waited on. The fetch in flight keeps the manifest
        // only if its own `keep` says so: a waiter that still finds none fetches it itself (a set change naming
        // this peer waited on a sync from a custodian whose fetch dropped the manifest, and was refused).
        let deadline = DispatchTime.now() + 60
        for _ in 0..<3 {
            if let known = manifest(job) { return known }
            let (group, fetching) = manifestFetches.withLock { fetches -> (DispatchGroup, Bool) in
                if let group = fetches[job] { return (group, false) }
                let group = DispatchGroup()
                group.enter()
                fetches[job] = group
                return (group, true)
            }
            if !fetching {
                guard group.wait(timeout: deadline) == .success else { break }
                continue
            }
            defer {
                manifestFetches.withLock { _ = $0.removeValue(forKey: job) }
                group.leave()
            }
            return try fetchAndCheckManifest(
                job, root: root, hint: hint, keep: keep, refusal: refusal, forWorker: forWorker, keeping: keeping)
        }
        if let known = manifest(job) { return known }
        throw CustodyError("unknown job", "the manifest of job \(job.hex.prefix(12)) is being fetched; ask again")
    }

    /// `fetchManifest`'s fetch, by the one request fetching the job's manifest.
    private func fetchAndCheckManifest(
        _ job: JobID, root: BlobID?, hint: [Endpoint], keep: (JobManifest) -> Bool, refusal: CustodyError, forWorker: Bool,
        keeping: Bool
    ) throws(CustodyError) -> JobManifest {
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
                _ = try blobs.fetcher.fetch(
                    root, from: sources + blobs.holders(root).filter { !sources.contains($0) }, maxSize: Int64(JobManifest.maxSize))
            }
            bytes = try blobs.store.bytes(of: root, maxSize: JobManifest.maxSize)
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
        guard keep(manifest) else {
            _ = blobs.store.remove(root)
            throw refusal
        }
        guard keeping else { return manifest }
        // Every manifest kept stays in memory: a worker's discoveries count against the custody limits too (a flooder
        // can announce jobs, and list a thousand at a time).
        let named = Custodian.names(manifest, identity.publicKey)
        if let full = custody.withLock({ configuration.custodyLimits.refusal(keeping: manifest.heldBytes, named: named, beside: $0) }) {
            _ = blobs.store.remove(root)
            throw full
        }
        try? blobs.store.pin(root)
        want(manifest, root: root)
        do {
            try journal.remember(job, root: root, learned: forWorker && !named)
        } catch {
            throw CustodyError("storage", "cannot remember job \(job.hex.prefix(12)): \(error)")
        }
        if forWorker && !named { learnedForWorker.withLock { _ = $0.insert(job) } }
        roots.withLock { $0[job] = root }
        custody.withLock { $0.add(manifest) }
        return manifest
    }

    /// The bytes of a complete blob held here (a manifest: at most `JobManifest.maxSize`).
    func readBlob(_ blob: BlobID) throws -> [UInt8] { try blobs.store.bytes(of: blob, maxSize: JobManifest.maxSize) }

    /// Lets replicas of a job's manifest and unit inputs in: this peer keeps the job.
    func want(_ manifest: JobManifest, root: BlobID) {
        wantedBlobs.insert(root)
        for unit in manifest.units { if case .blob(let input, _) = unit { wantedBlobs.insert(BlobID(root: input)) } }
    }

    /// Forgets a job this peer learned only for its worker (`fetchManifest` `forWorker`: its manifest does not name
    /// this peer, and it was not published here), once the worker is done with it: the manifest leaves memory and the journal,
    /// and its blob is unpinned, so that a worker that runs for years is not held at `CustodyLimits.maxJobs` by jobs
    /// long finished. Returns whether it was forgotten: a job this peer has since joined by a set change, or
    /// published, stays.
    @discardableResult
    public func forgetLearnedJob(_ job: JobID) -> Bool {
        guard learnedForWorker.withLock({ $0.contains(job) }) else { return false }
        guard let manifest = custody.withLock({ $0.forget(job) }) else { return false }
        learnedForWorker.withLock { _ = $0.remove(job) }
        let root = roots.withLock { $0.removeValue(forKey: job) }
        journal.forget(job)
        if let root {
            wantedBlobs.remove(root)
            try? blobs.store.unpin(root)
        }
        for unit in manifest.units { if case .blob(let input, _) = unit { wantedBlobs.remove(BlobID(root: input)) } }
        return true
    }

    /// Stores a unit input as a blob, pinned here, and returns its root for the manifest. `publish` replicates it
    /// to the custodians of its shard once they keep the job (they accept replicas only of jobs they keep).
    public func putInput(_ data: Data) throws -> SHA256Digest {
        try blobs.store.put(data: data, pin: true).id.root
    }

    /// The bytes of a unit input kept as a blob: fetched from its holders when not held here, then checked
    /// against the size the manifest states (each chunk is verified against the root as it arrives).
    public func fetchInput(root: SHA256Digest, size: Int) throws -> Data {
        let blob = BlobID(root: root)
        if !blobs.store.isComplete(blob) {
            _ = try blobs.fetcher.fetch(blob, from: blobs.holders(blob), maxSize: Int64(size))
        }
        let bytes = try blobs.store.bytes(of: blob, maxSize: size)
        guard bytes.count == size else {
            throw CustodyError("bad input", "input blob \(blob.hex.prefix(12)) has \(bytes.count) bytes; the manifest says \(size)")
        }
        return Data(bytes)
    }
}

/// The blobs a peer accepts replicas of; asked on a request's thread, so a set under a lock.
final class WantedBlobs: Sendable {
    /// Each blob with the number of jobs kept here that want it (a unit input may be shared by several).
    private let blobs = Mutex<[BlobID: Int]>([:])
    func insert(_ blob: BlobID) { blobs.withLock { $0[blob, default: 0] += 1 } }
    func remove(_ blob: BlobID) {
        blobs.withLock { wanted in
            guard let count = wanted[blob] else { return }
            wanted[blob] = count > 1 ? count - 1 : nil
        }
    }
    func contains(_ blob: BlobID) -> Bool { blobs.withLock { $0[blob] != nil } }
}
