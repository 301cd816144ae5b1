import ColonyCore
import ColonyDHT
import ColonyNet
import Testing

/// BEP 5 write tokens: lifetime across secret rotations and binding to address and target.
@Suite("Write tokens")
struct TokenTests {
    typealias S = StorageTestSupport

    static let address: UInt32 = 0xC0A8_0107  // 192.168.1.7
    static let otherAddress: UInt32 = 0xC0A8_0108

    static func manager(
        _ source: CountingSecretSource = CountingSecretSource(), at seconds: Double = 0
    ) -> TokenManager {
        TokenManager(secretSource: { source.next() }, now: S.at(seconds))
    }

    @Test func validNowAndAfterOneRotationButNotTwo() {
        var tokens = Self.manager()
        let token = tokens.token(for: Self.address, now: S.at(0))
        #expect(token.count == TokenManager.tokenLength)
        #expect(tokens.isValid(token, for: Self.address, now: S.at(0)))
        #expect(tokens.isValid(token, for: Self.address, now: S.at(299)))
        #expect(tokens.isValid(token, for: Self.address, now: S.at(300)))  // one rotation: previous secret
        #expect(tokens.isValid(token, for: Self.address, now: S.at(599)))
        #expect(!tokens.isValid(token, for: Self.address, now: S.at(600)))  // two rotations: gone
    }

    @Test func aTokenIssuedLateInAPeriodLivesUntilTheSecondRotation() {
        var tokens = Self.manager()
        _ = tokens.token(for: Self.address, now: S.at(0))
        let token = tokens.token(for: Self.address, now: S.at(299.5))
        #expect(tokens.isValid(token, for: Self.address, now: S.at(599.9)))
        #expect(!tokens.isValid(token, for: Self.address, now: S.at(600)))
    }

    @Test func invalidForAnotherAddressOrTarget() {
        var tokens = Self.manager()
        let target = S.infoHash(1)
        let plain = tokens.token(for: Self.address, now: S.at(0))
        let bound = tokens.token(for: Self.address, target: target, now: S.at(0))
        #expect(plain != bound)
        #expect(!tokens.isValid(plain, for: Self.otherAddress, now: S.at(0)))
        #expect(tokens.isValid(bound, for: Self.address, target: target, now: S.at(0)))
        #expect(!tokens.isValid(bound, for: Self.otherAddress, target: target, now: S.at(0)))
        #expect(!tokens.isValid(bound, for: Self.address, target: S.infoHash(2), now: S.at(0)))
        #expect(!tokens.isValid(bound, for: Self.address, now: S.at(0)))
        #expect(!tokens.isValid(plain, for: Self.address, target: target, now: S.at(0)))
    }

    @Test func malformedTokensAreInvalid() {
        var tokens = Self.manager()
        let token = tokens.token(for: Self.address, now: S.at(0))
        var flipped = token
        flipped[7] ^= 1
        for bad in [[], Array(token.prefix(4)), token + [0], flipped, [UInt8](repeating: 0, count: 8)] {
            #expect(!tokens.isValid(bad, for: Self.address, now: S.at(0)))
        }
    }

    @Test func secretsRotateOnScheduleAndALongGapVoidsEverything() {
        let source = CountingSecretSource()
        var tokens = Self.manager(source)
        #expect(source.drawn == 2)  // current and previous
        let token = tokens.token(for: Self.address, now: S.at(10))
        tokens.rotate(now: S.at(299))
        #expect(source.drawn == 2)
        tokens.rotate(now: S.at(300))
        #expect(source.drawn == 3)
        // An hour of silence: checking draws nothing, and the old token is void.
        #expect(!tokens.isValid(token, for: Self.address, now: S.at(3900)))
        #expect(source.drawn == 3)
        // The next token replaces both secrets at once.
        let fresh = tokens.token(for: Self.address, now: S.at(3900))
        #expect(source.drawn == 5)
        #expect(!tokens.isValid(token, for: Self.address, now: S.at(3900)))
        #expect(tokens.isValid(fresh, for: Self.address, now: S.at(4199)))
    }

    @Test func sameSecretsGiveSameTokens() {
        var first = Self.manager()
        var second = Self.manager()
        #expect(first.token(for: Self.address, now: S.at(1)) == second.token(for: Self.address, now: S.at(1)))
        // Tokens depend on the secret: the first secret (16 × 0x01) differs from the second (16 × 0x02).
        var third = TokenManager(secretSource: { [UInt8](repeating: 9, count: 16) }, now: S.at(0))
        #expect(third.token(for: Self.address, now: S.at(1)) != first.token(for: Self.address, now: S.at(1)))
    }

    @Test func tokenIsTheSHA1OfSecretAddressAndTarget() {
        var tokens = TokenManager(secretSource: { [UInt8](repeating: 0x5A, count: 16) }, now: S.at(0))
        let target = S.infoHash(7)
        let expected = SHA1.hash(
            [UInt8](repeating: 0x5A, count: 16) + [0xC0, 0xA8, 0x01, 0x07] + target.bytes
        ).bytes.prefix(8)
        #expect(tokens.token(for: Self.address, target: target, now: S.at(0)) == Array(expected))
    }

    @Test func defaultSourceWorks() {
        var tokens = TokenManager(now: S.at(0))
        let token = tokens.token(for: Self.address, now: S.at(0))
        #expect(tokens.isValid(token, for: Self.address, now: S.at(450)))
        #expect(!tokens.isValid(token, for: Self.otherAddress, now: S.at(0)))
    }
}
