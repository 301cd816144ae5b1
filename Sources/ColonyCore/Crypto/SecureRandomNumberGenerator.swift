/// A `RandomNumberGenerator` backed by libcrypto, for `Int.random(in:using:)` and `shuffled(using:)` where the
/// result must not be predictable (tokens, node IDs in local ranges).
public struct SecureRandomNumberGenerator: RandomNumberGenerator, Sendable {
    /// A generator; all instances draw from the same libcrypto source.
    public init() {}

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { SecureRandom.fill($0) }
        return value
    }
}
