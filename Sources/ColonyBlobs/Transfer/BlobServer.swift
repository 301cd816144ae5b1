import ColonyCore
import ColonyNet
import Foundation

/// Serves manifests and chunks from a store over framed TCP, and accepts replication requests.
public final class BlobServer: @unchecked Sendable {
    /// The store served.
    public let store: BlobStore
    /// The TCP frame server.
    public let frames: FrameServer
    /// Called when a peer asks this one to hold a blob: (blob, where to fetch it from).
    private let onReplicate: @Sendable (BlobID, Endpoint) -> Bool
    /// Answers requests whose op is not a blob op (custody's `co_*`), sharing the port; nil answers 400.
    private let otherOperations: (@Sendable (Frame, Endpoint) -> Frame?)?

    /// A server for `store` on `host:port` (the node's UDP port number, DESIGN.md). `protection` bounds what one
    /// client address may take (connections, requests a second, time per frame) and the request bytes held; a
    /// request over its address's rate is answered with error 429.
    public init(
        store: BlobStore, host: String, port: UInt16, limits: FrameLimits = .init(),
        protection: FrameServerProtection = .init(),
        onReplicate: @escaping @Sendable (BlobID, Endpoint) -> Bool = { _, _ in false },
        otherOperations: (@Sendable (Frame, Endpoint) -> Frame?)? = nil
    ) {
        self.store = store
        self.onReplicate = onReplicate
        self.otherOperations = otherOperations
        let box = HandlerBox()
        frames = FrameServer(
            host: host, port: port, limits: limits, protection: protection,
            overloadReply: { _ in BlobWire.busy("too many requests from your address; slow down") }
        ) { frame, context in box.handle?(frame, context) ?? [] }
        box.handle = { [unowned self] frame, context in [self.answer(frame, from: context.peer)] }
    }

    /// Starts listening.
    public func start() throws { try frames.start() }

    /// Stops listening and closes every connection.
    public func stop() { frames.stop() }

    /// Where it listens.
    public var endpoint: Endpoint { frames.localEndpoint }

    func answer(_ frame: Frame, from peer: Endpoint) -> Frame {
        if let op = BlobWire.op(frame), op.hasPrefix("co_") {
            return otherOperations?(frame, peer) ?? BlobWire.error(400, "unknown op")
        }
        guard let op = BlobWire.op(frame), let blob = BlobWire.blob(frame) else {
            return BlobWire.error(400, "a request needs op and a 32-byte blob")
        }
        do {
            switch op {
            case "manifest":
                guard let manifest = try store.manifest(blob) else { return BlobWire.error(404, "not held: \(blob.hex)") }
                return BlobWire.reply("manifest", payload: manifest.encoded())
            case "chunk":
                guard let index = frame.header["index"]?.integer else { return BlobWire.error(400, "chunk needs index") }
                guard let manifest = try store.manifest(blob), index >= 0, index < manifest.chunkHashes.count else {
                    return BlobWire.error(404, "not held: \(blob.hex) chunk \(index)")
                }
                guard let bytes = try store.readChunk(manifest.chunkHashes[Int(index)]) else {
                    return BlobWire.error(404, "chunk \(index) of \(blob.hex) is missing")
                }
                let (payload, compressed) = BlobWire.encodeChunk(bytes)
                return BlobWire.reply("chunk", [("index", .integer(index)), ("z", .integer(compressed ? 1 : 0))], payload: payload)
            case "replicate":
                guard let port = frame.header["port"]?.integer, (1...65_535).contains(port) else {
                    return BlobWire.error(400, "replicate needs a port")
                }
                let source = Endpoint(address: peer.address, port: UInt16(port))
                return onReplicate(blob, source) ? BlobWire.reply("ok") : BlobWire.error(503, "not accepting replicas")
            default:
                return BlobWire.error(400, "unknown op")
            }
        } catch {
            return BlobWire.error(500, "\(error)")
        }
    }
}

private final class HandlerBox: @unchecked Sendable {
    var handle: ((Frame, FrameConnectionContext) -> [Frame])?
}
