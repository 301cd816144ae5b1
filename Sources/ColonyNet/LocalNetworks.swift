#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The IPv4 networks this host is directly attached to (its interfaces' addresses and netmasks), loopback aside: a
/// peer there is a LAN neighbour, whose dial-back says nothing about reachability from outside.
public enum LocalNetworks {
    /// True when `address` is on a network one of this host's interfaces is attached to (loopback excluded).
    public static func contains(_ address: UInt32) -> Bool {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return false }
        defer { freeifaddrs(list) }
        var current: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = current {
            defer { current = entry.pointee.ifa_next }
            guard let raw = entry.pointee.ifa_addr, raw.pointee.sa_family == sa_family_t(AF_INET),
                let maskRaw = entry.pointee.ifa_netmask
            else { continue }
            let own = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            let mask = maskRaw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            guard own >> 24 != 127 else { continue }
            if own & mask == address & mask { return true }
        }
        return false
    }
}
