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

    /// A node whose ID and table come from `stateFolder` when it holds them. `id` overrides the stored ID.
    public init(
        configuration: DHTConfiguration = .init(), udp: UDPConfiguration, stateFolder: URL?, id: NodeID? = nil
    ) throws {
        let stored = try stateFolder.flatMap { folder throws in try Self.storedTable(in: folder) }
        rememberedNodes = stored?.nodes ?? []
        self.stateFolder = stateFolder
        node = DHTNode(id: id ?? stored?.ownID, configuration: configuration, now: .monotonicNow())
        runtime = UDPRuntime(service: node, configuration: udp)
    }

    /// The node ID and nodes a node saved in `folder`, or nil when it saved none.
    public static func storedTable(in folder: URL) throws -> (ownID: NodeID, nodes: [NodeInfo])? {
        let url = folder.appendingPathComponent(tableFile)
        guard let data = try AtomicFile.read(url) else { return nil }
        guard let value = try? BencodeValue(decoding: Array(data), limits: .frame), let decoded = RoutingTable.decode(value)
        else {
            throw DHTStateError(path: url.path, reason: "not a Colony routing table; delete it to start afresh")
        }
        return decoded
    }

    /// Binds the socket and starts serving.
    public func start() throws {
        try runtime.start()
        let bound = runtime.localEndpoint
        if bound.address != 0 { setOwnEndpoint(bound) }
    }

    /// Tells the node the address others reach it at (`DHTNode.ownEndpoint`).
    public func setOwnEndpoint(_ endpoint: Endpoint) {
        withNode { node, _ in
            node.ownEndpoint = endpoint
            return ((), [])
        }
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

    /// Sets the handler of dial-back probes (called on the node's queue with the nonce and the source).
    public func onProbe(_ handler: @escaping @Sendable ([UInt8], Endpoint) -> Void) {
        withNode { node, _ in
            node.onProbe = handler
            return ((), [])
        }
    }

    /// Changes the node's BEP 43 role (`DHTNode.setReadOnly`).
    public func setReadOnly(_ readOnly: Bool, marksQueries: Bool) {
        withNode { node, _ in
            node.setReadOnly(readOnly, marksQueries: marksQueries)
            return ((), [])
        }
    }

    /// This node's address as three other nodes agree they see it (BEP 42), when they do.
    public var externalAddress: Endpoint? { withNode { node, _ in (node.externalAddress, []) } }

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

    /// Writes the node ID and table, for the next start.
    public func save() throws {
        guard let stateFolder else { return }
        try AtomicFile.createFolder(stateFolder)
        let table = withNode { node, _ in (node.table.encoded(), []) }
        try AtomicFile.write(Data(table.encoded()), to: stateFolder.appendingPathComponent(Self.tableFile))
    }
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
