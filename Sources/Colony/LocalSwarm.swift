import ColonyBlobs
import ColonyCore
import ColonyDHT
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation

/// Several peers in one process on loopback, each with its own data directory, port, identity and worker:
/// what `colony demo` and `colony bench swarm` run. Peer 0 publishes; misbehaving peers are the last ones.
public final class LocalSwarm: @unchecked Sendable {
    public struct Options: Sendable {
        public var peers = 8
        public var cheaters = 0
        /// Peers that return one agreed wrong output, each on a network of its own.
        public var colluders = 0
        /// Peers that return one agreed wrong output, all on one network (127.0.250.1): many keys, one network.
        public var sybils = 0
        public var copycats = 0
        /// Peers honest for their first `sleeperHonestUnits` units, then cheating (issue 14).
        public var sleepers = 0
        public var sleeperHonestUnits = 100
        /// The share of their units the sleepers cheat on once awake (`SwarmWorker.Configuration.sleeperCheatRate`).
        public var sleeperCheatRate = 1.0
        /// Which sleepers: `.sleeper`, `.carefulSleeper` or `.peeker`.
        public var sleeperBehaviour = SwarmWorker.Behaviour.sleeper
        public var crash = 0
        /// Slots per worker.
        public var coresPerWorker = 1
        /// Custodians per shard the publisher asks for (`ColonyPeer.Configuration.custodians`).
        public var custodians = ColonyPeer.Configuration().custodians
        /// Whether custodians look up the trust a worker earned in shards they do not keep (`ColonyPeer.looksUpPriors`).
        public var priorLookups = true
        public var registry = KernelRegistry([])
        public var lowPriority = false
        /// Where the peers' data directories go.
        public var folder: URL
        public var syncInterval: Double? = 5
        /// Seconds at least between two gathers of one shard for its failed checks (`co_failed`).
        public var failureGatherInterval = ColonyPeer.Configuration().failureGatherInterval
        public var revealPollInterval = 0.1
        /// Called when a worker learns how units it revealed were decided (its validated and invalid counts).
        public var onWorkerJudged: (@Sendable () -> Void)?
        /// Milliseconds a worker's clock is off by, by peer index (`SwarmWorker.Configuration.clockOffset`).
        public var clockOffsets: [Int: Int64] = [:]

        public init(folder: URL) { self.folder = folder }
    }

    /// A moment of the job's progress, from the custodians' records.
    public struct Progress: Sendable {
        public var tally = VerdictTally()
        /// The output of each unit seen validated (only when asked for: `progress(of:outputs:)`).
        public var validatedOutputs: [Int: [UInt8]] = [:]
        /// Units in the job.
        public var total: Int
        /// Units on a slot right now.
        public var running = 0

        public init(total: Int) { self.total = total }

        public var validated: Int { tally.validated }
        public var failed: Int { tally.failed }
        public var inProgress: Int { tally.inProgress }
        public var attempts: Int { tally.attempts }
        public var invalid: Int { tally.invalid }
        public var done: Bool { tally.decided >= total }
    }

    public let options: Options
    public private(set) var peers: [ColonyPeer] = []
    public private(set) var workers: [SwarmWorker] = []
    public private(set) var crashed: Set<Int> = []

    public init(options: Options) {
        self.options = options
    }

    /// The role of peer `index`: honest, then those to crash, sleepers, copycats, colluders, Sybils and cheaters
    /// last. Peers added later (`addPeer`) have the role they were added with.
    public func behaviour(of index: Int) -> SwarmWorker.Behaviour {
        if let role = added[index] { return role }
        var end = options.peers - options.cheaters
        if index >= end { return .cheater }
        end -= options.sybils
        if index >= end { return .colluder }
        end -= options.colluders
        if index >= end { return .colluder }
        end -= options.copycats
        if index >= end { return .copycat }
        end -= options.sleepers
        if index >= end { return options.sleeperBehaviour }
        return .honest
    }

    /// Roles of the peers added after the start.
    private var added: [Int: SwarmWorker.Behaviour] = [:]

    /// Whether peer `index` is one of the Sybils (sharing one network).
    public func isSybil(_ index: Int) -> Bool {
        index >= options.peers - options.cheaters - options.sybils && index < options.peers - options.cheaters
    }

    /// The peers that will crash while holding leases (just before the misbehaving ones).
    public var crashIndices: [Int] {
        let end = options.peers - options.cheaters - options.sybils - options.colluders - options.copycats - options.sleepers
        return Array(max(1, end - options.crash)..<end)
    }

