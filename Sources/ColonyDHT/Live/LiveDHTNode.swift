import ColonyCore
import ColonyNet
import Foundation

/// A DHT node on a real UDP socket, with its ID and routing table kept in a data directory.
///
/// Operations block the calling thread until they finish (or a timeout passes): the CLI's one-shot commands
/// and tests use them from their own thread while the node runs on the runtime's queue.
public final class LiveDHTNode: @unchecked Sendable {
    /// The sans-I/O node. Touch it only inside `withNode`.
    private let node: DHTNode
    /// The socket runtime.
    public let runtime: UDPRuntime
    /// Where the node ID and table are kept; nil keeps nothing.
    public let stateFolder: URL?
    /// Nodes remembered from the last run, tried as bootstrap nodes.
    public let rememberedNodes: [NodeInfo]

    /// The file holding the node ID and table, bencoded.
    public static let tableFile = "table.bencode"
    /// The file with a readable snapshot for `colony dht stats`.
    public static let stateFile = "state.json"

    /// A node whose ID and table come from `stateFolder` when it holds them. `id` overrides the stored ID.
    public init(
        configuration: DHTConfiguration = .init(), udp: UDPConfiguration, stateFolder: URL?, id: NodeID? = nil
    ) throws {
        var storedID: NodeID?
        var remembered: [NodeInfo] = []
        if let stateFolder {
            let url = stateFolder.appendingPathComponent(Self.tableFile)
            if let data = try AtomicFile.read(url) {
                guard let value = try? BencodeValue(decoding: Array(data), limits: .frame),
                    let decoded = RoutingTable.decode(value)
                else {
                    throw DHTStateError(path: url.path, reason: "not a Colony routing table; delete it to start afresh")
                }
                storedID = decoded.ownID
                remembered = decoded.nodes
            }
        }
        rememberedNodes = remembered
        self.stateFolder = stateFolder
        node = DHTNode(id: id ?? storedID, configuration: configuration, now: .monotonicNow())
        runtime = UDPRuntime(service: node, configuration: udp)
    }

    /// Binds the socket and starts serving.
    public func start() throws {
        try runtime.start()
    }

    /// Closes the socket. Call `save` first to keep the table.
    public func stop() {
        runtime.stop()
    }

    /// The address the socket is bound to.
    public var endpoint: Endpoint { runtime.localEndpoint }

    /// Runs `body` on the node's queue and sends what it returns; returns its value.
    public func withNode<T>(_ body: (DHTNode, Instant) -> (T, [Datagram])) -> T {
        runtime.sync { service, now in body(service as! DHTNode, now) }
    }

    /// This node's ID.
    public var id: NodeID { withNode { node, _ in (node.id, []) } }

    /// Sets the event handler (called on the node's queue).
    public func onEvent(_ handler: @escaping @Sendable (DHTEvent) -> Void) {
        withNode { node, _ in
            node.onEvent = handler
            return ((), [])
        }
    }

    /// Starts an operation and waits for its completion; nil when `timeout` passes first.
    public func wait<T: Sendable>(
        timeout: Double = 60, _ start: @escaping (DHTNode, Instant, @escaping @Sendable (T) -> Void) -> [Datagram]
    ) -> T? {
        let box = ResultBox<T>()
        let semaphore = DispatchSemaphore(value: 0)
        withNode { node, now in
            ((), start(node, now) { value in
                box.set(value)
                semaphore.signal()
            })
        }
        guard semaphore.wait(timeout: .now() + timeout) == .success else { return nil }
        return box.value
    }

    /// Joins the network through `endpoints` and the remembered nodes; waits until the self-lookup finished
    /// or `timeout` passed (the node keeps retrying meanwhile), and returns the table's size.
    @discardableResult
    public func join(_ endpoints: [Endpoint], timeout: Double = 30) -> Int {
        let all = endpoints + rememberedNodes.map(\.endpoint)
        if !all.isEmpty {
            _ = wait(timeout: timeout) { node, now, done in node.bootstrap(from: all, now: now, whenJoined: done) }
        }
        return withNode { node, _ in (node.table.count, []) }
    }

    /// Writes the table (for the next start) and the readable snapshot.
    public func save() throws {
        guard let stateFolder else { return }
        try AtomicFile.createFolder(stateFolder)
        let (table, snapshot) = withNode { node, now in ((node.table.encoded(), Self.snapshot(node, endpoint: endpoint, now: now)), []) }
        try AtomicFile.write(Data(table.encoded()), to: stateFolder.appendingPathComponent(Self.tableFile))
        try AtomicFile.write(Data(snapshot.utf8), to: stateFolder.appendingPathComponent(Self.stateFile))
    }

    /// A JSON snapshot of the node: ID, endpoint, table, storage and counters.
    static func snapshot(_ node: DHTNode, endpoint: Endpoint, now: Instant) -> String {
        let stats = node.statistics
        let nodes = node.table.nodes.sorted { node.id.isCloser($0.id, than: $1.id) }
        var text = "{\n"
        text += "  \"id\": \"\(node.id.hex)\",\n"
        text += "  \"endpoint\": \"\(endpoint)\",\n"
        text += "  \"pid\": \(ProcessInfo.processInfo.processIdentifier),\n"
        text += "  \"updated\": \"\(utcTimestamp())\",\n"
        text += "  \"readOnly\": \(node.configuration.readOnly),\n"
        text += "  \"tableSize\": \(node.table.count),\n"
        text += "  \"buckets\": \(node.table.bucketCount),\n"
        text += "  \"items\": \(node.storage.itemCount),\n"
        text += "  \"peers\": \(node.storage.peerCount),\n"
        text += "  \"externalAddress\": \(node.externalAddress.map { "\"\($0)\"" } ?? "null"),\n"
        let queries = stats.queriesReceived.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }
        text += "  \"queriesReceived\": {\(queries.joined(separator: ", "))},\n"
        let errors = stats.errorsSent.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }
        text += "  \"errorsSent\": {\(errors.joined(separator: ", "))},\n"
        text += "  \"queriesSent\": \(stats.queriesSent), \"responsesReceived\": \(stats.responsesReceived), "
        text += "\"timeouts\": \(stats.timeouts), \"malformed\": \(stats.malformed), \"unmatched\": \(stats.unmatched),\n"
        let list = nodes.map { "    {\"id\": \"\($0.id.hex)\", \"endpoint\": \"\($0.endpoint)\"}" }
        text += "  \"nodes\": [\n\(list.joined(separator: ",\n"))\n  ]\n}\n"
        return text
    }
}

/// The current time as ISO 8601 UTC ("2026-11-21T22:24:25Z"), without Foundation's formatters: they load
/// ICU's data, several MiB of a node that should stay small.
func utcTimestamp() -> String {
    var seconds = time(nil)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    return String(
        format: "%04d-%02d-%02dT%02d:%02d:%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour,
        parts.tm_min, parts.tm_sec)
}

/// A data-directory file that cannot be used.
public struct DHTStateError: Error, CustomStringConvertible {
    /// The file.
    public var path: String
    /// What is wrong and what to do.
    public var reason: String

    public var description: String { "\(path): \(reason)" }
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?

    func set(_ value: T) { lock.withLock { stored = value } }
    var value: T? { lock.withLock { stored } }
}
