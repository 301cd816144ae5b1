import Testing

@testable import ColonyNet

/// Response bytes and the router's answers.
@Suite struct HTTPResponseTests {
    @Test func serializesWithLengthAndConnection() {
        let response = HTTPResponse.text("hi\n")
        let expected =
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n"
            + "Content-Length: 3\r\nConnection: keep-alive\r\n\r\nhi\n"
        #expect(String(decoding: response.serialized(keepAlive: true), as: UTF8.self) == expected)
        let closing = String(decoding: response.serialized(keepAlive: false, headOnly: true), as: UTF8.self)
        #expect(closing.hasSuffix("Content-Length: 3\r\nConnection: close\r\n\r\n"))
    }

    @Test func theServerOwnsFramingHeadersAndValuesCannotSplitTheResponse() {
        var response = HTTPResponse(
            status: .ok,
            headers: [
                "Content-Length": "999", "Connection": "upgrade", "Transfer-Encoding": "chunked",
                "X-Injected": "a\r\nSet-Cookie: evil=1", "Bad Name": "x", "Cache-Control": "max-age=5",
            ], body: [1, 2])
        response.headers.add("X-Kept", "yes")
        let text = String(decoding: response.serialized(keepAlive: false), as: UTF8.self)
        #expect(!text.contains("999"))
        #expect(!text.contains("chunked"))
        #expect(!text.contains("upgrade"))
        #expect(!text.contains("Bad Name"))
        #expect(!text.contains("\r\nSet-Cookie"))
        #expect(text.contains("X-Injected: a  Set-Cookie: evil=1\r\n"))
        #expect(text.contains("Cache-Control: max-age=5\r\n"))
        #expect(!text.contains("no-store"))
        #expect(text.contains("X-Kept: yes\r\n"))
        #expect(text.contains("Content-Length: 2\r\n"))
    }

    @Test func noContentHasNeitherLengthNorBody() {
        let text = String(
            decoding: HTTPResponse(status: .noContent, body: [1]).serialized(keepAlive: true), as: UTF8.self)
        #expect(text == "HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\nConnection: keep-alive\r\n\r\n")
    }

    @Test func theRouterMatchesExactPathsAndMethods() throws {
        var router = HTTPRouter()
        router.add(.get, "/") { _ in .html("<p>page</p>") }
        router.add(.get, "/api/status") { request in .json(Array("{\"q\":\"\(request.queryValue("q") ?? "")\"}".utf8)) }
        router.add(.post, "/api/pause") { _ in HTTPResponse(status: .noContent) }

        let page = router.respond(to: try HTTPRequest(method: .get, target: "/"))
        #expect(page.status == .ok)
        #expect(page.headers["content-type"] == "text/html; charset=utf-8")
        let status = router.respond(to: try HTTPRequest(method: .get, target: "/api/status?q=1"))
        #expect(status.body == Array("{\"q\":\"1\"}".utf8))
        #expect(router.respond(to: try HTTPRequest(method: .head, target: "/api/status")).status == .ok)
        #expect(router.respond(to: try HTTPRequest(method: .post, target: "/api/pause")).status == .noContent)

        #expect(router.respond(to: try HTTPRequest(method: .get, target: "/api/status/")).status == .notFound)
        #expect(router.respond(to: try HTTPRequest(method: .get, target: "/API/status")).status == .notFound)
        let wrongMethod = router.respond(to: try HTTPRequest(method: .get, target: "/api/pause"))
        #expect(wrongMethod.status == .methodNotAllowed)
        #expect(wrongMethod.headers["Allow"] == "POST")
        let putOnPage = router.respond(to: try HTTPRequest(method: .put, target: "/"))
        #expect(putOnPage.headers["Allow"] == "GET, HEAD")
    }
}