    /// Starts the peers and joins each to the first, then the workers.
    public func start(log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        self.log = log
        for index in 0..<options.peers { peers.append(try startPeer(index, folder: "peer-\(index)")) }
        let seed = peers[0].endpoint
        for peer in peers.dropFirst() { peer.join([seed], timeout: 10) }
        // A second round fills the early joiners' tables with those that came later.
        for peer in peers { peer.join([seed], timeout: 10) }
        for (index, peer) in peers.enumerated() { workers.append(makeWorker(index, peer: peer)) }
        for worker in workers { worker.start() }
    }

    private var log: @Sendable (String) -> Void = { _ in }

    /// Starts one more peer and its worker, behaving as `behaviour`, after the job's custodians were chosen (it
    /// keeps no custody): a newcomer, or a cheater back with a new key (Sybil churn). Returns its index.
    @discardableResult
    public func addPeer(behaviour: SwarmWorker.Behaviour) throws -> Int {
        let index = peers.count
        added[index] = behaviour
        let peer = try startPeer(index, folder: "peer-\(index)-added")
        peer.join([peers[0].endpoint], timeout: 10)
        peers.append(peer)
        let worker = makeWorker(index, peer: peer)
        workers.append(worker)
        worker.start()
        return index
    }

    private func startPeer(_ index: Int, folder name: String) throws -> ColonyPeer {
        var configuration = ColonyPeer.Configuration()
        configuration.blobs.rateLimit = nil
        configuration.blobs.repairInterval = nil
        configuration.syncInterval = options.syncInterval
        configuration.failureGatherInterval = options.failureGatherInterval
        configuration.registry = options.registry
        configuration.custodians = options.custodians
        let folder = options.folder.appendingPathComponent(name)
        // Each peer on a loopback network of its own (127.0.N.1): replicas count toward a quorum only from
        // distinct /24 networks, and the custodians see each worker's real address.
        let host = isSybil(index) ? Self.sybilHost : Self.host(of: index)
        let peer = try ColonyPeer(dataDirectory: folder, host: host, configuration: configuration) { [log] in
            log("peer \(index): \($0)")
        }
        peer.onCustodyChange = { [changes] in changes.notify() }
        peer.looksUpPriors = options.priorLookups
        try peer.start()
        return peer
    }

    private func makeWorker(_ index: Int, peer: ColonyPeer) -> SwarmWorker {
        var configuration = SwarmWorker.Configuration()
        configuration.cores = options.coresPerWorker
        configuration.kernels = options.registry
        configuration.behaviour = behaviour(of: index)
        configuration.sleeperHonestUnits = options.sleeperHonestUnits
        configuration.sleeperCheatRate = options.sleeperCheatRate
        configuration.lowPriority = options.lowPriority
        configuration.discoveryInterval = 1
        // Peers on one machine can look for a job often: a lookup among a few local peers costs little,
        // and the job is published just after they start.
        configuration.idleDiscoveryInterval = 0.2
        configuration.revealPollInterval = options.revealPollInterval
        configuration.onJudged = options.onWorkerJudged
        configuration.clockOffset = options.clockOffsets[index] ?? 0
        return SwarmWorker(peer: peer, configuration: configuration) { [log] in log("worker \(index): \($0)") }
    }

    /// The loopback address of peer `index`: 127.M.N.1, each its own /24 network (Linux answers on the whole of
    /// 127.0.0.0/8).
    public static func host(of index: Int) -> String { "127.\(index / 250).\(index % 250 + 1).1" }

    /// The one network all Sybil peers share.
    public static let sybilHost = "127.200.0.1"

    /// Signs a job of `units` from `spec` with peer 0 as its publisher (custodians chosen among the peers), and
    /// publishes it.
    public func publish(spec: JobSpec, kernelVersion: Int, units: [Data], shardSize: Int? = nil) throws -> JobID {
        let manifest = try peers[0].signJob(spec: spec, kernelVersion: kernelVersion, units: units, shardSize: shardSize)
        return try publish(manifest)
    }

    /// Signs a job of `units` from `spec` with `publisher` (peer 0's key when nil), every shard kept by the peers
    /// `custodians` (indices) whoever is closest to its keys, and publishes it from peer 0.
    public func publish(
        spec: JobSpec, kernelVersion: Int, units: [Data], custodians: [Int], publisher: Identity? = nil
    ) throws -> JobID {
        let members = custodians.map { CustodianMember(key: peers[$0].identity.publicKey, endpoint: peers[$0].endpoint) }
        let manifest = try JobManifest.signed(
            spec: spec, kernelVersion: kernelVersion, units: units, by: publisher ?? peers[0].identity,
            custody: { _, shards in JobCustody.same(members, shards: shards) })
        return try publish(manifest)
    }

