#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A socket call of the UDP runtime that failed: names the address, what was being done, and the system's reason.
public struct UDPRuntimeError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What was being done: "bind", "open a UDP socket for".
    public var action: String
    /// The address involved, "HOST:PORT".
    public var address: String
    /// The `errno` value.
    public var code: Int32

    /// An error for `action` on `address` that failed with `errno` `code`.
    public init(action: String, address: String, code: Int32) {
        self.action = action
        self.address = address
        self.code = code
    }

    /// The error for the current `errno`.
    static func last(_ action: String, _ address: String) -> UDPRuntimeError {
        UDPRuntimeError(action: action, address: address, code: errno)
    }

    public var description: String {
        "cannot \(action) \(address): \(String(cString: strerror(code))) (errno \(code))"
    }
}
