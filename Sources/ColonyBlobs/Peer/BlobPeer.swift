import ColonyCore
import ColonyDHT
import ColonyNet
import Foundation
import Synchronization

/// A peer that holds and serves blobs: a DHT node (UDP) and a blob server (TCP) on the same port number, a
/// store in the data directory, replication to the closest Colony nodes and repair of the replica count.
public final class BlobPeer: @unchecked Sendable {
    /// How the peer behaves.
    public struct Configuration: Sendable {
        /// Replicas the putter pushes, and the count holders keep up.
        public var replicas = 3
        /// Seconds between checks that enough replicas are alive; nil turns repair off.
        public var repairInterval: Double? = 600
        /// The store's quota in bytes; nil for none.
        public var quota: Int64?
        /// The DHT node's configuration.
        public var dht = DHTConfiguration()
        /// Accept replicas pushed by others.
        public var acceptsReplicas = true
        /// Asked before a replica request is acted upon, with the blob and the asker (its address and the port it
        /// serves on): true to fetch and hold it. nil accepts every request (while `acceptsReplicas`). It runs on
        /// the request's thread, so it must answer from what the peer knows, without waiting on the network.
        public var acceptsReplica: (@Sendable (BlobID, Endpoint) -> Bool)?
        /// The largest replica taken, by the size its manifest declares (checked before any chunk is fetched);
        /// nil for no bound but the store's quota.
        public var maxReplicaSize: Int64? = 4 << 30
        /// Replica requests in progress at once (fetching, or waiting for the one fetching); more are refused at
        /// once. Each holds a server thread until its copy is verified, so this bounds the threads others can
        /// make this peer spend on replicas.
        public var maxPendingReplicas = 4
        /// The per-address UDP rate limit; nil turns it off (for many peers sharing one address, as in tests).
        public var rateLimit: RateLimit? = RateLimit()
        /// What the TCP server grants one client address (connections, requests a second, time per frame) and
        /// the request bytes it holds; `.sharedAddress` for many peers sharing one address, as in tests.
        public var server = FrameServerProtection()

        /// The defaults.
        public init() {}
    }

    public let configuration: Configuration
    /// The DHT node.
    public let node: LiveDHTNode
    /// The blob store.
    public let store: BlobStore
    /// The TCP server.
    public private(set) var server: BlobServer!
    /// Fetches chunks from holders.
    public let fetcher: BlobFetcher
    private let log: @Sendable (String) -> Void
    /// Answers TCP requests that are not blob requests (set before `start`).
    public var otherOperations: (@Sendable (Frame, Endpoint) -> Frame?)?
    private let replicationQueue = DispatchQueue(label: "colony.blobs.replication")
    private var repairTimer: (any DispatchSourceTimer)?
    /// Fetches replicas others ask for; apart from `replicationQueue` (repair), so that two peers repairing
    /// at once and asking each other cannot wait on each other.
    private let acceptQueue = DispatchQueue(label: "colony.blobs.accept")
    /// Replica requests in progress, and the counters.
    private let replicaState = Mutex((pending: 0, statistics: BlobPeerStatistics()))
    /// The address outgoing connections leave from: the one this peer serves on, unless that is every address.
    private var localHost: String? {
        let host = node.runtime.configuration.host
        return host == "0.0.0.0" ? nil : host
    }

    /// A peer whose state lives in `dataDirectory` (DHT table in dht/, blobs in blobs/).
    public init(
        dataDirectory: URL, host: String, port: UInt16, configuration: Configuration = .init(),
        dhtStateFolder: URL?? = nil, log: @escaping @Sendable (String) -> Void = { _ in }, id: NodeID? = nil
    ) throws {
        self.configuration = configuration
        self.log = log
        store = try BlobStore(folder: dataDirectory.appendingPathComponent("blobs"), quota: configuration.quota)
        fetcher = BlobFetcher(store: store)
        let stateFolder = dhtStateFolder ?? dataDirectory.appendingPathComponent("dht")
        var udp = UDPConfiguration(host: host, port: port)
        udp.rateLimit = configuration.rateLimit
        node = try LiveDHTNode(configuration: configuration.dht, udp: udp, stateFolder: stateFolder, id: id)
        fetcher.localHost = localHost
    }

    /// What this peer was asked to do for others and refused, so far.
    public var statistics: BlobPeerStatistics { replicaState.withLock { $0.statistics } }