    /// Publishes a manifest from peer 0.
    public func publish(_ manifest: JobManifest) throws -> JobID {
        try peers[0].publish(manifest).job
    }

    /// Crashes peer `index`: its worker stops without releasing leases and its sockets close.
    public func crash(_ index: Int) {
        guard !crashed.contains(index) else { return }
        crashed.insert(index)
        workers[index].abandon()
        peers[index].crash()
    }

    /// Shards found decided for good, with their counts, their own failed checks and the other shards' they were
    /// decided with (`ShardLedger.foreignFailures`): not recomputed again while those are the same.
    private var settled: [ShardRef: (tally: VerdictTally, own: [Ed25519PublicKey: [Int64]], foreign: [Ed25519PublicKey: [Int64]])] = [:]
    private let changes = ChangeSignal()

    /// The job's state from the union of all live custodians' records; with `outputs`, each validated unit's output
    /// too (every shard is then recomputed, settled or not).
    public func progress(of job: JobID, outputs: Bool = false) -> Progress? {
        guard let manifest = peers.lazy.compactMap({ $0.manifest(job) }).first else { return nil }
        var ledgers: [Int: ShardLedger] = [:]
        for (index, peer) in peers.enumerated() where !crashed.contains(index) {
            let held = peer.custody.withLock { custodian in
                custodian.ledgers.filter { $0.key.job == job && (outputs || settled[$0.key] == nil) }
            }
            for (ref, ledger) in held {
                guard var merged = ledgers[ref.shard] else {
                    ledgers[ref.shard] = ledger
                    continue
                }
                merged.absorb(ledger)
                ledgers[ref.shard] = merged
            }
        }
        // A failed check in one shard voids what the worker ran alone in the others: each shard takes the others'
        // failures, as the custodians and `JobCollector` do. A settled shard whose share of them changed is no longer
        // settled.
        if manifest.policy.isAdaptive, manifest.shardCount > 1 {
            var failures = ledgers.map { (shard: $0.key, failures: $0.value.ownFailures()) }
            failures += settled.filter { $0.key.job == job && ledgers[$0.key.shard] == nil }.map { (shard: $0.key.shard, failures: $0.value.own) }
            let unsettled = settled.filter { ref, part in
                ref.job == job && ledgers[ref.shard] == nil && ShardLedger.failures(in: failures, besides: ref.shard) != part.foreign
            }
            if !unsettled.isEmpty, !outputs {
                for ref in unsettled.keys { settled[ref] = nil }
                return progress(of: job)
            }
            for shard in ledgers.keys { ledgers[shard]?.foreignFailures = ShardLedger.failures(in: failures, besides: shard) }
        }
        let equivalent = options.registry.outputEquivalence(manifest.kernel)
        let now = CustodyClock.now()
        var progress = Progress(total: manifest.units.count)
        for (shard, ledger) in ledgers {
            let verdicts = ledger.verdicts(now: now, equivalent: equivalent)
            if outputs {
                for verdict in verdicts where verdict.state == .validated { progress.validatedOutputs[verdict.unit] = verdict.output }
                if let part = settled[ShardRef(job: job, shard: shard)] {
                    progress.tally = progress.tally + part.tally
                    continue
                }
            }
            let part = VerdictTally(verdicts)
            // Later results for a decided unit can still arrive (a slow replica's reveal); a shard is settled
            // once every unit is decided and no lease is live.
            if part.decided == part.units && part.inProgress == 0 {
                settled[ShardRef(job: job, shard: shard)] = (part, ledger.ownFailures(), ledger.foreignFailures)
            }
            progress.tally = progress.tally + part
        }
        for (ref, part) in settled where ref.job == job && ledgers[ref.shard] == nil { progress.tally = progress.tally + part.tally }
        progress.running = workers.enumerated().filter { !crashed.contains($0.offset) }.reduce(0) { $0 + $1.element.snapshot.running.count }
        return progress
    }

    /// Waits until a custodian adds records or `deadline` passes.
    public func waitForChange(until deadline: Date) { changes.wait(until: deadline) }

    /// Waits until a custodian adds records and `notBefore` has passed, or `deadline` passes.
    public func waitForChange(until deadline: Date, notBefore: Date) { changes.wait(until: deadline, notBefore: notBefore) }

    /// Waits until every unit of `job` is decided, recomputing the progress each time custody changes; returns
    /// the last progress seen (not done when `timeout` passed first).
    public func waitUntilDecided(_ job: JobID, timeout: Double) -> Progress? {
        let deadline = Date() + timeout
        var progress = progress(of: job)
        while progress?.done != true && Date() < deadline {
            waitForChange(until: deadline)
            progress = self.progress(of: job)
        }
        // A job a test waited for in vain: why, in the test's output (a stall seen once in CI is read from its log).
        if progress?.done != true { print(stallTrace(of: job).joined(separator: "\n")) }
        if progress?.done == true { _ = waitUntilAgreed(job, timeout: min(10, max(0, deadline.timeIntervalSinceNow))) }
        return progress
    }

