import ColonyCore
import Dispatch
import Foundation
import Synchronization
import Testing

@testable import ColonyNet

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A flooder against a real FrameServer on loopback: more connections than its address may have, frames faster than
/// its rate, a frame trickled a byte at a time, frames that would hold too much memory. Each attack is refused and
/// counted, and a well-behaved client (on another loopback address, so another client address) is still served.
@Suite struct TCPFrameServerProtectionTests {
    /// A server with `protection` and the test's defaults otherwise.
    private func server(
        _ protection: FrameServerProtection, idleTimeout: Double = 30, limits: FrameLimits = FrameLimits(),
        overloadReply: (@Sendable (Frame) -> Frame?)? = nil
    ) throws -> FrameServer {
        try TCPTestSupport.echoServer(
            limits: limits, idleTimeout: idleTimeout, protection: protection, overloadReply: overloadReply)
    }

    // MARK: Connections per address

    @Test func connectionsOverTheAddressCapAreRefusedAndOtherAddressesServed() throws {
        var protection = FrameServerProtection()
        protection.maxConnectionsPerAddress = 3
        let server = try server(protection)
        defer { server.stop() }
        let admitted = try (0..<3).map { _ in try TCPTestSupport.connect(to: server) }
        defer { for connection in admitted { connection.close() } }
        // A round trip on each proves all three are admitted before the fourth arrives.
        for (index, connection) in admitted.enumerated() {
            try TCPTestSupport.roundTrip(connection, index: Int64(index))
        }
        let fourth = try TCPTestSupport.connect(to: server)
        defer { fourth.close() }
        #expect(TCPTestSupport.waitForClose(fourth))
        #expect(server.statistics.refusedPerAddress == 1)
        #expect(server.statistics.refusals["per address"] == 1)

        // Another address has its own allowance.
        let other = try TCPTestSupport.connect(to: server, from: "127.0.0.2")
        defer { other.close() }
        try TCPTestSupport.roundTrip(other)
        #expect(other.localEndpoint?.host == "127.0.0.2")

        // A connection that ends frees its place: a new one from the first address is admitted once the server has
        // seen the close (each refused attempt is answered by a close at once, so this loop does not wait long).
        admitted[0].close()
        var served = false
        for _ in 0..<1_000 where !served {
            let again = try TCPTestSupport.connect(to: server)
            defer { again.close() }
            served = (try? TCPTestSupport.roundTrip(again, index: 9)) != nil
        }
        #expect(served)
        #expect(server.statistics.refusedOverLimit == 0)
    }

    // MARK: Request rate

    @Test func framesOverTheRateGetTheOverloadReplyInOrder() throws {
        var protection = FrameServerProtection()
        // No refill during the test: exactly the burst is served.
        protection.requestRate = RateLimit(datagramsPerSecond: 0, burst: 5, trackedAddresses: 16)
        let server = try server(protection) { request in
            Frame(header: ["busy": 1, "i": request.header["i"] ?? 0])
        }
        defer { server.stop() }
        let client = try TCPTestSupport.connect(to: server)
        defer { client.close() }
        try client.send((0..<20).map { Frame(header: ["i": .integer(Int64($0))], payload: [1, 2, 3]) })
        for index in 0..<20 {
            let reply = try client.receive(timeout: TCPTestSupport.timeout)
            // Every frame gets exactly one answer, in order: the pipelining client stays in step.
            #expect(reply.header["i"]?.integer == Int64(index))
            #expect((reply.header["busy"] != nil) == (index >= 5))
        }
        #expect(server.statistics.framesRateLimited == 15)
        #expect(server.statistics.framesIn == 20)

        // Another address has its own bucket; the first one's stays empty.
        let other = try TCPTestSupport.connect(to: server, from: "127.0.0.3")
        defer { other.close() }
        try TCPTestSupport.roundTrip(other, index: 1)
        try client.send(Frame(header: ["i": 99]))
        #expect(try client.receive(timeout: TCPTestSupport.timeout).header["busy"] != nil)
    }