    /// Binds UDP and TCP on the same port number (with port 0, the first free number both accept).
    public func start() throws {
        let host = node.runtime.configuration.host
        var attempts = 0
        while true {
            try node.start()
            let server = BlobServer(
                store: store, host: host, port: node.endpoint.port, protection: configuration.server,
                onReplicate: { [weak self] blob, source in self?.acceptReplica(blob, from: source) ?? false },
                otherOperations: otherOperations)
            do {
                try server.start()
                self.server = server
                break
            } catch {
                node.stop()
                attempts += 1
                if node.runtime.configuration.port != 0 || attempts >= 20 {
                    throw BlobPeerError("cannot listen on TCP port \(node.endpoint.port) next to UDP: \(error)")
                }
            }
        }
        if let interval = configuration.repairInterval {
            let timer = DispatchSource.makeTimerSource(queue: replicationQueue)
            timer.schedule(deadline: .now() + interval, repeating: interval)
            timer.setEventHandler { [weak self] in self?.repair() }
            timer.resume()
            repairTimer = timer
        }
    }

    /// Stops serving.
    public func stop() {
        repairTimer?.cancel()
        server?.stop()
        try? node.save()
        node.stop()
    }

    /// The UDP and TCP endpoint.
    public var endpoint: Endpoint { node.endpoint }

    static func key(_ blob: BlobID) -> NodeID { NodeID(bytes: blob.dhtKey)! }

    // MARK: Put and replicate

    /// Stores a file, announces this peer as a holder and asks the closest Colony nodes to hold replicas.
    /// Returns the manifest and the nodes that now hold a verified copy.
    /// `announceSelf` false suits a peer about to leave: replicas fetch from it directly and announce themselves.
    public func put(
        file: URL, chunkSize: Int = 1 << 20, announceSelf: Bool = true, timeout: Double = 300
    ) throws -> (BlobManifest, holders: [Endpoint]) {
        let manifest = try store.put(file: file, chunkSize: chunkSize, pin: true)
        if announceSelf { announce(manifest.id) }
        return (manifest, replicate(manifest.id, excluding: [], timeout: timeout))
    }

    /// Announces this peer under the blob's key (announce_peer, implied port = our UDP = TCP port).
    public func announce(_ blob: BlobID) {
        let key = Self.key(blob)
        _ = node.wait(timeout: 30) { dht, now, done in dht.announce(key, port: nil, now: now) { done($0.stored) } }
    }

    /// Asks the `replicas` closest Colony nodes to the blob's key (minus `excluding` and this peer) to hold it,
    /// all at once; each answers once it holds a verified copy. Returns those that hold it, and asks farther
    /// nodes in place of any that fail. `timeout` bounds each node's fetch.
    @discardableResult
    public func replicate(_ blob: BlobID, excluding: Set<Endpoint>, timeout: Double = 300) -> [Endpoint] {
        let key = Self.key(blob)
        guard let lookup = node.wait(timeout: 30, { dht, now, done in dht.findNode(key, now: now) { done($0) } }) else {
            return []
        }
        var candidates = lookup.closest.filter {
            lookup.colonyNodes.contains($0.id) && !excluding.contains($0.endpoint) && $0.endpoint != endpoint
        }.map(\.endpoint)
        var holding: [Endpoint] = []
        while holding.count < configuration.replicas && !candidates.isEmpty {
            let batch = Array(candidates.prefix(configuration.replicas - holding.count))
            candidates.removeFirst(batch.count)
            let answers = Mutex([Bool](repeating: false, count: batch.count))
            DispatchQueue.concurrentPerform(iterations: batch.count) { index in
                let held = askToHold(blob, batch[index], timeout: timeout)
                answers.withLock { $0[index] = held }
            }
            holding += zip(batch, answers.withLock { $0 }).filter(\.1).map(\.0)
        }
        return holding
    }

    /// Asks each of `holders` to hold a replica, all at once; returns those that answer that they do.
    @discardableResult
    public func replicate(_ blob: BlobID, to holders: [Endpoint], timeout: Double = 300) -> [Endpoint] {
        let targets = holders.filter { $0 != endpoint }
        let answers = Mutex([Bool](repeating: false, count: targets.count))
        DispatchQueue.concurrentPerform(iterations: targets.count) { index in
            let held = askToHold(blob, targets[index], timeout: timeout)
            answers.withLock { $0[index] = held }
        }
        return zip(targets, answers.withLock { $0 }).filter(\.1).map(\.0)
    }

    /// Asks `holder` to hold a replica; true once it answers that it does.
    private func askToHold(_ blob: BlobID, _ holder: Endpoint, timeout: Double) -> Bool {
        do {
            let connection = try FrameConnection.connect(
                to: holder, from: localHost, timeout: 5, limits: FrameLimits())
            defer { connection.close() }
            try connection.send(BlobWire.request("replicate", blob: blob, extra: [("port", .integer(Int64(endpoint.port)))]))
            let reply = try connection.receive(timeout: timeout)
            if let error = BlobWire.errorText(reply) { log("\(holder) will not hold \(blob.hex): \(error)") }
            return BlobWire.op(reply) == "ok"
        } catch {
            log("replica request to \(holder) failed: \(error)")
            return false
        }
    }

