import ColonyCore
import Testing

@testable import ColonyNet

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Bytes that break the frame format, each sent on a fresh connection to a fresh server.
struct MalformedFrame: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    /// Whether the client closes its sending side after the bytes (a frame cut short).
    var closesAfter = false

    var testDescription: String { name }

    static func prefix(header: UInt32, payload: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        for value in [header, payload] {
            for shift: UInt32 in [24, 16, 8, 0] { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
        }
        return bytes
    }

    static let all: [MalformedFrame] = [
        MalformedFrame(name: "header length over maxHeader", bytes: prefix(header: 64 << 10 + 1, payload: 0)),
        MalformedFrame(name: "header length 4 GiB - 1", bytes: prefix(header: .max, payload: 0)),
        MalformedFrame(
            name: "payload length over maxPayload", bytes: prefix(header: 2, payload: 17 << 20 + 1) + Array("de".utf8)),
        MalformedFrame(name: "payload length 4 GiB - 1", bytes: prefix(header: 2, payload: .max)),
        MalformedFrame(name: "header is an integer", bytes: prefix(header: 4, payload: 0) + Array("i42e".utf8)),
        MalformedFrame(name: "header is a list", bytes: prefix(header: 4, payload: 0) + Array("le".utf8) + [0, 0]),
        MalformedFrame(name: "empty header", bytes: prefix(header: 0, payload: 0)),
        MalformedFrame(name: "header is not bencode", bytes: prefix(header: 5, payload: 0) + Array("hello".utf8)),
        MalformedFrame(
            name: "header keys out of order", bytes: prefix(header: 14, payload: 0) + Array("d1:bi1e1:ai2ee".utf8)),
        MalformedFrame(
            name: "header with bytes after the dictionary", bytes: prefix(header: 4, payload: 0) + Array("dexx".utf8)),
        MalformedFrame(
            name: "header nested deeper than allowed",
            bytes: prefix(header: 202, payload: 0) + Array(String(repeating: "l", count: 101).utf8)
                + Array(String(repeating: "e", count: 101).utf8)),
        MalformedFrame(name: "close inside the lengths", bytes: [0, 0, 0], closesAfter: true),
        MalformedFrame(
            name: "close inside the header", bytes: prefix(header: 10, payload: 0) + Array("d1:a".utf8),
            closesAfter: true),
        MalformedFrame(
            name: "close inside the payload", bytes: prefix(header: 2, payload: 100) + Array("de".utf8) + [1, 2, 3],
            closesAfter: true),
    ]
}

@Suite struct TCPFrameProtocolTests {
    @Test(arguments: MalformedFrame.all)
    func aMalformedFrameClosesThatConnectionOnly(frame: MalformedFrame) throws {
        let server = try TCPTestSupport.echoServer()
        defer { server.stop() }
        // A client already connected before the bad one keeps being served.
        let bystander = try TCPTestSupport.connect(to: server)
        defer { bystander.close() }
        try TCPTestSupport.roundTrip(bystander)

        let socket = try TCPTestSupport.rawSocket(to: server)
        defer { socket.close() }
        #expect(TCPTestSupport.send(frame.bytes, on: socket))
        if frame.closesAfter { _ = shutdown(socket.descriptor, Int32(SHUT_WR)) }
        #expect(TCPTestSupport.waitForClose(socket))

        let statistics = server.statistics
        #expect(statistics.protocolErrors == 1)
        #expect(statistics.framesIn == 1)
        #expect(statistics.closedIdle == 0)

        try TCPTestSupport.roundTrip(bystander, index: 2, payload: [1, 2, 3])
        let newcomer = try TCPTestSupport.connect(to: server)
        defer { newcomer.close() }
        try TCPTestSupport.roundTrip(newcomer, index: 3, payload: TCPTestSupport.pattern(1 << 20))
    }

    @Test func aValidFrameBeforeTheBadOneIsStillAnswered() throws {
        let server = try TCPTestSupport.echoServer()
        defer { server.stop() }
        let socket = try TCPTestSupport.rawSocket(to: server)
        defer { socket.close() }
        let good = Frame(header: ["i": 1], payload: [9, 9]).encoded()
        #expect(TCPTestSupport.send(good + MalformedFrame.prefix(header: .max, payload: 0), on: socket))
        var reply = [UInt8](repeating: 0, count: good.count)
        let result = reply.withUnsafeMutableBytes {
            socket.receive(into: $0.baseAddress!, count: $0.count, waitAll: true, deadline: nil)
        }
        guard case .received(let count) = result else {
            Issue.record("no reply before the close: \(result)")
            return
        }
        #expect(count == good.count)
        let echo = Frame(header: ["i": 1, "n": 1, "p": "127.0.0.1"], payload: [9, 9]).encoded()
        #expect(Array(reply[..<count]) == Array(echo[..<count]))
        #expect(TCPTestSupport.waitForClose(socket))
        #expect(server.statistics.protocolErrors == 1)
    }

    @Test func tighterLimitsAreEnforcedOnTheServer() throws {
        let limits = FrameLimits(maxHeader: 64, maxPayload: 1000)
        let server = try TCPTestSupport.echoServer(limits: limits)
        defer { server.stop() }
        let client = try TCPTestSupport.connect(to: server)
        defer { client.close() }
        try TCPTestSupport.roundTrip(client, payload: TCPTestSupport.pattern(1000))
        let socket = try TCPTestSupport.rawSocket(to: server)
        defer { socket.close() }
        #expect(TCPTestSupport.send(Frame(header: [:], payload: TCPTestSupport.pattern(1001)).encoded(), on: socket))
        #expect(TCPTestSupport.waitForClose(socket))
        #expect(server.statistics.protocolErrors == 1)
    }
}
