import ColonyCore
import ColonyNet

/// Issues and checks the write tokens of BEP 5 (announce_peer) and BEP 44 (put).
///
/// A token is the first 8 bytes of SHA-1(secret ‖ IPv4 address ‖ target): it proves the writer received our
/// get_peers or get reply at that address, so nobody can store under someone else's address. The secret is
/// replaced every 300 seconds and the previous one still accepted, as BEP 5 suggests, so a token lives between 5
/// and 10 minutes. Binding the target too (as libtorrent does) stops a token for one key being spent on another;
/// the overloads without a target bind the address only.
public struct TokenManager: Sendable {
    /// Seconds between secret changes (BEP 5: 5 minutes).
    public static let rotationInterval: Double = 300
    /// Bytes in a token: short for the datagram, 64 bits is far beyond guessing within one lifetime.
    public static let tokenLength = 8
    /// The least number of bytes a secret may have.
    public static let minimumSecretLength = 16

    private let secretSource: @Sendable () -> [UInt8]
    private var current: [UInt8]
    private var previous: [UInt8]
    /// When `current` became current.
    private var rotatedAt: Instant

    /// A manager whose secrets come from `secretSource` (each call, at least 16 bytes), starting at `now`.
    ///
    /// The default draws from libcrypto's generator; tests pass a deterministic source.
    public init(
        secretSource: @escaping @Sendable () -> [UInt8] = { SecureRandom.bytes(count: 16) },
        now: Instant
    ) {
        self.secretSource = secretSource
        current = Self.draw(secretSource)
        // A fresh previous secret, not a copy of the current one: nothing was issued under it.
        previous = Self.draw(secretSource)
        rotatedAt = now
    }

    /// The token for a writer at `address` (IPv4, host order), not bound to a target.
    public mutating func token(for address: UInt32, now: Instant) -> [UInt8] {
        rotate(now: now)
        return Self.token(secret: current, address: address, target: nil)
    }

    /// The token for a writer at `address` (IPv4, host order) storing under `target` (info-hash or BEP 44 target).
    public mutating func token(for address: UInt32, target: NodeID, now: Instant) -> [UInt8] {
        rotate(now: now)
        return Self.token(secret: current, address: address, target: target)
    }

    /// Whether `token` was issued to `address` without a target under the current or the previous secret, as they
    /// stand at `now`.
    public func isValid(_ token: [UInt8], for address: UInt32, now: Instant) -> Bool {
        check(token, address: address, target: nil, now: now)
    }

    /// Whether `token` was issued to `address` for `target` under the current or the previous secret, as they stand
    /// at `now`.
    public func isValid(_ token: [UInt8], for address: UInt32, target: NodeID, now: Instant) -> Bool {
        check(token, address: address, target: target, now: now)
    }

    /// Moves to a new secret for each full interval since the last change; after two or more the old ones are both
    /// gone, so every outstanding token is void.
    public mutating func rotate(now: Instant) {
        let elapsed = now.seconds(since: rotatedAt)
        guard elapsed >= Self.rotationInterval else { return }
        if elapsed >= 2 * Self.rotationInterval {
            previous = Self.draw(secretSource)
            current = Self.draw(secretSource)
            rotatedAt = now
        } else {
            previous = current
            current = Self.draw(secretSource)
            rotatedAt = rotatedAt.adding(seconds: Self.rotationInterval)
        }
    }

    /// Checking needs no rotation: a secret that a rotation at `now` would drop is simply not tried. So checks stay
    /// free of side effects and the next `token(for:now:)` rotates.
    private func check(_ token: [UInt8], address: UInt32, target: NodeID?, now: Instant) -> Bool {
        guard token.count == Self.tokenLength else { return false }
        let elapsed = now.seconds(since: rotatedAt)
        let live: [[UInt8]]
        switch elapsed {
        case ..<Self.rotationInterval: live = [current, previous]
        case ..<(2 * Self.rotationInterval): live = [current]  // one rotation away: current becomes previous
        default: live = []
        }
        var valid = false
        for secret in live {
            // No early exit, so the time taken does not tell which secret matched.
            valid = Self.equal(token, Self.token(secret: secret, address: address, target: target)) || valid
        }
        return valid
    }

    private static func token(secret: [UInt8], address: UInt32, target: NodeID?) -> [UInt8] {
        var input = secret
        input.append(contentsOf: [
            UInt8(address >> 24), UInt8(address >> 16 & 0xFF), UInt8(address >> 8 & 0xFF), UInt8(address & 0xFF),
        ])
        if let target { input.append(contentsOf: target.bytes) }
        return Array(SHA1.hash(input).bytes.prefix(tokenLength))
    }

    /// Compares without an early exit, so the time taken says nothing about how much of a guess was right.
    private static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    private static func draw(_ source: @Sendable () -> [UInt8]) -> [UInt8] {
        let secret = source()
        precondition(
            secret.count >= minimumSecretLength,
            "TokenManager: the secret source gave \(secret.count) bytes; it must give at least \(minimumSecretLength)")
        return secret
    }
}

extension TokenManager: CustomStringConvertible, CustomReflectable {
    /// Names the last rotation only: the secrets must not reach logs or test output.
    public var description: String { "TokenManager(rotated at \(rotatedAt))" }

    /// Hides the secrets from `dump` and debuggers' mirrors.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