    /// The peers announced as holders of `blob`.
    public func holders(_ blob: BlobID) -> [Endpoint] {
        let key = Self.key(blob)
        let peers = node.wait(timeout: 30) { dht, now, done in dht.getPeers(key, now: now) { done($0.peers) } } ?? []
        // Bound to 0.0.0.0, this peer does not know the address others see; its port tells it apart on loopback.
        return peers.filter { $0 != endpoint && !(endpoint.address == 0 && $0.port == endpoint.port && $0.isLocal) }
    }

    /// Fetches, pins and announces a replica, then answers: the asker learns who holds the blob without
    /// watching the DHT. Replicas are made one at a time on their own queue, so a second request for the same
    /// blob waits for the first and then finds it complete.
    ///
    /// Before anything is fetched: `acceptsReplicas`, then `acceptsReplica`, then room among
    /// `maxPendingReplicas`; the fetch itself refuses a manifest declaring more than `maxReplicaSize`. Every
    /// refusal is counted in `statistics`.
    func acceptReplica(_ blob: BlobID, from source: Endpoint) -> Bool {
        guard configuration.acceptsReplicas else { return refuseReplica(BlobPeerStatistics.notAccepting) }
        if let wanted = configuration.acceptsReplica, !wanted(blob, source) {
            return refuseReplica(BlobPeerStatistics.notWanted)
        }
        let admitted = replicaState.withLock { state in
            guard state.pending < configuration.maxPendingReplicas else { return false }
            state.pending += 1
            return true
        }
        guard admitted else { return refuseReplica(BlobPeerStatistics.busy) }
        defer { replicaState.withLock { $0.pending -= 1 } }
        return acceptQueue.sync {
            if !store.isComplete(blob) {
                let holders = [source] + self.holders(blob).filter { $0 != source }
                do {
                    let report = try fetcher.fetch(blob, from: holders, maxSize: configuration.maxReplicaSize)
                    log("holding a replica of \(blob.hex) (\(report.size) bytes from \(report.chunksByHolder.count) holders)")
                } catch let error as FetchError where error.code == .tooLarge {
                    log("refused a replica of \(blob.hex): \(error)")
                    return refuseReplica(BlobPeerStatistics.tooLarge)
                } catch {
                    log("could not replicate \(blob.hex): \(error)")
                    return refuseReplica(BlobPeerStatistics.fetchFailed)
                }
            }
            try? store.pin(blob)
            announce(blob)
            replicaState.withLock { $0.statistics.replicasAccepted += 1 }
            return true
        }
    }

    /// Counts a refused replica request; false, for the answer.
    private func refuseReplica(_ reason: String) -> Bool {
        replicaState.withLock { $0.statistics.replicasRefused[reason, default: 0] += 1 }
        return false
    }

    // MARK: Repair

    /// Checks every complete blob held here: when fewer than `replicas` other holders answer, asks more nodes.
    public func repair() {
        for info in store.list() where info.complete {
            let others = holders(info.id).filter { answers($0, for: info.id) }
            if others.count < configuration.replicas {
                let asked = replicate(info.id, excluding: Set(others))
                log("repair: \(info.id.hex) had \(others.count) other live holders; asked \(asked.count) more")
            }
        }
    }

    /// True when `holder` answers for the blob's manifest.
    func answers(_ holder: Endpoint, for blob: BlobID) -> Bool {
        guard
            let connection = try? FrameConnection.connect(
                to: holder, from: localHost, timeout: 3, limits: FrameLimits())
        else { return false }
        defer { connection.close() }
        guard (try? connection.send(BlobWire.request("manifest", blob: blob))) != nil,
            let reply = try? connection.receive(timeout: 5)
        else { return false }
        return BlobWire.op(reply) == "manifest"
    }

    // MARK: Get

    /// Fetches a blob from its holders into the store and writes it to `file`.
    public func get(
        _ blob: BlobID, to file: URL, extraHolders: [Endpoint] = [],
        progress: @escaping @Sendable (FetchProgress) -> Void = { _ in }
    ) throws -> FetchReport {
        var holders = extraHolders
        if !store.isComplete(blob) { holders += self.holders(blob).filter { !extraHolders.contains($0) } }
        let report: FetchReport
        if store.isComplete(blob), let manifest = try store.manifest(blob) {
            report = FetchReport(
                blob: blob, size: Int64(manifest.size), chunksFetched: 0, chunksPresent: manifest.chunkHashes.count,
                chunksByHolder: [:], badHolders: [:], unusableHolders: [:], wireBytes: 0, seconds: 0)
        } else {
            report = try fetcher.fetch(blob, from: holders, progress: progress)
        }
        try store.export(blob, to: file)
        return report
    }
}

/// A peer that cannot start or do what it was asked.
public struct BlobPeerError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
