/// An IPv4 address and UDP/TCP port: where a datagram came from or goes to.
///
/// Kept as two integers so that the simulator can hold tens of thousands of them cheaply and hash them fast.
public struct Endpoint: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The address in host order: 127.0.0.1 is 0x7F00_0001.
    public var address: UInt32
    /// The port number.
    public var port: UInt16

    /// An endpoint from an address in host order and a port.
    public init(address: UInt32, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// An endpoint from dotted-quad text ("10.0.0.1") and a port; nil when the text is not an IPv4 address.
    public init?(host: String, port: UInt16) {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var address: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let octet = UInt8(part) else { return nil }
            address = address << 8 | UInt32(octet)
        }
        self.init(address: address, port: port)
    }

    /// Parses "HOST:PORT" where HOST is a dotted quad or "localhost"; nil when it is neither.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            return nil
        }
        let host = String(text[..<colon])
        self.init(host: host == "localhost" ? "127.0.0.1" : host, port: port)
    }

    /// The four octets, most significant first.
    public var octets: [UInt8] {
        [UInt8(address >> 24), UInt8(address >> 16 & 0xFF), UInt8(address >> 8 & 0xFF), UInt8(address & 0xFF)]
    }

    /// The address as dotted-quad text.
    public var host: String { octets.map(String.init).joined(separator: ".") }

    /// "HOST:PORT".
    public var description: String { "\(host):\(port)" }

    /// True for loopback, private (RFC 1918), link-local, carrier-grade NAT and unspecified addresses: the ranges
    /// BEP 42 exempts and where IP-diversity limits make no sense.
    public var isLocal: Bool {
        let a = address
        return a >> 24 == 127 || a >> 24 == 10 || a >> 20 == 0xAC1 || a >> 16 == 0xC0A8 || a >> 16 == 0xA9FE
            || a >> 22 == 0x191 || a == 0
    }

    /// The 6-byte compact form of BEP 5: address then port, both big-endian.
    public var compact: [UInt8] { octets + [UInt8(port >> 8), UInt8(port & 0xFF)] }

    /// Reads a 6-byte compact endpoint; nil when `bytes` is not exactly 6 bytes long.
    public init?(compact bytes: some Collection<UInt8>) {
        guard bytes.count == 6 else { return nil }
        var value: UInt64 = 0
        for byte in bytes { value = value << 8 | UInt64(byte) }
        self.init(address: UInt32(truncatingIfNeeded: value >> 16), port: UInt16(truncatingIfNeeded: value))
    }

    public static func < (lhs: Endpoint, rhs: Endpoint) -> Bool {
        (lhs.address, lhs.port) < (rhs.address, rhs.port)
    }
}
