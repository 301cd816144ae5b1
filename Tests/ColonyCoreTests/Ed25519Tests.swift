import ColonyCore
import Foundation
import Testing

@Suite("Ed25519")
struct Ed25519Tests {
    /// One test vector of RFC 8032 section 7.1: secret seed, public key, message, signature, all hex.
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var secret: String
        var publicKey: String
        var message: String
        var signature: String
        var testDescription: String { name }
    }

    static let vectors = [
        Vector(
            name: "TEST 1",
            secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: "",
            signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
                + "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        Vector(
            name: "TEST 2",
            secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: "72",
            signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da0"
                + "85ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        Vector(
            name: "TEST 3",
            secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            message: "af82",
            signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac1"
                + "8ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
        Vector(
            name: "TEST 1024",
            secret: "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
            publicKey: "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
            message: test1024Message,
            signature: "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350a"
                + "a5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03"),
        Vector(
            name: "TEST SHA(abc)",
            secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
            publicKey: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
            message: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
                + "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            signature: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b5890"
                + "9351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
    ]

    @Test(arguments: vectors)
    func rfc8032Vector(_ vector: Vector) throws {
        let message = try hexBytes(vector.message)
        let key = try Ed25519PrivateKey(rawRepresentation: hexBytes(vector.secret))
        #expect(hex(key.rawRepresentation) == vector.secret)
        #expect(key.publicKey.hex == vector.publicKey)
        #expect(hex(key.publicKey.rawRepresentation) == vector.publicKey)
        let signature = key.signature(for: message)
        #expect(hex(signature) == vector.signature)

        let publicKey = try Ed25519PublicKey(rawRepresentation: hexBytes(vector.publicKey))
        #expect(publicKey == key.publicKey)
        #expect(publicKey.isValidSignature(try hexBytes(vector.signature), for: message))
    }

    @Test func messageOfTest1024Has1023Bytes() throws {
        #expect(try hexBytes(Self.test1024Message).count == 1023)
        // TEST SHA(abc) signs the SHA-512 of "abc"; cross-check with the hash wrapper.
        #expect(SHA512.hash(Data("abc".utf8)).hex == Self.vectors[4].message)
    }

    @Test func tamperedMessageOrSignatureFails() throws {
        let vector = Self.vectors[2]
        let publicKey = try Ed25519PublicKey(rawRepresentation: hexBytes(vector.publicKey))
        let message = try hexBytes(vector.message)
        let signature = try hexBytes(vector.signature)
        #expect(publicKey.isValidSignature(signature, for: message))
        for index in [0, 31, 32, 63] {
            var bent = signature
            bent[index] ^= 0x01
            #expect(!publicKey.isValidSignature(bent, for: message), "flipped a bit of signature byte \(index)")
        }
        var otherMessage = message
        otherMessage[1] ^= 0x80
        #expect(!publicKey.isValidSignature(signature, for: otherMessage))
        #expect(!publicKey.isValidSignature(signature, for: message + [0]))
        let otherKey = try Ed25519PublicKey(rawRepresentation: hexBytes(Self.vectors[1].publicKey))
        #expect(!otherKey.isValidSignature(signature, for: message))
    }

    @Test func wrongLengthsAreRejected() throws {
        for count in [0, 31, 33, 64] {
            #expect(throws: CryptoError.self) {
                try Ed25519PrivateKey(rawRepresentation: [UInt8](repeating: 1, count: count))
            }
            #expect(throws: CryptoError.self) {
                try Ed25519PublicKey(rawRepresentation: [UInt8](repeating: 1, count: count))
            }
        }
        do {
            _ = try Ed25519PublicKey(rawRepresentation: Data(count: 31))
            Issue.record("a 31-byte public key was accepted")
        } catch {
            #expect(error.code == .invalidLength)
            #expect(error.message.contains("31"))
        }
        let key = Ed25519PrivateKey()
        let signature = key.signature(for: Data("hello".utf8))
        #expect(key.publicKey.isValidSignature(signature, for: Data("hello".utf8)))
        #expect(!key.publicKey.isValidSignature(signature.prefix(63), for: Data("hello".utf8)))
        #expect(!key.publicKey.isValidSignature(signature + [0], for: Data("hello".utf8)))
        #expect(!key.publicKey.isValidSignature(Data(), for: Data("hello".utf8)))
        #expect(!key.publicKey.isValidSignature(Data(count: 64), for: Data("hello".utf8)))
        #expect(!key.publicKey.isValidSignature(Data(repeating: 0xff, count: 64), for: Data("hello".utf8)))
    }

    /// A public key that is not a point on the curve is accepted as bytes but never verifies anything.
    @Test func garbagePublicKeyNeverVerifies() throws {
        let key = Ed25519PrivateKey()
        let message = Data("message".utf8)
        let signature = key.signature(for: message)
        for fill: UInt8 in [0x00, 0xff, 0x7f] {
            let junk = try? Ed25519PublicKey(rawRepresentation: Data(repeating: fill, count: 32))
            #expect(junk?.isValidSignature(signature, for: message) != true)
        }
    }

    @Test func generatedKeysRoundTrip() throws {
        let first = Ed25519PrivateKey()
        let second = Ed25519PrivateKey()
        #expect(first != second)
        #expect(first.publicKey != second.publicKey)
        let reloaded = try Ed25519PrivateKey(rawRepresentation: first.rawRepresentation)
        #expect(reloaded == first)
        #expect(reloaded.publicKey == first.publicKey)
        #expect(Set([first.publicKey, reloaded.publicKey, second.publicKey]).count == 2)
        // Ed25519 is deterministic: the same key signs the same message identically.
        let message = Data((0..<300).map { UInt8($0 & 0xff) })
        #expect(first.signature(for: message) == reloaded.signature(for: message))
        #expect(!"\(first)".contains(hex(first.rawRepresentation)))
    }

    /// One key used from many threads at once (the worker engine signs results on several cores).
    @Test func concurrentUse() {
        let key = Ed25519PrivateKey()
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            let message = Data("unit \(index)".utf8)
            let signature = key.signature(for: message)
            precondition(key.publicKey.isValidSignature(signature, for: message))
        }
    }

    static let test1024Message =
        "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1"
        + "e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d"
        + "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a"
        + "7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e"
        + "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10"
        + "3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1"
        + "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d"
        + "502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270"
        + "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b"
        + "eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba"
        + "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b"
        + "e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7"
        + "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d"
        + "cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df"
        + "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7"
        + "984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4"
        + "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09"
        + "43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f"
        + "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161"
        + "0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d"
        + "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca"
        + "c60c905c15fc910840b94c00a0b9d0"
}

private struct HexError: Error {
    var text: String
}

private func hexBytes(_ text: String) throws -> [UInt8] {
    let utf8 = Array(text.utf8)
    guard utf8.count % 2 == 0 else { throw HexError(text: text) }
    return try stride(from: 0, to: utf8.count, by: 2).map { index in
        guard let byte = UInt8(String(decoding: utf8[index..<index + 2], as: UTF8.self), radix: 16) else {
            throw HexError(text: text)
        }
        return byte
    }
}

private func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}
