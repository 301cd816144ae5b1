/// A request method. The parser accepts only the four the server implements; any other well-formed method is
/// answered 501 Not Implemented.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The method's name as sent on the wire, upper case ("GET").
    public let rawValue: String

    /// A method named `rawValue`; the name is case-sensitive (RFC 9110 §9.1), so "get" is not GET.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Reads a resource.
    public static let get = HTTPMethod(rawValue: "GET")
    /// GET without the body: the same status and headers.
    public static let head = HTTPMethod(rawValue: "HEAD")
    /// Acts on the target with the request's body.
    public static let post = HTTPMethod(rawValue: "POST")
    /// Replaces the target with the request's body.
    public static let put = HTTPMethod(rawValue: "PUT")

    /// The methods the parser accepts.
    public static let supported: [HTTPMethod] = [.get, .head, .post, .put]

    public var description: String { rawValue }
}
