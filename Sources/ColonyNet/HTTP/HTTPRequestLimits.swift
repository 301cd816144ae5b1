/// The bounds on one request, each checked before the bytes it covers are kept: a request over one is refused
/// with its status (414, 431 or 413) and the connection closed.
public struct HTTPRequestLimits: Hashable, Sendable {
    /// The longest request line, without its CRLF. Browsers send far less; 8 KiB is what common servers allow.
    public var maxRequestLine: Int = 8 << 10
    /// The most header fields. A browser sends about 15.
    public var maxHeaderCount: Int = 64
    /// The longest header section, every field line with its CRLF.
    public var maxHeaderBytes: Int = 16 << 10
    /// The longest body (Content-Length). The donor's page posts small JSON documents.
    public var maxBody: Int = 1 << 20

    /// The defaults: 8 KiB request line, 64 fields in 16 KiB, 1 MiB body.
    public init() {}

    /// Checks the fields; the error names the bad one.
    public func validate() throws(HTTPServerError) {
        // The shortest request line is "GET / HTTP/1.1" (14 bytes).
        guard maxRequestLine >= 14, maxRequestLine <= 1 << 20 else {
            throw .invalidConfiguration(
                "HTTPRequestLimits.maxRequestLine is \(maxRequestLine); set it between 14 and \(1 << 20)")
        }
        guard maxHeaderCount >= 1, maxHeaderCount <= 10_000 else {
            throw .invalidConfiguration(
                "HTTPRequestLimits.maxHeaderCount is \(maxHeaderCount); set it between 1 and 10000 (Host is needed)")
        }
        guard maxHeaderBytes >= 8, maxHeaderBytes <= 1 << 20 else {
            throw .invalidConfiguration(
                "HTTPRequestLimits.maxHeaderBytes is \(maxHeaderBytes); set it between 8 and \(1 << 20)")
        }
        guard maxBody >= 0, maxBody <= 1 << 30 else {
            throw .invalidConfiguration("HTTPRequestLimits.maxBody is \(maxBody); set it between 0 and \(1 << 30)")
        }
    }
}
