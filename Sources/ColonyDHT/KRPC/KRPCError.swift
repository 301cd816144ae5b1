/// The body of a KRPC error message (`"y": "e"`): a numeric code and a human-readable text.
public struct KRPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The code, usually one of `KRPCErrorCode`; any integer a peer sent is kept.
    public var code: Int
    /// The text; a peer's non-UTF-8 bytes arrive here with U+FFFD in place of the bad sequences.
    public var message: String

    /// An error with `code` and `message`.
    public init(code: Int, message: String) {
        self.code = code
        self.message = message
    }

    /// "KRPC error 203: …", for logs.
    public var description: String { "KRPC error \(code): \(message)" }

    /// 201 with `message`.
    public static func generic(_ message: String) -> KRPCError {
        KRPCError(code: KRPCErrorCode.generic, message: message)
    }

    /// 203 with `message`: what to answer a query that is malformed or carries a bad token.
    public static func protocolError(_ message: String) -> KRPCError {
        KRPCError(code: KRPCErrorCode.protocolError, message: message)
    }

    /// 204 naming `method`: what every node answers a method it does not implement.
    public static func methodUnknown(_ method: String) -> KRPCError {
        KRPCError(code: KRPCErrorCode.methodUnknown, message: "method unknown: \(method)")
    }
}
