/// Reads HTTP/1.1 requests from a byte stream without doing any I/O: append what the socket gave, then call `next`
/// until it says it needs more. Pipelined requests come out one by one, in order.
///
/// Each bound of `limits` is checked as soon as the bytes it covers are buffered, before a request line or header
/// section is decoded and before a body's storage is reserved, so the buffer holds at most the limits plus one
/// `append`. A refused request leaves the parser failed: every later `next` throws the same error, since the
/// stream cannot be resynchronised.
public struct HTTPRequestParser: Sendable {
    /// The bounds on each request.
    public let limits: HTTPRequestLimits

    private enum Phase: Sendable {
        case requestLine
        case headers(Head)
        case body(Head, length: Int)
        case failed(HTTPParseError)
    }

    /// What has been read of a request before its body.
    private struct Head: Sendable {
        var method: HTTPMethod
        var target: String
        var path: String
        var query: [HTTPRequest.QueryItem]
        var minorVersion: Int
        var headers = HTTPHeaders()
        /// Bytes of field lines so far, CRLFs included.
        var headerBytes = 0

        /// Whether the client waits for "100 Continue" before it sends the body (RFC 9110 §10.1.1).
        var expectsContinue: Bool { headers.contains("Expect", token: "100-continue") }
    }

    private var phase = Phase.requestLine
    private var buffer: [UInt8] = []
    /// `buffer[start...]` is not consumed yet.
    private var start = 0
    /// Where the search for the current line's LF resumes, so a line trickled byte by byte is scanned once.
    private var searchFrom = 0

    /// A parser for requests within `limits`.
    public init(limits: HTTPRequestLimits = HTTPRequestLimits()) {
        self.limits = limits
    }

    /// Bytes appended and not yet part of a returned request.
    public var bufferedCount: Int { buffer.count - start }

    /// Whether part of a request has been read: bytes are buffered, or a request line or header was consumed.
    /// A connection closed while this is false ended cleanly between requests.
    public var isInsideRequest: Bool {
        if case .requestLine = phase { return bufferedCount > 0 }
        return true
    }

    /// Whether the request being read waits for an interim "100 Continue" before sending its body: its head is
    /// read and accepted, it sent `Expect: 100-continue`, and no byte of its body has come. curl sends that for
    /// bodies over 1 KiB and otherwise waits a second.
    public var awaitsContinue: Bool {
        if case .body(let head, _) = phase { return head.expectsContinue && bufferedCount == 0 }
        return false
    }

