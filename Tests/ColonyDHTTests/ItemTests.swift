import ColonyCore
import ColonyDHT
import Testing

/// BEP 44's test vectors and the shape of signed and hashed bytes.
@Suite("BEP 44 items")
struct ItemTests {
    typealias S = StorageTestSupport

    /// One BEP 44 mutable test vector, plus the signature that an RFC 8032 seed gives over the same buffer.
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var salt: String
        var buffer: String
        var target: String
        var signature: String
        /// Target and signature for the RFC 8032 "TEST 1" seed (9d61…7f60), computed with pyca/cryptography over
        /// `buffer`: the published private key is an expanded one that libcrypto cannot sign with.
        var seedTarget: String
        var seedSignature: String
        var testDescription: String { name }
    }

    static let publicKey = "77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548"
    static let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
    static let seedPublicKey = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

    static let vectors = [
        Vector(
            name: "test 1 (mutable)", salt: "", buffer: "3:seqi1e1:v12:Hello World!",
            target: "4a533d47ec9c7d95b1ad75f576cffc641853b750",
            signature: "305ac8aeb6c9c151fa120f120ea2cfb923564e11552d06a5d856091e5e853cff"
                + "1260d3f39e4999684aa92eb73ffd136e6f4f3ecbfda0ce53a1608ecd7ae21f01",
            seedTarget: "5b27aa5589179770e47575b162a1ded97b8bfc6d",
            seedSignature: "5633347580be37f647f52ac0a0bb76724cf2705c20a53ac3eeefc4646378529f"
                + "f81247b35bbbba767328f82d7692499ec088249445ffb5dc3c8cf8a4df2ef20c"),
        Vector(
            name: "test 2 (mutable with salt)", salt: "foobar", buffer: "4:salt6:foobar3:seqi1e1:v12:Hello World!",
            target: "411eba73b6f087ca51a3795d9c8c938d365e32c1",
            signature: "6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17d"
                + "df9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08",
            seedTarget: "1d0d2903ea3da4e9595d74a68025d60c21f35690",
            seedSignature: "a19cf5ec58f30ef8c8569a038c42ca91faf83e94fbb51661b6e06e4e2fa16250"
                + "180e178efd44dc0bc932c8b98d08d012398d779e038297b638c8c9b42b853209"),
    ]

    @Test func immutableVector() {
        let item = ImmutableItem(value: .text("Hello World!"))
        #expect(item.value.encoded() == Array("12:Hello World!".utf8))
        #expect(item.target.hex == "e5f96f6f38320f0f33959cb4d3d656452117aadb")
        #expect(item.encodedSize == 15)
    }

    @Test(arguments: vectors)
    func publishedVectorVerifies(_ vector: Vector) {
        let item = MutableItem(
            publicKey: S.bytes(hex: Self.publicKey), salt: Array(vector.salt.utf8), seq: 1,
            value: .text("Hello World!"), signature: S.bytes(hex: vector.signature))
        #expect(item.signedBytes == Array(vector.buffer.utf8))
        #expect(item.target.hex == vector.target)
        #expect(MutableItem.target(publicKey: item.publicKey, salt: item.salt).hex == vector.target)
        #expect(item.hasValidSignature)
    }

    @Test(arguments: vectors)
    func signingWithSeedMatchesIndependentSignature(_ vector: Vector) throws {
        let key = try Ed25519PrivateKey(rawRepresentation: S.bytes(hex: Self.seed))
        let item = MutableItem.signed(
            value: .text("Hello World!"), salt: Array(vector.salt.utf8), seq: 1, key: key)
        #expect(item.publicKey == S.bytes(hex: Self.seedPublicKey))
        #expect(item.signature == S.bytes(hex: vector.seedSignature))
        #expect(item.target.hex == vector.seedTarget)
        #expect(item.seq == 1)
        #expect(item.hasValidSignature)
    }

    @Test(arguments: vectors)
    func anyChangeBreaksTheSignature(_ vector: Vector) {
        let original = MutableItem(
            publicKey: S.bytes(hex: Self.publicKey), salt: Array(vector.salt.utf8), seq: 1,
            value: .text("Hello World!"), signature: S.bytes(hex: vector.signature))
        var flippedSignature = original
        flippedSignature.signature[10] ^= 0x01
        var otherSeq = original
        otherSeq.seq = 2
        var otherValue = original
        otherValue.value = .text("Hello World?")
        var otherSalt = original
        otherSalt.salt = vector.salt.isEmpty ? Array("foobar".utf8) : []
        var otherKey = original
        otherKey.publicKey = S.bytes(hex: Self.seedPublicKey)
        for item in [flippedSignature, otherSeq, otherValue, otherSalt, otherKey] {
            #expect(!item.hasValidSignature)
        }
    }

    @Test func malformedKeyOrSignatureIsNotValid() {
        let good = MutableItem.signed(value: 7, salt: [], seq: 3, key: S.key(1))
        #expect(good.hasValidSignature)
        var shortKey = good
        shortKey.publicKey.removeLast()
        var longSignature = good
        longSignature.signature.append(0)
        var emptySignature = good
        emptySignature.signature = []
        for item in [shortKey, longSignature, emptySignature] {
            #expect(!item.hasValidSignature)
        }
    }

    @Test func signedBytesOfOtherValues() {
        let dictionary: BencodeValue = .dictionary(["b": .list([.integer(-3), .text("x")]), "a": 1])
        #expect(
            MutableItem.signedBytes(salt: [], seq: 42, value: dictionary)
                == Array("3:seqi42e1:vd1:ai1e1:bli-3e1:xee".utf8))
        #expect(
            MutableItem.signedBytes(salt: [0, 0xFF], seq: Int64.max, value: .integer(0))
                == Array("4:salt2:".utf8) + [0, 0xFF] + Array("3:seqi9223372036854775807e1:vi0e".utf8))
        #expect(MutableItem.signedBytes(salt: [], seq: 0, value: .text("")) == Array("3:seqi0e1:v0:".utf8))
    }

    @Test func targetsFollowTheirInputs() {
        var immutable = ImmutableItem(value: 1)
        let first = immutable.target
        immutable.value = 2
        #expect(immutable.target == ImmutableItem.target(of: 2))
        #expect(immutable.target != first)

        var mutable = MutableItem.signed(value: 1, salt: [], seq: 1, key: S.key(2))
        let unsalted = mutable.target
        mutable.salt = Array("topic".utf8)
        #expect(mutable.target == MutableItem.target(publicKey: mutable.publicKey, salt: Array("topic".utf8)))
        #expect(mutable.target != unsalted)
        mutable.salt = []
        #expect(mutable.target == unsalted)
        mutable.publicKey = Array(S.key(3).publicKey.rawRepresentation)
        #expect(mutable.target != unsalted)
    }
}
