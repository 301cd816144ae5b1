/// What a `FrameServer` grants one client address, and how long a frame may take: the bounds that keep a flooder
/// from holding the server's threads, memory and handler time. Each is checked before work starts on a connection
/// or a frame.
public struct FrameServerProtection: Sendable, Hashable {
    /// Connections one IPv4 address may have open at once; more are accepted and closed at once. nil leaves only
    /// the server's `maxConnections`. A connection holds a thread, so without this cap one address could take
    /// every thread the server has.
    public var maxConnectionsPerAddress: Int? = 16
    /// Request frames each address may send: a token bucket per address (`datagramsPerSecond` counts frames here),
    /// shared by all its connections. Frames over the rate get `overloadReply` or nothing. nil: no limit. A blob
    /// fetch asks for one 1 MiB chunk per frame, so 500 a second is 500 MiB/s to one address.
    public var requestRate: RateLimit? = RateLimit(datagramsPerSecond: 500, burst: 1_000, trackedAddresses: 4_096)
    /// Seconds a client has to send a whole frame once its first byte arrived (plus the size allowance of
    /// `minimumFrameRate`). The idle timeout bounds each wait; this bounds their sum, so a client that trickles a
    /// byte now and then cannot hold a thread for ever.
    public var frameTimeout: Double = 20
    /// Bytes per second a large frame must come at, on average: a frame of n bytes has
    /// `frameTimeout + n / minimumFrameRate` seconds in all (17 MiB: 20 s + 272 s). Holding a thread long costs
    /// the client real bandwidth instead of a byte a minute.
    public var minimumFrameRate: Double = 65_536
    /// Bytes of request frames held at once over all connections, counted from the frame's lengths before anything
    /// is allocated and released once its replies are sent. A frame that would go over closes its connection.
    /// Without it, `maxConnections` clients each sending a frame at the payload limit hold 256 × 17 MiB.
    public var maxRequestBytesInFlight: Int = 256 << 20

    /// The defaults: 16 connections and 500 frames a second (bursts of 1,000) per address, 20 s per frame plus
    /// 1 s per 64 KiB, 256 MiB of requests in memory.
    public init() {}

    /// No per-address caps, no request rate, and the other bounds at their defaults: for a server whose clients
    /// all share one address (a swarm of peers on 127.0.0.1 in tests).
    public static var sharedAddress: FrameServerProtection {
        var protection = FrameServerProtection()
        protection.maxConnectionsPerAddress = nil
        protection.requestRate = nil
        return protection
    }

    /// Checks the fields; the error names the bad one.
    public func validate() throws(FrameTransportError) {
        if let maxConnectionsPerAddress, maxConnectionsPerAddress < 1 {
            throw .invalidConfiguration(
                "FrameServerProtection.maxConnectionsPerAddress is \(maxConnectionsPerAddress); set it to 1 or more, "
                    + "or nil for no cap")
        }
        if let requestRate {
            do {
                try requestRate.validate()
            } catch {
                throw .invalidConfiguration("FrameServerProtection.requestRate: \(error)")
            }
        }
        guard frameTimeout > 0, frameTimeout <= 1e6 else {
            throw .invalidConfiguration(
                "FrameServerProtection.frameTimeout is \(frameTimeout) s; set it above 0 and at most 1,000,000 s")
        }
        guard minimumFrameRate.isFinite, minimumFrameRate >= 1 else {
            throw .invalidConfiguration(
                "FrameServerProtection.minimumFrameRate is \(minimumFrameRate) bytes/s; set it to 1 or more")
        }
        guard maxRequestBytesInFlight >= 1 else {
            throw .invalidConfiguration(
                "FrameServerProtection.maxRequestBytesInFlight is \(maxRequestBytesInFlight); set it to 1 or more")
        }
    }
}
