#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP frame connection or server that failed: names the peer or listening address, what went wrong, and the
/// system's reason when there is one.
public struct FrameTransportError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What kind of failure; new kinds may be added.
    public enum Code: String, Sendable, Hashable {
        /// A `FrameLimits` or server setting is out of range.
        case invalidConfiguration
        /// A socket could not be opened, bound, or listened on.
        case listenFailed
        /// The connection could not be established.
        case connectFailed
        /// Nothing (or not a whole frame) arrived, or the peer did not take the bytes, within the time allowed.
        case timedOut
        /// The peer closed the connection (between frames, or in the middle of one).
        case closed
        /// A read or write failed with a system error (reset by the peer, for example).
        case socketFailed
        /// The peer announced a header longer than `FrameLimits.maxHeader`.
        case headerTooLarge
        /// The peer announced a payload longer than `FrameLimits.maxPayload`.
        case payloadTooLarge
        /// The header bytes are not one canonical bencoded dictionary.
        case malformedHeader
        /// A frame to be sent is over the limits; nothing of it was sent.
        case frameTooLarge
        /// The connection was closed by this side, or broken by an earlier timeout in the middle of a frame.
        case notConnected
    }

    /// What kind of failure.
    public var code: Code
    /// The peer or the listening address, "HOST:PORT"; empty for a configuration error.
    public var endpoint: String
    /// What happened and, where it helps, what to do.
    public var message: String
    /// The `errno` value, or 0 when the failure is not a system call's.
    public var errorNumber: Int32

    /// An error of kind `code` about `endpoint`.
    public init(code: Code, endpoint: String, message: String, errorNumber: Int32 = 0) {
        self.code = code
        self.endpoint = endpoint
        self.message = message
        self.errorNumber = errorNumber
    }

    /// A configuration error.
    static func invalidConfiguration(_ message: String) -> FrameTransportError {
        FrameTransportError(code: .invalidConfiguration, endpoint: "", message: message)
    }

    /// An error for the current `errno`.
    static func system(_ code: Code, _ endpoint: String, _ message: String) -> FrameTransportError {
        FrameTransportError(code: code, endpoint: endpoint, message: message, errorNumber: errno)
    }

    public var description: String {
        endpoint.isEmpty ? "TCP frames: \(reason)" : "TCP frames with \(endpoint): \(reason)"
    }

    /// What happened, with the system's reason, without the address: for a caller that names the peer itself.
    public var reason: String {
        errorNumber == 0 ? message : "\(message): \(String(cString: strerror(errorNumber))) (errno \(errorNumber))"
    }
}
