import ColonyCore
import ColonyDHT
import ColonyNet
import Synchronization

/// Helpers shared by the storage, item and token tests.
enum StorageTestSupport {
    /// The bytes written as `hex` (even length, 0-9 a-f); traps on anything else, since it is only fed literals.
    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        precondition(digits.count.isMultiple(of: 2), "odd hex literal")
        return stride(from: 0, to: digits.count, by: 2).map { index in
            UInt8(String(decoding: digits[index..<index + 2], as: UTF8.self), radix: 16)!
        }
    }

    /// A deterministic Ed25519 key: the 32-byte seed is `byte` repeated.
    static func key(_ byte: UInt8) -> Ed25519PrivateKey {
        try! Ed25519PrivateKey(rawRepresentation: [UInt8](repeating: byte, count: 32))
    }

    /// A byte-string value whose bencoding is exactly `size` bytes long (size ≥ 2).
    static func value(encodedSize size: Int) -> BencodeValue {
        // "<digits>:<payload>": find the payload length whose prefix makes the total `size`.
        var payload = size - 2
        while String(payload).utf8.count + 1 + payload > size { payload -= 1 }
        let value = BencodeValue.bytes([UInt8](repeating: UInt8(ascii: "x"), count: payload))
        precondition(value.encodedCount == size, "no byte string encodes to \(size) bytes")
        return value
    }

    /// The immutable item holding the integer `number`: a cheap source of distinct items.
    static func immutable(_ number: Int) -> ImmutableItem {
        ImmutableItem(value: .integer(Int64(number)))
    }

    /// The info-hash SHA-1("swarm <number>").
    static func infoHash(_ number: Int) -> NodeID {
        NodeID(SHA1.hash(Array("swarm \(number)".utf8)))
    }

    /// The endpoint 10.0.x.y:6881 for `number` below 65,536.
    static func peer(_ number: Int, port: UInt16 = 6881) -> Endpoint {
        Endpoint(address: 0x0A00_0000 | UInt32(number), port: port)
    }

    /// `seconds` after the origin.
    static func at(_ seconds: Double) -> Instant { .seconds(seconds) }
}

/// A small seeded generator (SplitMix64), so sampled results reproduce.
struct StorageSplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// A deterministic secret source for `TokenManager`: secret n is 16 bytes of n, and it counts its calls.
final class CountingSecretSource: Sendable {
    private let counter = Mutex<UInt8>(0)

    /// How many secrets were handed out.
    var drawn: Int { counter.withLock { Int($0) } }

    /// The next secret.
    func next() -> [UInt8] {
        counter.withLock { count in
            count &+= 1
            return [UInt8](repeating: count, count: 16)
        }
    }
}
