import ColonyNet
import Dispatch
import Synchronization
import Testing

/// Answers every datagram with the same bytes.
private final class EchoService: DatagramService {
    func receive(_ bytes: [UInt8], from source: Endpoint, now: Instant) -> [Datagram] { [Datagram(bytes, to: source)] }
    func tick(now: Instant) -> [Datagram] { [] }
    var nextDeadline: Instant? { nil }
}

/// Records what it receives and signals a semaphore for each datagram.
private final class RecordingService: DatagramService, Sendable {
    let received = Mutex<[Datagram]>([])
    let arrived = DispatchSemaphore(value: 0)

    func receive(_ bytes: [UInt8], from source: Endpoint, now: Instant) -> [Datagram] {
        received.withLock { $0.append(Datagram(bytes, to: source)) }
        arrived.signal()
        return []
    }
    func tick(now: Instant) -> [Datagram] { [] }
    var nextDeadline: Instant? { nil }

    /// Waits for one more datagram, generously: the test fails, rather than hangs, when none comes.
    func waitForDatagram() -> Bool { arrived.wait(timeout: .now() + .seconds(10)) == .success }
}

/// Asks to be ticked at a deadline set from outside, and records the ticks.
private final class TimerService: DatagramService, Sendable {
    private let state = Mutex<(deadline: Instant?, ticks: [Instant])>((nil, []))
    let ticked = DispatchSemaphore(value: 0)

    func set(deadline: Instant) { state.withLock { $0.deadline = deadline } }
    var ticks: [Instant] { state.withLock { $0.ticks } }

    func receive(_ bytes: [UInt8], from source: Endpoint, now: Instant) -> [Datagram] { [] }
    func tick(now: Instant) -> [Datagram] {
        state.withLock {
            $0.ticks.append(now)
            $0.deadline = nil
        }
        ticked.signal()
        return []
    }
    var nextDeadline: Instant? { state.withLock { $0.deadline } }
}

private func loopback(_ host: String = "127.0.0.1") -> UDPConfiguration {
    UDPConfiguration(host: host, port: 0)
}

@Suite struct UDPRuntimeTests {
    @Test func echoesOverLoopback() throws {
        let server = UDPRuntime(service: EchoService(), configuration: loopback())
        let recorder = RecordingService()
        let client = UDPRuntime(service: recorder, configuration: loopback())
        try server.start()
        try client.start()
        defer {
            server.stop()
            client.stop()
        }
        let serverEndpoint = server.localEndpoint
        #expect(serverEndpoint.host == "127.0.0.1")
        #expect(serverEndpoint.port != 0)

        client.withService { _, _ in [Datagram([1, 2, 3], to: serverEndpoint)] }
        #expect(recorder.waitForDatagram())
        let received = recorder.received.withLock { $0 }
        #expect(received == [Datagram([1, 2, 3], to: serverEndpoint)])
        // The server counts a send after making it; a turn of its queue makes sure the count is in.
        server.sync { _, _ in ((), []) }
        #expect(server.statistics.received == 1)
        #expect(server.statistics.sent == 1)
        #expect(client.statistics.sent == 1)
        #expect(client.statistics.received == 1)
        // Three bytes each way.
        #expect(server.statistics.bytesReceived == 3 && server.statistics.bytesSent == 3)
        #expect(client.statistics.bytesSent == 3 && client.statistics.bytesReceived == 3)
    }

    @Test func dropsAndCountsOversizeDatagrams() throws {
        var configuration = loopback()
        configuration.maxDatagramSize = 100
        let server = UDPRuntime(service: EchoService(), configuration: configuration)
        let recorder = RecordingService()
        let client = UDPRuntime(service: recorder, configuration: loopback())
        try server.start()
        try client.start()
        defer {
            server.stop()
            client.stop()
        }
        let target = server.localEndpoint
        // Datagrams from one socket to another on loopback keep their order: when the small one's echo is back,
        // the large one has been read and dropped.
        client.sync { _, _ in
            (
                (),
                [
                    Datagram([UInt8](repeating: 7, count: 101), to: target),
                    Datagram([UInt8](repeating: 1, count: 100), to: target),
                ]
            )
        }
        #expect(recorder.waitForDatagram())
        #expect(recorder.received.withLock { $0.map(\.bytes.count) } == [100])
        #expect(server.statistics.droppedOversize == 1)
        #expect(server.statistics.received == 1)
    }

