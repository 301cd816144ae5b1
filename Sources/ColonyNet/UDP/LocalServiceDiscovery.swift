#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// BitTorrent Local Service Discovery (BEP 14): peers on one LAN announce "BT-SEARCH" messages naming a port and
/// info-hashes to the multicast group 239.192.152.143:6771, and hear each other's.
public enum LocalServiceDiscovery {
    /// The IPv4 multicast group and port of BEP 14.
    public static let group = Endpoint(address: 0xEFC0_988F, port: 6771)
    /// The largest announcement read; BEP 14 messages are a few hundred bytes.
    public static let maxMessage = 1_400

    /// An announcement: the port the sender serves on, the info-hashes (40 hex digits each) and its cookie (to
    /// recognise its own messages looped back).
    public struct Announcement: Equatable, Sendable {
        public var port: UInt16
        public var infoHashes: [[UInt8]]
        public var cookie: String?

        public init(port: UInt16, infoHashes: [[UInt8]], cookie: String?) {
            self.port = port
            self.infoHashes = infoHashes
            self.cookie = cookie
        }

        /// The message on the wire.
        public var encoded: [UInt8] {
            var text = "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: \(port)\r\n"
            for hash in infoHashes { text += "Infohash: \(hash.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())\r\n" }
            if let cookie { text += "cookie: \(cookie)\r\n" }
            return Array((text + "\r\n\r\n").utf8)
        }

        /// Reads a message; nil for anything that is not a well-formed BT-SEARCH with a port and an info-hash.
        public init?(decoding bytes: some Collection<UInt8>) {
            guard bytes.count <= LocalServiceDiscovery.maxMessage, let text = String(validating: Array(bytes), as: UTF8.self) else { return nil }
            let lines = text.split(separator: "\r\n", omittingEmptySubsequences: true)
            guard lines.first == "BT-SEARCH * HTTP/1.1" else { return nil }
            var port: UInt16?
            var hashes: [[UInt8]] = []
            var cookie: String?
            for line in lines.dropFirst().prefix(32) {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                let value = String(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
                switch name {
                case "port": port = UInt16(value).flatMap { $0 == 0 ? nil : $0 }
                case "infohash": if let hash = Self.hex(value) { hashes.append(hash) }
                case "cookie": cookie = String(value.prefix(64))
                default: continue
                }
            }
            guard let port, !hashes.isEmpty else { return nil }
            self.init(port: port, infoHashes: hashes, cookie: cookie)
        }

        private static func hex(_ text: String) -> [UInt8]? {
            let digits = Array(text.utf8)
            guard digits.count == 40 else { return nil }
            var bytes: [UInt8] = []
            for index in stride(from: 0, to: 40, by: 2) {
                guard let byte = UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
                bytes.append(byte)
            }
            return bytes
        }
    }

    /// A socket in the BEP 14 group: bound to its port (shared with other processes on the host), joined on the
    /// interface of `interface` (0: the system's choice), sending from that interface, hearing its own host.
    public final class Socket: @unchecked Sendable {
        private let descriptor: Int32

        public init(interface: UInt32) throws(UDPRuntimeError) {
            let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard descriptor >= 0 else { throw .last("open a multicast socket for", group.description) }
            self.descriptor = descriptor
            var yes: Int32 = 1
            var timeout = timeval(tv_sec: 0, tv_usec: 500_000)
            var membership = ip_mreq(
                imr_multiaddr: in_addr(s_addr: group.address.bigEndian), imr_interface: in_addr(s_addr: interface.bigEndian))
            var outgoing = in_addr(s_addr: interface.bigEndian)
            var ttl: UInt8 = 1
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = group.port.bigEndian
            address.sin_addr.s_addr = 0
            let configured =
                setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size)) == 0
                && setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0
                && withUnsafePointer(to: &address, {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }) == 0
                && setsockopt(descriptor, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &membership, socklen_t(MemoryLayout<ip_mreq>.size)) == 0
                && setsockopt(descriptor, Int32(IPPROTO_IP), IP_MULTICAST_IF, &outgoing, socklen_t(MemoryLayout<in_addr>.size)) == 0
                && setsockopt(descriptor, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &ttl, socklen_t(MemoryLayout<UInt8>.size)) == 0
            guard configured else {
                let error = UDPRuntimeError.last("join the multicast group", group.description)
                close(descriptor)
                throw error
            }
        }

        deinit { close(descriptor) }

        /// Sends an announcement to the group.
        public func send(_ announcement: Announcement) throws(UDPRuntimeError) {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = group.port.bigEndian
            address.sin_addr.s_addr = group.address.bigEndian
            let bytes = announcement.encoded
            let sent = bytes.withUnsafeBytes { payload in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(descriptor, payload.baseAddress, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            guard sent >= 0 else { throw .last("send to", group.description) }
        }

        /// The next announcement heard and its source, waiting up to half a second; nil when none came or what came
        /// was not one.
        public func receive() -> (Announcement, Endpoint)? {
            var buffer = [UInt8](repeating: 0, count: maxMessage + 1)
            var address = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(descriptor, raw.baseAddress, raw.count, 0, $0, &length) }
                }
            }
            guard count > 0, count <= maxMessage, let announcement = Announcement(decoding: buffer[..<count]) else { return nil }
            return (announcement, Endpoint(address: UInt32(bigEndian: address.sin_addr.s_addr), port: UInt16(bigEndian: address.sin_port)))
        }
    }
}
