/// What a `FrameServer` handler knows about the connection a request frame came on.
public struct FrameConnectionContext: Sendable, Hashable {
    /// The client's address and port.
    public var peer: Endpoint
    /// A number unique among the server's connections since it was made, counting from 1.
    public var connectionID: UInt64

    /// A context for connection `connectionID` from `peer`.
    public init(peer: Endpoint, connectionID: UInt64) {
        self.peer = peer
        self.connectionID = connectionID
    }
}