    /// Adds bytes read from the connection. Call `next` after each append so the bounds are checked.
    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 4096, start * 2 > buffer.count {
            buffer.removeSubrange(0..<start)
            searchFrom -= start
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete request, or nil when more bytes are needed; throws when the request breaks a bound or
    /// the syntax.
    public mutating func next() throws(HTTPParseError) -> HTTPRequest? {
        if case .failed(let error) = phase { throw error }
        do throws(HTTPParseError) {
            while true {
                switch phase {
                case .requestLine:
                    guard let line = try line(limit: limits.maxRequestLine, overLimit: requestLineTooLong) else {
                        return nil
                    }
                    // A client may send empty lines before a request (RFC 9112 §2.2).
                    if line.isEmpty { continue }
                    phase = .headers(try Self.requestLine(line))
                case .headers(var head):
                    let room = limits.maxHeaderBytes - head.headerBytes
                    guard let line = try line(limit: max(room - 2, 0), overLimit: headersTooLarge) else {
                        return nil
                    }
                    if line.isEmpty {
                        let length = try Self.bodyLength(of: head, limits: limits)
                        if length == 0 { return finish(head, body: []) }
                        buffer.reserveCapacity(start + length)
                        phase = .body(head, length: length)
                        continue
                    }
                    head.headerBytes += line.count + 2
                    guard head.headers.count < limits.maxHeaderCount else {
                        throw HTTPParseError(
                            .tooManyHeaders, .headerFieldsTooLarge,
                            "more than \(limits.maxHeaderCount) header fields (HTTPRequestLimits.maxHeaderCount)")
                    }
                    let field = try Self.field(line)
                    head.headers.add(field.name, field.value)
                    phase = .headers(head)
                case .body(let head, let length):
                    guard bufferedCount >= length else { return nil }
                    let body = Array(buffer[start..<start + length])
                    start += length
                    searchFrom = start
                    return finish(head, body: body)
                case .failed(let error):
                    throw error
                }
            }
        } catch {
            phase = .failed(error)
            throw error
        }
    }

    // MARK: Lines

    /// The next line without its CRLF, consumed; nil when its end has not arrived. Throws `overLimit` once the
    /// line is known to be longer than `limit`, whether or not its end has arrived.
    private mutating func line(
        limit: Int, overLimit: (Int) -> HTTPParseError
    ) throws(HTTPParseError) -> ArraySlice<UInt8>? {
        searchFrom = max(searchFrom, start)
        guard let newline = buffer[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) else {
            searchFrom = buffer.count
            // Without its end, the line is at least the buffered bytes less a CR that may end it.
            if bufferedCount - 1 > limit { throw overLimit(limit) }
            return nil
        }
        let endsWithCR = newline > start && buffer[newline - 1] == UInt8(ascii: "\r")
        // The length first, as when the end had not arrived yet: the bytes' pieces never change the refusal.
        guard newline - start - (endsWithCR ? 1 : 0) <= limit else { throw overLimit(limit) }
        guard endsWithCR else {
            throw HTTPParseError(.bareLineFeed, .badRequest, "a line ends with LF alone; lines end with CRLF")
        }
        let line = buffer[start..<newline - 1]
        start = newline + 1
        searchFrom = start
        return line
    }

    private func requestLineTooLong(_ limit: Int) -> HTTPParseError {
        HTTPParseError(
            .requestLineTooLong, .uriTooLong,
            "the request line is longer than \(limits.maxRequestLine) bytes (HTTPRequestLimits.maxRequestLine)")
    }

    private func headersTooLarge(_ limit: Int) -> HTTPParseError {
        HTTPParseError(
            .headersTooLarge, .headerFieldsTooLarge,
            "the header fields are longer than \(limits.maxHeaderBytes) bytes (HTTPRequestLimits.maxHeaderBytes)")
    }

    // MARK: Request line and fields

    /// `METHOD SP TARGET SP HTTP/1.x` (RFC 9112 §3).
    private static func requestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Head {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else {
            throw HTTPParseError(
                .malformedRequestLine, .badRequest,
                "the request line must be METHOD, target and version separated by single spaces")
        }
        guard parts[0].allSatisfy(isTokenByte) else {
            throw HTTPParseError(.malformedRequestLine, .badRequest, "the method is not a token")
        }
        let method = HTTPMethod(rawValue: String(decoding: parts[0], as: UTF8.self))
        guard HTTPMethod.supported.contains(method) else {
            throw HTTPParseError(
                .unsupportedMethod, .notImplemented,
                "method \(method) is not served; use \(HTTPMethod.supported.map(\.rawValue).joined(separator: ", "))")
        }
        let version = Array(parts[2])
        let prefix = Array("HTTP/".utf8)
        guard version.count == 8, version.starts(with: prefix), version[6] == UInt8(ascii: "."),
            let major = digit(version[5]), let minor = digit(version[7])
        else {
            throw HTTPParseError(.malformedRequestLine, .badRequest, "the version must read HTTP/1.1 or HTTP/1.0")
        }
        guard major == 1 else {
            throw HTTPParseError(
                .unsupportedVersion, .versionNotSupported, "HTTP/\(major).\(minor) is not served; use HTTP/1.1")
        }
        // Split now so that a bad target is refused before its headers are read.
        let (path, query) = try HTTPRequest.split(target: Array(parts[1]))
        return Head(
            method: method, target: String(decoding: parts[1], as: UTF8.self), path: path, query: query,
            minorVersion: minor)
    }

    /// `name: value` (RFC 9112 §5); the value is read as Latin-1 so that every byte survives.
    private static func field(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPHeaders.Field {
        guard let first = line.first, first != UInt8(ascii: " "), first != UInt8(ascii: "\t") else {
            throw HTTPParseError(
                .malformedHeader, .badRequest, "a header line starts with whitespace (folded lines are not accepted)")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw HTTPParseError(.malformedHeader, .badRequest, "a header line has no ':'")
        }
        let name = line[..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
            throw HTTPParseError(.malformedHeader, .badRequest, "a header name is empty or not a token")
        }
        var value = line[(colon + 1)...]
        while let byte = value.first, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { value.removeFirst() }
        while let byte = value.last, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { value.removeLast() }
        let nameText = String(decoding: name, as: UTF8.self)
        for byte in value where byte != UInt8(ascii: "\t") && (byte < 0x20 || byte == 0x7F) {
            throw HTTPParseError(
                .malformedHeader, .badRequest,
                "header \(nameText) has control byte 0x\(String(byte, radix: 16)) in its value")
        }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: value.map { Unicode.Scalar($0) })
        return HTTPHeaders.Field(name: nameText, value: String(scalars))
    }

    // MARK: Body

    /// The body's length from Content-Length (0 without one). Transfer-Encoding is refused: it is how a request
    /// would smuggle a second one past a proxy, and no client of this server needs it.
    private static func bodyLength(of head: Head, limits: HTTPRequestLimits) throws(HTTPParseError) -> Int {
        if head.minorVersion >= 1, head.headers.values("Host").count != 1 {
            throw HTTPParseError(.badHost, .badRequest, "an HTTP/1.1 request needs exactly one Host field")
        }
        let codings = head.headers.values("Transfer-Encoding")
        if !codings.isEmpty {
            if head.headers.contains("Transfer-Encoding", token: "chunked") {
                throw HTTPParseError(
                    .chunkedBody, .lengthRequired,
                    "chunked request bodies are not accepted; send the body with Content-Length")
            }
            throw HTTPParseError(
                .unsupportedTransferCoding, .notImplemented,
                "Transfer-Encoding \(codings.joined(separator: ", ")) is not supported; send the body with Content-Length"
            )
        }
        var length: Int?
        for value in head.headers.values("Content-Length") {
            // A repeated field, or one value listed twice, is accepted when every copy agrees (RFC 9112 §6.3).
            for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                let digits = trim(item)
                guard !digits.isEmpty, digits.utf8.allSatisfy({ digit($0) != nil }) else {
                    throw HTTPParseError(
                        .invalidContentLength, .badRequest, "Content-Length \"\(value)\" is not a decimal number")
                }
                // Compared as text first: twenty digits would overflow an Int.
                let trimmed = digits.drop { $0 == "0" }
                guard trimmed.utf8.count <= 10, let number = Int(trimmed.isEmpty ? "0" : trimmed),
                    number <= limits.maxBody
                else {
                    throw HTTPParseError(
                        .bodyTooLarge, .contentTooLarge,
                        "the body of \(digits) bytes is over \(limits.maxBody) (HTTPRequestLimits.maxBody)")
                }
                guard length == nil || length == number else {
                    throw HTTPParseError(
                        .invalidContentLength, .badRequest, "Content-Length fields disagree (\(length!) and \(number))")
                }
                length = number
            }
        }
        return length ?? 0
    }

    private mutating func finish(_ head: Head, body: [UInt8]) -> HTTPRequest {
        phase = .requestLine
        return HTTPRequest(
            method: head.method, target: head.target, path: head.path, query: head.query,
            minorVersion: head.minorVersion, headers: head.headers, body: body)
    }
}

/// RFC 9110 §5.6.2 tchar: the bytes of a method or header name.
private func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
        UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
        UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        true
    default:
        false
    }
}

private func digit(_ byte: UInt8) -> Int? {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
}
