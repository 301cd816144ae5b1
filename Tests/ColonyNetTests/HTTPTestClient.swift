import Foundation

@testable import ColonyNet

/// A plain-socket HTTP/1.1 client for the live server tests: sends bytes exactly as given and reads responses by
/// their Content-Length, so each test sees what is on the wire.
final class HTTPTestClient {
    /// One response as read.
    struct Response {
        var code: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let socket: StreamSocket
    private var buffer: [UInt8] = []

    init(to server: HTTPServer) throws {
        socket = try StreamSocket.connected(to: server.localEndpoint, timeout: TCPTestSupport.timeout)
        socket.setReceiveTimeout(TCPTestSupport.timeout)
        socket.setSendTimeout(TCPTestSupport.timeout)
    }

    deinit { socket.close() }

    /// Sends `text` as it is.
    func send(_ text: String) throws {
        guard TCPTestSupport.send(Array(text.utf8), on: socket) else { throw Failure(description: "send failed") }
    }

    /// Sends a GET of `target` with a loopback Host and any `extra` header lines.
    func get(_ target: String, _ extra: String = "") throws {
        try send("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(extra)\r\n")
    }

    /// Reads the next response; `headOnly` for the answer to HEAD, which has Content-Length but no body.
    func receive(headOnly: Bool = false) throws -> Response {
        let headEnd = try fill { buffer in
            buffer.indices.dropLast(3).first { Array(buffer[$0..<$0 + 4]) == Array("\r\n\r\n".utf8) }
        }
        let lines = String(decoding: buffer[..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        buffer.removeFirst(headEnd + 4)
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0] == "HTTP/1.1", let code = Int(statusParts[1]) else {
            throw Failure(description: "bad status line \(lines[0])")
        }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw Failure(description: "bad header \(line)") }
            headers.add(String(line[..<colon]), String(trim(line[line.index(after: colon)...])))
        }
        let length = headOnly ? 0 : Int(headers["Content-Length"] ?? "0") ?? 0
        _ = try fill { $0.count >= length ? length : nil }
        let body = Array(buffer[..<length])
        buffer.removeFirst(length)
        return Response(code: code, headers: headers, body: body)
    }

    /// Whether the server closes the connection next, without sending anything more.
    func waitForClose() -> Bool {
        buffer.isEmpty && TCPTestSupport.waitForClose(socket)
    }

    private func fill(until found: ([UInt8]) -> Int?) throws -> Int {
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            if let index = found(buffer) { return index }
            let result = scratch.withUnsafeMutableBytes {
                socket.receive(into: $0.baseAddress!, count: $0.count, waitAll: false, deadline: nil)
            }
            guard case .received(let count) = result else {
                throw Failure(description: "connection ended (\(result)) with \(buffer.count) bytes of a response")
            }
            buffer += scratch[..<count]
        }
    }
}
