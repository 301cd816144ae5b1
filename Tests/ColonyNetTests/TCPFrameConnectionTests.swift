import ColonyCore
import Dispatch
import Synchronization
import Testing

@testable import ColonyNet

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite struct TCPFrameConnectionTests {
    @Test func connectingToAClosedPortNamesTheEndpointAndTheReason() throws {
        // A port bound by a socket that does not listen: connections to it are refused, and no test running in
        // parallel can be given the port while it is held (a port freed by a stopped server could be).
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(holder >= 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(holder, raw, length) == 0 && getsockname(holder, raw, &length) == 0
            }
        }
        #expect(bound)
        let endpoint = Endpoint(address: 0x7F00_0001, port: UInt16(bigEndian: address.sin_port))
        #expect {
            _ = try FrameConnection.connect(to: endpoint, timeout: TCPTestSupport.timeout)
        } throws: { error in
            guard let error = error as? FrameTransportError else { return false }
            return error.code == .connectFailed && error.errorNumber == ECONNREFUSED
                && error.description.contains(endpoint.description) && error.description.contains("refused")
        }
    }

    @Test func aFrameOverTheLimitsIsNotSentAndTheConnectionStaysUsable() throws {
        let server = try TCPTestSupport.echoServer()
        defer { server.stop() }
        let limits = FrameLimits(maxHeader: 64, maxPayload: 100)
        let client = try TCPTestSupport.connect(to: server, limits: limits)
        defer { client.close() }
        #expect(throws: FrameTransportError.self) {
            try client.send(Frame(header: [:], payload: TCPTestSupport.pattern(101)))
        }
        #expect(throws: FrameTransportError.self) {
            try client.send(Frame(header: ["k": .bytes(TCPTestSupport.pattern(100))]))
        }
        // A batch with one bad frame sends none of it.
        #expect(throws: FrameTransportError.self) {
            try client.send([Frame(header: ["i": 5]), Frame(header: [:], payload: TCPTestSupport.pattern(101))])
        }
        try TCPTestSupport.roundTrip(client, index: 1, payload: TCPTestSupport.pattern(50))
        #expect(server.statistics.framesIn == 1)
    }

    @Test func aReplyOverTheClientsLimitsIsAProtocolError() throws {
        let server = try TCPTestSupport.echoServer()
        defer { server.stop() }
        let small = FrameLimits(maxHeader: 1000, maxPayload: 100)
        let client = try TCPTestSupport.connect(to: server, limits: small)
        defer { client.close() }
        try client.send(Frame(header: [:], payload: TCPTestSupport.pattern(100)))
        _ = try client.receive(timeout: TCPTestSupport.timeout)
        // A 991-byte header fits the client's limit; the server's echo adds "n" and "p" and does not.
        let request = Frame(header: ["pad": .bytes(TCPTestSupport.pattern(980))])
        #expect(request.encoded().count == 8 + 991)
        try client.send(request)
        #expect {
            _ = try client.receive(timeout: TCPTestSupport.timeout)
        } throws: { error in
            (error as? FrameTransportError)?.code == .headerTooLarge
        }
        // The stream is out of step now: further use is refused.
        #expect {
            _ = try client.receive(timeout: 1)
        } throws: { error in
            (error as? FrameTransportError)?.code == .notConnected
        }
    }

    @Test func aTimeoutBetweenFramesLeavesTheConnectionUsable() throws {
        let server = FrameServer(host: "127.0.0.1", port: 0) { request, _ in
            request.header["quiet"] == nil ? [request] : []
        }
        try server.start()
        defer { server.stop() }
        let client = try TCPTestSupport.connect(to: server)
        defer { client.close() }
        try client.send(Frame(header: ["quiet": 1]))
        #expect {
            _ = try client.receive(timeout: 0.2)
        } throws: { error in
            (error as? FrameTransportError)?.code == .timedOut
        }
        try TCPTestSupport.roundTrip(client, index: 4)
    }

    @Test func closeWakesAThreadBlockedInReceive() throws {
        let server = FrameServer(host: "127.0.0.1", port: 0) { _, _ in [] }
        try server.start()
        defer { server.stop() }
        let client = try TCPTestSupport.connect(to: server)
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<FrameTransportError.Code?>(nil)
        DispatchQueue.global().async {
            do {
                _ = try client.receive(timeout: TCPTestSupport.timeout)
            } catch {
                outcome.withLock { $0 = (error as? FrameTransportError)?.code }
            }
            done.signal()
        }
        try client.send(Frame(header: [:]))
        // Whether close comes before or during the receive, the receive ends with notConnected.
        client.close()
        #expect(done.wait(timeout: .now() + TCPTestSupport.timeout) == .success)
        #expect(outcome.withLock { $0 } == .notConnected)
        #expect(throws: FrameTransportError.self) { try client.send(Frame(header: [:])) }
    }

    @Test func sendAndReceiveMayRunOnDifferentThreads() throws {
        let server = try TCPTestSupport.echoServer()
        defer { server.stop() }
        let client = try TCPTestSupport.connect(to: server)
        defer { client.close() }
        let count = 64
        let sent = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            for index in 0..<count {
                try? client.send(Frame(header: ["i": .integer(Int64(index))], payload: TCPTestSupport.pattern(100_000)))
            }
            sent.signal()
        }
        for index in 0..<count {
            let reply = try client.receive(timeout: TCPTestSupport.timeout)
            #expect(reply.header["i"]?.integer == Int64(index))
            #expect(reply.payload.count == 100_000)
        }
        #expect(sent.wait(timeout: .now() + TCPTestSupport.timeout) == .success)
    }

    @Test func loopbackCopyMovesEveryByte() throws {
        let rate = try LoopbackCopy.measure(bytes: 8 << 20, bufferSize: 64 << 10)
        #expect(rate > 0)
        #expect(rate.isFinite)
    }

    @Test func theThroughputBenchmarkChecksEveryReply() throws {
        var benchmark = FrameThroughputBenchmark()
        benchmark.totalBytes = 8 << 20
        benchmark.chunkSize = 256 << 10
        let result = try benchmark.run()
        #expect(result.bytes == 8 << 20)
        #expect(result.statistics.framesOut == 32)
        #expect(result.statistics.protocolErrors == 0)
    }
}
