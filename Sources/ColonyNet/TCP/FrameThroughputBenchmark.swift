import ColonyCore

/// Raw frame throughput over loopback, for `colony bench`-style commands: a `FrameServer` answers "chunk" requests
/// with a prebuilt payload, and one `FrameConnection` keeps a few requests in flight, as a blob fetcher does.
public struct FrameThroughputBenchmark: Sendable {
    /// Payload bytes to move in all.
    public var totalBytes: Int = 256 << 20
    /// Bytes of each reply's payload.
    public var chunkSize: Int = 1 << 20
    /// Requests the client keeps sent but unanswered.
    public var inFlight: Int = 4

    /// A benchmark with the defaults: 256 MiB in 1 MiB chunks, 4 requests in flight.
    public init() {}

    /// What one run measured.
    public struct Result: Sendable, CustomStringConvertible {
        /// Payload bytes received.
        public var bytes: Int
        /// Wall-clock seconds from the first request to the last reply.
        public var seconds: Double
        /// The server's counters after the run.
        public var statistics: FrameServerStatistics

        /// Payload bytes per second.
        public var bytesPerSecond: Double { Double(bytes) / max(seconds, 1e-9) }

        public var description: String {
            let rate = (bytesPerSecond / 1e6).rounded()
            return "\(bytes) payload bytes in \(seconds) s (\(rate) MB/s); server: \(statistics)"
        }
    }

    /// Starts a server on 127.0.0.1, moves `totalBytes` through it, and stops it.
    public func run() throws(FrameTransportError) -> Result {
        guard totalBytes > 0, chunkSize > 0, inFlight > 0 else {
            throw .invalidConfiguration(
                "FrameThroughputBenchmark needs totalBytes, chunkSize and inFlight above 0, "
                    + "got \(totalBytes), \(chunkSize), \(inFlight)")
        }
        let limits = FrameLimits(maxHeader: 64 << 10, maxPayload: max(chunkSize, FrameLimits().maxPayload))
        let chunk = (0..<chunkSize).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        // The rate check runs on every frame, as in service, but never refuses: this measures the transport.
        var protection = FrameServerProtection()
        protection.requestRate = RateLimit(datagramsPerSecond: 1e12, burst: 1e12, trackedAddresses: 16)
        protection.maxRequestBytesInFlight = max(protection.maxRequestBytesInFlight, 2 * limits.maxPayload)
        let server = FrameServer(
            host: "127.0.0.1", port: 0, limits: limits, maxConnections: 4, protection: protection
        ) { request, _ in
            guard request.header["m"]?.string == "chunk", let index = request.header["i"]?.integer else { return [] }
            return [Frame(header: ["i": .integer(index)], payload: chunk)]
        }
        try server.start()
        defer { server.stop() }
        let connection = try FrameConnection.connect(to: server.localEndpoint, timeout: 10, limits: limits)
        defer { connection.close() }

        let count = (totalBytes + chunkSize - 1) / chunkSize
        func request(_ index: Int) -> Frame { Frame(header: ["m": "chunk", "i": .integer(Int64(index))]) }
        let start = Instant.monotonicNow()
        var nextRequest = min(inFlight, count)
        try connection.send((0..<nextRequest).map(request))
        var received = 0
        for index in 0..<count {
            let reply = try connection.receive(timeout: 30)
            guard reply.header["i"]?.integer == Int64(index), reply.payload.count == chunkSize else {
                throw FrameTransportError(
                    code: .malformedHeader, endpoint: server.localEndpoint.description,
                    message: "reply \(index) came out of order or short: \(reply.header), \(reply.payload.count) bytes")
            }
            received += reply.payload.count
            if nextRequest < count {
                try connection.send(request(nextRequest))
                nextRequest += 1
            }
        }
        let seconds = Instant.monotonicNow().seconds(since: start)
        // The server counts a reply after writing it, so the client can hold the last one first: stopping the
        // server joins its connection threads, and then the counts are final.
        connection.close()
        server.stop()
        return Result(bytes: received, seconds: seconds, statistics: server.statistics)
    }
}
