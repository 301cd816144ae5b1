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
        /// The per-address UDP rate limit; nil turns it off (for many peers sharing one address, as in tests).
        public var rateLimit: RateLimit? = RateLimit()

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
    }

    /// Binds UDP and TCP on the same port number (with port 0, the first free number both accept).
    public func start() throws {
        let host = node.runtime.configuration.host
        var attempts = 0
        while true {
            try node.start()
            let server = BlobServer(
                store: store, host: host, port: node.endpoint.port,
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

    /// Asks `holder` to hold a replica; true once it answers that it does.
    private func askToHold(_ blob: BlobID, _ holder: Endpoint, timeout: Double) -> Bool {
        do {
            let connection = try FrameConnection.connect(to: holder, timeout: 5, limits: FrameLimits())
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
    private func acceptReplica(_ blob: BlobID, from source: Endpoint) -> Bool {
        guard configuration.acceptsReplicas else { return false }
        return acceptQueue.sync {
            if !store.isComplete(blob) {
                let holders = [source] + self.holders(blob).filter { $0 != source }
                do {
                    let report = try fetcher.fetch(blob, from: holders)
                    log("holding a replica of \(blob.hex) (\(report.size) bytes from \(report.chunksByHolder.count) holders)")
                } catch {
                    log("could not replicate \(blob.hex): \(error)")
                    return false
                }
            }
            try? store.pin(blob)
            announce(blob)
            return true
        }
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
        guard let connection = try? FrameConnection.connect(to: holder, timeout: 3, limits: FrameLimits()) else { return false }
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