    @Test func framesOverTheRateWithoutAnOverloadReplyAreDropped() throws {
        var protection = FrameServerProtection()
        protection.requestRate = RateLimit(datagramsPerSecond: 0, burst: 3, trackedAddresses: 16)
        let server = try server(protection)
        defer { server.stop() }
        let client = try TCPTestSupport.connect(to: server)
        defer { client.close() }
        try client.send((0..<10).map { Frame(header: ["i": .integer(Int64($0))]) })
        for index: Int64 in 0..<3 {
            #expect(try client.receive(timeout: TCPTestSupport.timeout).header["i"]?.integer == index)
        }
        // Nothing more comes; the connection stays open (a timeout with no frame begun leaves it usable).
        #expect {
            _ = try client.receive(timeout: 0.5)
        } throws: { error in
            (error as? FrameTransportError)?.code == .timedOut
        }
        #expect(server.statistics.framesRateLimited == 7)
        #expect(server.statistics.framesOut == 3)
    }

    // MARK: Whole-frame deadline

    /// Sends `bytes` one at a time, `gap` seconds apart, until the server closes the socket; returns how many went.
    private func trickle(_ bytes: [UInt8], on socket: StreamSocket, gap: Double) -> Int {
        for (index, byte) in bytes.enumerated() {
            guard TCPTestSupport.send([byte], on: socket) else { return index }
            // The attacker's pace, not a wait for the server: the server is expected to cut this short.
            usleep(useconds_t(gap * 1e6))
        }
        return bytes.count
    }

    @Test func aClientTricklingAFrameIsClosedAtTheFrameDeadlineThoughItNeverIdles() throws {
        var protection = FrameServerProtection()
        protection.frameTimeout = 0.5
        protection.minimumFrameRate = 1e9  // no size allowance to speak of
        // Each byte comes well within the idle timeout, so only the frame deadline can end this.
        let server = try server(protection, idleTimeout: 5)
        defer { server.stop() }
        let socket = try TCPTestSupport.rawSocket(to: server)
        defer { socket.close() }
        // A frame announcing a 2-byte header and 200 bytes of payload, sent a byte every 50 ms: 10 s in all.
        let frame = [0, 0, 0, 2, 0, 0, 0, 200] + Array("de".utf8) + [UInt8](repeating: 7, count: 200)
        let started = Instant.monotonicNow()
        let sent = trickle(frame, on: socket, gap: 0.05)
        #expect(TCPTestSupport.waitForClose(socket))
        let seconds = Instant.monotonicNow().seconds(since: started)
        #expect(sent < frame.count)
        #expect(seconds < 5, "closed after \(seconds) s; the frame deadline is 0.5 s")
        let statistics = server.statistics
        #expect(statistics.closedSlowFrame == 1)
        #expect(statistics.closedIdle == 0)
        #expect(statistics.framesIn == 0)
        #expect(statistics.refusals["slow frame"] == 1)
        // The thread is free again: a client is served.
        let client = try TCPTestSupport.connect(to: server)
        defer { client.close() }
        try TCPTestSupport.roundTrip(client)
    }

    @Test func tricklersCannotHoldEveryThread() throws {
        var protection = FrameServerProtection()
        protection.frameTimeout = 0.3
        protection.minimumFrameRate = 1e9
        protection.maxConnectionsPerAddress = nil
        let server = try TCPTestSupport.echoServer(maxConnections: 4, idleTimeout: 5, protection: protection)
        defer { server.stop() }
        // Four tricklers take all four threads...
        let sockets = try (0..<4).map { _ in try TCPTestSupport.rawSocket(to: server) }
        defer { for socket in sockets { socket.close() } }
        let frame = [0, 0, 0, 2, 0, 0, 0, 100] + Array("de".utf8) + [UInt8](repeating: 1, count: 100)
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            _ = trickle(frame, on: sockets[index], gap: 0.03)
        }
        // ...each is cut off at its frame deadline, and then a client gets a thread.
        for socket in sockets { #expect(TCPTestSupport.waitForClose(socket)) }
        #expect(server.statistics.closedSlowFrame == 4)
        let client = try TCPTestSupport.connect(to: server)
        defer { client.close() }
        try TCPTestSupport.roundTrip(client)
    }

    @Test func aLargeFrameSentBrisklyIsNotCutOff() throws {
        var protection = FrameServerProtection()
        protection.frameTimeout = 0.2
        let server = try server(protection)
        defer { server.stop() }
        let client = try TCPTestSupport.connect(to: server)
        defer { client.close() }
        // 16 MiB: its allowance is 0.2 s + 256 s at 64 KiB/s; loopback takes a fraction of a second.
        try TCPTestSupport.roundTrip(client, payload: TCPTestSupport.pattern(16 << 20))
        #expect(server.statistics.closedSlowFrame == 0)
    }

    // MARK: Memory

    @Test func framesThatWouldHoldTooMuchMemoryCloseTheirConnection() throws {
        let limits = FrameLimits(maxHeader: 1_024, maxPayload: 100_000)
        var protection = FrameServerProtection()
        // Room for exactly one frame at the limits.
        protection.maxRequestBytesInFlight = Frame.prefixLength + 1_024 + 100_000
        let started = DispatchSemaphore(value: 0)
        let proceed = DispatchSemaphore(value: 0)
        let server = FrameServer(host: "127.0.0.1", port: 0, limits: limits, protection: protection) { request, _ in
            if request.header["hold"] != nil {
                started.signal()
                proceed.wait()
            }
            return [Frame(header: ["n": .integer(Int64(request.payload.count))])]
        }
        try server.start()
        defer { server.stop() }
        // The first request is held in its handler, so its 90,000 bytes stay reserved.
        let holder = try TCPTestSupport.connect(to: server, limits: limits)
        defer { holder.close() }
        try holder.send(Frame(header: ["hold": 1], payload: TCPTestSupport.pattern(90_000)))
        started.wait()
        #expect(server.statistics.requestBytesInFlight > 90_000)
        // A second large request does not fit: refused from its lengths, its connection closed.
        let greedy = try TCPTestSupport.connect(to: server, from: "127.0.0.4", limits: limits)
        defer { greedy.close() }
        try greedy.send(Frame(header: [:], payload: TCPTestSupport.pattern(50_000)))
        #expect(TCPTestSupport.waitForClose(greedy))
        #expect(server.statistics.refusedOverMemory == 1)
        // A small one still fits.
        let small = try TCPTestSupport.connect(to: server, from: "127.0.0.5", limits: limits)
        defer { small.close() }
        try small.send(Frame(header: [:], payload: TCPTestSupport.pattern(1_000)))
        #expect(try small.receive(timeout: TCPTestSupport.timeout).header["n"]?.integer == 1_000)
        // Once the first is answered its bytes are free again.
        proceed.signal()
        #expect(try holder.receive(timeout: TCPTestSupport.timeout).header["n"]?.integer == 90_000)
        try holder.send(Frame(header: [:], payload: TCPTestSupport.pattern(100_000)))
        #expect(try holder.receive(timeout: TCPTestSupport.timeout).header["n"]?.integer == 100_000)
        server.stop()
        #expect(server.statistics.requestBytesInFlight == 0)
    }

    // MARK: Bind before connect

    @Test(arguments: ["127.0.0.7", "127.0.42.1"])
    func aConnectionBoundToALocalAddressComesFromIt(host: String) throws {
        let server = try TCPTestSupport.echoServer()
        defer { server.stop() }
        let client = try TCPTestSupport.connect(to: server, from: host)
        defer { client.close() }
        try client.send(Frame(header: ["i": 1]))
        let reply = try client.receive(timeout: TCPTestSupport.timeout)
        // The server saw the bound address, not 127.0.0.1.
        #expect(reply.header["p"]?.string == host)
        #expect(client.localEndpoint?.host == host)
        #expect(client.localEndpoint?.port != 0)
    }

    @Test(arguments: [nil, "", "0.0.0.0"] as [String?])
    func noLocalHostLeavesTheChoiceToTheSystem(host: String?) throws {
        let server = try TCPTestSupport.echoServer()
        defer { server.stop() }
        let client = try TCPTestSupport.connect(to: server, from: host)
        defer { client.close() }
        try client.send(Frame(header: ["i": 1]))
        #expect(try client.receive(timeout: TCPTestSupport.timeout).header["p"]?.string == "127.0.0.1")
    }

    @Test(arguments: ["127.0.0", "example.org"])
    func aBadLocalHostIsAConfigurationError(host: String) throws {
        let server = try TCPTestSupport.echoServer()
        defer { server.stop() }
        #expect {
            _ = try TCPTestSupport.connect(to: server, from: host)
        } throws: { error in
            let error = error as? FrameTransportError
            return error?.code == .invalidConfiguration && error?.description.contains(host) == true
        }
    }

    @Test func anAddressOfAnotherHostCannotBeBound() throws {
        let server = try TCPTestSupport.echoServer()
        defer { server.stop() }
        // 192.0.2.1 (TEST-NET-1) is no address of this host.
        #expect {
            _ = try TCPTestSupport.connect(to: server, from: "192.0.2.1")
        } throws: { error in
            let error = error as? FrameTransportError
            return error?.code == .connectFailed && error?.errorNumber == EADDRNOTAVAIL
                && error?.description.contains("192.0.2.1") == true
        }
    }

    // MARK: Settings

    @Test(arguments: [
        "maxConnectionsPerAddress", "requestRate", "frameTimeout", "minimumFrameRate", "maxRequestBytesInFlight",
    ])
    func aBadProtectionSettingIsNamed(field: String) {
        var protection = FrameServerProtection()
        switch field {
        case "maxConnectionsPerAddress": protection.maxConnectionsPerAddress = 0
        case "requestRate": protection.requestRate = RateLimit(burst: 0)
        case "frameTimeout": protection.frameTimeout = 0
        case "minimumFrameRate": protection.minimumFrameRate = .nan
        default: protection.maxRequestBytesInFlight = 1_000
        }
        let server = FrameServer(host: "127.0.0.1", port: 0, protection: protection) { _, _ in [] }
        #expect {
            try server.start()
        } throws: { error in
            let error = error as? FrameTransportError
            return error?.code == .invalidConfiguration && error?.description.contains(field) == true
        }
    }
}
