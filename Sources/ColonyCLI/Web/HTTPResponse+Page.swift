import ColonyNet

extension HTTPResponse {
    /// What the worker's and the job's pages may load: their inline style and script, and requests and images
    /// from this server only. The browser itself then refuses anything from elsewhere, should a page ever name it.
    static let pageContentSecurityPolicy =
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self'"

    /// `html`, a page with everything inline, sent with `pageContentSecurityPolicy`.
    static func page(_ html: String) -> HTTPResponse {
        var response = HTTPResponse.html(html)
        response.headers.set("Content-Security-Policy", pageContentSecurityPolicy)
        return response
    }
}
