/// A map from endpoint to node handle with open addressing and a multiplicative hash: the simulator looks up a
/// destination for every datagram, and this costs a fraction of a `Dictionary` lookup with its seeded SipHash.
/// Endpoints are chosen by the simulation's author, not by an attacker, so a fixed hash is safe here.
struct EndpointTable {
    /// Keys stored as address << 16 | port, plus one so that 0 marks an empty slot.
    private var keys: [UInt64]
    private var values: [Int32]
    private var shift: UInt64
    /// Entries stored.
    private(set) var count = 0

    /// An empty table.
    init() {
        keys = [UInt64](repeating: 0, count: 16)
        values = [Int32](repeating: 0, count: 16)
        shift = 64 - 4
    }

    @inline(__always)
    private static func key(_ endpoint: Endpoint) -> UInt64 {
        (UInt64(endpoint.address) << 16 | UInt64(endpoint.port)) + 1
    }

    @inline(__always)
    private func home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// The handle stored for `endpoint`, if any.
    subscript(endpoint: Endpoint) -> Int? {
        let key = Self.key(endpoint)
        return keys.withUnsafeBufferPointer { keys in
            let mask = keys.count - 1
            var index = home(key)
            while true {
                let stored = keys[index]
                if stored == key { return Int(values[index]) }
                if stored == 0 { return nil }
                index = (index + 1) & mask
            }
        }
    }

    /// Stores `handle` for `endpoint`, replacing any earlier one.
    mutating func set(_ handle: Int, for endpoint: Endpoint) {
        if (count + 1) * 2 > keys.count { grow() }
        let key = Self.key(endpoint)
        let mask = keys.count - 1
        var index = home(key)
        while keys[index] != 0 && keys[index] != key { index = (index + 1) & mask }
        if keys[index] == 0 { count += 1 }
        keys[index] = key
        values[index] = Int32(handle)
    }

    /// Doubles the capacity so the table stays at most half full, which keeps probe runs short.
    private mutating func grow() {
        let oldKeys = keys
        let oldValues = values
        keys = [UInt64](repeating: 0, count: oldKeys.count * 2)
        values = [Int32](repeating: 0, count: oldKeys.count * 2)
        shift -= 1
        let mask = keys.count - 1
        for (key, value) in zip(oldKeys, oldValues) where key != 0 {
            var index = home(key)
            while keys[index] != 0 { index = (index + 1) & mask }
            keys[index] = key
            values[index] = value
        }
    }
}