    /// Whether every live custodian of every shard of the job finds each unit decided in its own records. The
    /// union of their records (`progress`) can be decided a moment before: a closing check's reveal reaches the
    /// custodian it was sent to and is forwarded to the rest. Until then each withholds the reveals that name a unit
    /// open in its view (`Custodian.publicRecords`), and a reveal naming two units, each open to one of them, is
    /// withheld by both: an observer collecting at that moment found fewer units validated (bench adaptive, 1 run in
    /// about 300).
    public func custodiansAgree(on job: JobID) -> Bool {
        let now = CustodyClock.now()
        guard let manifest = peers.lazy.compactMap({ $0.manifest(job) }).first else { return false }
        let equivalent = options.registry.outputEquivalence(manifest.kernel)
        for (index, peer) in peers.enumerated() where !crashed.contains(index) {
            let me = peer.identity.publicKey
            let held = peer.custody.withLock { custodian in
                custodian.ledgers.filter { $0.key.job == job && $0.value.authority.current.contains { $0.key == me } }
            }
            for ledger in held.values where ledger.verdicts(now: now, equivalent: equivalent).contains(where: { $0.state == .open }) {
                return false
            }
        }
        return true
    }

    /// Waits, after the union of the records decided the job, until its custodians agree (`custodiansAgree`), so
    /// that an observer collecting then finds what the union found; false when `timeout` seconds pass first (a
    /// custodian that refused a record the others kept may never agree: the observer then sees what they give).
    public func waitUntilAgreed(_ job: JobID, timeout: Double) -> Bool {
        let deadline = Date() + timeout
        while !custodiansAgree(on: job) {
            guard Date() < deadline else { return false }
            waitForChange(until: min(deadline, Date() + 0.1))
        }
        return true
    }

    /// A peer that takes no part in the job, joined to the swarm: for re-verifying it from the records.
    public func observer() throws -> ColonyPeer {
        var configuration = ColonyPeer.Configuration()
        configuration.blobs.rateLimit = nil
        configuration.blobs.acceptsReplicas = false
        configuration.registry = options.registry
        configuration.syncInterval = nil
        configuration.oneShot = true
        let observer = try ColonyPeer(dataDirectory: options.folder.appendingPathComponent("observer"), configuration: configuration)
        try observer.start()
        observer.join([peers[0].endpoint], timeout: 10)
        return observer
    }

    /// Refusals counted by all live custodians, by reason.
    public var refusals: [String: Int] {
        var total: [String: Int] = [:]
        for (index, peer) in peers.enumerated() where !crashed.contains(index) {
            for (reason, count) in peer.statistics.rejected { total[reason, default: 0] += count }
        }
        return total
    }

    /// Requests the live workers sent that got no answer (timeouts, refused connections), summed.
    public var workerRequestFailures: Int {
        workers.enumerated().filter { !crashed.contains($0.offset) }.reduce(0) { $0 + $1.element.snapshot.statistics.requestFailures }
    }

    /// Stops every worker and peer.
    public func stop() {
        for (index, worker) in workers.enumerated() where !crashed.contains(index) { worker.stop() }
        // The whole swarm ends: nobody is left to hand custody to.
        let live = peers.enumerated().filter { !crashed.contains($0.offset) }.map(\.element)
        DispatchQueue.concurrentPerform(iterations: live.count) { live[$0].stop(handOff: false) }
    }
}

/// Wakes waiters when something changed: a generation count under a condition, so that a burst of changes
/// wakes a waiter once rather than once per change.
final class ChangeSignal: @unchecked Sendable {
    private let condition = NSCondition()
    private var generation = 0
    private var seen = 0

    func notify() {
        condition.withLock { generation += 1 }
        condition.broadcast()
    }

    /// Returns once something changed since the last call, or at `deadline`.
    func wait(until deadline: Date) { wait(until: deadline, notBefore: .distantPast) }

    /// Returns once something changed since the last call and `notBefore` has passed, or at `deadline`: a
    /// burst of changes is seen at most once per interval.
    func wait(until deadline: Date, notBefore: Date) {
        condition.withLock {
            while true {
                let now = Date()
                if now >= deadline || (generation != seen && now >= notBefore) { break }
                _ = condition.wait(until: generation == seen ? deadline : min(notBefore, deadline))
            }
            seen = generation
        }
    }
}