    @Test func rateLimitDropsAFloodButServesOtherAddresses() throws {
        var configuration = loopback()
        // Practically no refill during the test, so the count does not depend on how fast the machine is.
        configuration.rateLimit = RateLimit(datagramsPerSecond: 0.001, burst: 5)
        let server = UDPRuntime(service: EchoService(), configuration: configuration)
        let flooded = RecordingService()
        let flooder = UDPRuntime(service: flooded, configuration: loopback("127.0.0.2"))
        let bystander = RecordingService()
        let other = UDPRuntime(service: bystander, configuration: loopback("127.0.0.3"))
        try server.start()
        try flooder.start()
        try other.start()
        defer {
            server.stop()
            flooder.stop()
            other.stop()
        }
        let target = server.localEndpoint
        flooder.sync { _, _ in ((), (0..<50).map { Datagram([UInt8($0)], to: target) }) }
        other.sync { _, _ in ((), [Datagram([99], to: target)]) }
        #expect(bystander.waitForDatagram())
        #expect(bystander.received.withLock { $0.map(\.bytes) } == [[99]])
        let statistics = server.statistics
        #expect(statistics.droppedRateLimited == 45)
        #expect(statistics.received == 6)
        for _ in 0..<5 { #expect(flooded.waitForDatagram()) }
        #expect(flooded.received.withLock { $0.map(\.bytes) } == (0..<5).map { [UInt8($0)] })
    }

    @Test func timerFiresAtTheServiceDeadline() throws {
        let service = TimerService()
        let runtime = UDPRuntime(service: service, configuration: loopback())
        try runtime.start()
        defer { runtime.stop() }
        let deadline = runtime.sync { _, now in
            let deadline = now.adding(seconds: 0.05)
            service.set(deadline: deadline)
            return (deadline, [])
        }
        #expect(service.ticked.wait(timeout: .now() + .seconds(10)) == .success)
        let ticks = service.ticks
        #expect(ticks.count == 1)
        #expect(try #require(ticks.first) >= deadline)
    }

    @Test func bindFailureNamesTheAddressAndReason() throws {
        let first = UDPRuntime(service: EchoService(), configuration: loopback())
        try first.start()
        defer { first.stop() }
        let port = first.localEndpoint.port
        let second = UDPRuntime(service: EchoService(), configuration: UDPConfiguration(host: "127.0.0.1", port: port))
        let error = try #require(throws: UDPRuntimeError.self) { try second.start() }
        #expect(error.description.hasPrefix("cannot bind 127.0.0.1:\(port): "))
        #expect(error.description.hasSuffix("(errno \(error.code))"))
    }

    @Test func invalidConfigurationNamesTheField() {
        var configuration = UDPConfiguration(host: "my.host", port: 1)
        #expect(
            throws: UDPConfigurationError(
                field: "host", message: "must be an IPv4 address like 0.0.0.0, got \"my.host\"")
        ) {
            try configuration.validate()
        }
        configuration.host = "0.0.0.0"
        configuration.maxDatagramSize = 0
        #expect((try? configuration.validate()) == nil)
    }

    @Test func stopIsIdempotentAndRestartBindsAgain() throws {
        let recorder = RecordingService()
        let runtime = UDPRuntime(service: recorder, configuration: loopback())
        try runtime.start()
        runtime.stop()
        runtime.stop()
        try runtime.start()
        let sender = UDPRuntime(service: EchoService(), configuration: loopback())
        try sender.start()
        defer {
            runtime.stop()
            sender.stop()
        }
        let target = runtime.localEndpoint
        sender.sync { _, _ in ((), [Datagram([5], to: target)]) }
        #expect(recorder.waitForDatagram())
    }
}
