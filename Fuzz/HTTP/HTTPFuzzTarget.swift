// libFuzzer entry for the HTTP request parser. .ci/fuzz-http compiles it as one module with
// Sources/ColonyNet/HTTP's standard-library-only files and Endpoint (imports stripped). Any broken property traps,
// and libFuzzer keeps the input.

@_cdecl("LLVMFuzzerTestOneInput")
public func httpFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: size > 0 ? data : nil, count: size))
    checkHTTPProperties(input)
    return 0
}

/// Small limits, so that inputs of a few KiB reach every bound.
private let fuzzLimits: HTTPRequestLimits = {
    var limits = HTTPRequestLimits()
    limits.maxRequestLine = 200
    limits.maxHeaderCount = 8
    limits.maxHeaderBytes = 400
    limits.maxBody = 300
    return limits
}()

private func check(_ condition: Bool, _ property: @autoclosure () -> String) {
    if !condition { fatalError("http fuzz: \(property())") }
}

/// What a parser gave for a stream: the requests in order, then the refusal if any.
private struct Outcome: Equatable {
    var requests: [HTTPRequest] = []
    var failure: HTTPParseError?
}

/// Feeds `input` in pieces of `pieceSize` bytes, taking every request after each piece, and checks the buffer bound.
private func parse(_ input: [UInt8], pieceSize: Int) -> Outcome {
    var parser = HTTPRequestParser(limits: fuzzLimits)
    var outcome = Outcome()
    var offset = 0
    // One request's worth of the limits, its two line ends and the empty line, plus one piece.
    let bound = fuzzLimits.maxRequestLine + 2 + fuzzLimits.maxHeaderBytes + 2 + fuzzLimits.maxBody + pieceSize
    while offset < input.count {
        let end = min(offset + pieceSize, input.count)
        parser.append(input[offset..<end])
        offset = end
        do {
            while let request = try parser.next() { outcome.requests.append(request) }
        } catch {
            outcome.failure = error
            return outcome
        }
        check(parser.bufferedCount <= bound, "buffer holds \(parser.bufferedCount) bytes, bound \(bound)")
    }
    return outcome
}

/// The request written back in the form the parser reads: request line, the fields as received, the body.
private func serialized(_ request: HTTPRequest) -> [UInt8] {
    var bytes = Array("\(request.method) \(request.target) HTTP/1.\(request.minorVersion)\r\n".utf8)
    for field in request.headers {
        // No space after the colon: the written section is never longer than the one read.
        bytes += Array(field.name.utf8) + [UInt8(ascii: ":")]
        // Values are read as Latin-1: every scalar is one byte.
        bytes += field.value.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
        bytes += [13, 10]
    }
    return bytes + [13, 10] + request.body
}

private func checkHTTPProperties(_ input: [UInt8]) {
    let whole = parse(input, pieceSize: max(input.count, 1))

    // The pieces the bytes arrive in never change what is read.
    let pieceSize = Int(input.first ?? 0) % 13 + 1
    let pieced = parse(input, pieceSize: pieceSize)
    check(pieced == whole, "pieces of \(pieceSize) read \(pieced), whole input \(whole)")

    for request in whole.requests {
        check(HTTPMethod.supported.contains(request.method), "accepted method \(request.method)")
        // In bytes: "/" followed by a combining mark is one Character, so String.hasPrefix("/") is false for it.
        check(request.path.utf8.first == UInt8(ascii: "/"), "path \(request.path) does not start with /")
        check(request.body.count <= fuzzLimits.maxBody, "a \(request.body.count)-byte body")
        check(request.headers.count <= fuzzLimits.maxHeaderCount, "\(request.headers.count) header fields")
        check(request.target.utf8.count <= fuzzLimits.maxRequestLine, "a \(request.target.utf8.count)-byte target")
        // HTTP/1.x of a later minor version is read as 1.1 would be (RFC 9110 §2.5).
        check((0...9).contains(request.minorVersion), "HTTP/1.\(request.minorVersion)")

        // What the parser accepts, written back, reads as the same request.
        var again = HTTPRequestParser(limits: fuzzLimits)
        again.append(serialized(request))
        do {
            let reread = try again.next()
            check(reread == request, "re-serialized request reads as \(String(describing: reread)), not \(request)")
            check(again.bufferedCount == 0, "re-serialized request left \(again.bufferedCount) bytes")
        } catch {
            check(false, "re-serialized request \(request) refused: \(error)")
        }

        // The access rule answers every request without trapping; a stranger without the token is refused.
        let stranger = Endpoint(address: 0x0A00_0001, port: 1)
        let policy = HTTPAccessPolicy(token: "fuzz-token-0123456789")
        if policy.refusal(for: request, from: stranger) == nil {
            check(policy.presentsToken(request, token: "fuzz-token-0123456789"), "a stranger served without the token")
        }
        _ = HTTPAccessPolicy().refusal(for: request, from: Endpoint(address: 0x7F00_0001, port: 1))

        // Responses never carry a raw line break from a handler's header value.
        var response = HTTPResponse.text(request.path)
        for field in request.headers { response.headers.add(field.name, field.value) }
        let head = response.serialized(keepAlive: request.wantsKeepAlive, headOnly: true)
        let lineBreaks = zip(head, head.dropFirst()).filter { $0 == 13 && $1 == 10 }.count
        let bareBreaks = head.filter { $0 == 10 || $0 == 13 }.count
        check(bareBreaks == lineBreaks * 2, "a response head has a bare CR or LF")
    }

    if let failure = whole.failure {
        check((400..<600).contains(failure.status.code), "refused with status \(failure.status)")
        check(!failure.message.isEmpty, "a refusal without a message")
        let answer = HTTPResponse.refusal(failure).serialized(keepAlive: false)
        check(answer.starts(with: Array("HTTP/1.1 \(failure.status.code) ".utf8)), "refusal answer \(answer)")
    }
}
