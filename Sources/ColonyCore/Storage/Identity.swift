import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The peer's long-term Ed25519 key pair: it signs results, manifests and custody records, and its public key is
/// the worker's identity for quorum and reputation.
///
/// It lives in the data directory as `identity.key` (mode 0600), created on first use. The file is 72 bytes: the
/// 8-byte header `CLNYID01`, the 32-byte private seed, and the 32-byte public key, which lets a damaged file be
/// told apart from a valid one. A damaged file is an error, never silently replaced: a new key would make the peer
/// a stranger to everyone who knew it.
public struct Identity: Sendable, Equatable, CustomStringConvertible {
    /// The key file's name inside the data directory.
    public static let fileName = "identity.key"
    /// The header that starts every identity file, with the format version.
    static let header = Array("CLNYID01".utf8)
    /// The size of an identity file: header, seed, public key.
    static let fileSize = 8 + 32 + 32

    /// The private key.
    public let privateKey: Ed25519PrivateKey

    /// The public key: the peer's identity as others see it.
    public var publicKey: Ed25519PublicKey { privateKey.publicKey }

    /// An identity made of `privateKey`.
    public init(privateKey: Ed25519PrivateKey) {
        self.privateKey = privateKey
    }

    /// The 64-byte signature of `data` by this identity.
    public func signature(for data: some DataProtocol) -> Data {
        privateKey.signature(for: data)
    }

    /// Shows the public key only.
    public var description: String { "Identity(\(publicKey.hex))" }

    /// Where the key file of `directory` is.
    public static func url(in directory: DataDirectory) -> URL {
        directory.url.appendingPathComponent(fileName)
    }

    /// The identity stored in `directory`, created (with the folder) if there is none yet. Throws when the file
    /// exists but is damaged, or cannot be read or written.
    public static func loadOrCreate(in directory: DataDirectory) throws(IdentityError) -> Identity {
        let url = url(in: directory)
        if let existing = try load(from: url) { return existing }
        do {
            try directory.create()
        } catch {
            throw IdentityError(.fileSystem, "cannot create the data directory for \(url.path): \(error)")
        }
        return try create(at: url)
    }

    /// The identity in the key file at `url`, or nil when there is no such file.
    public static func load(from url: URL) throws(IdentityError) -> Identity? {
        let contents: Data
        do {
            guard let data = try AtomicFile.read(url) else { return nil }
            contents = data
        } catch {
            throw IdentityError(.fileSystem, "cannot read the identity key: \(error)")
        }
        try checkPrivate(url)
        return try decode(contents, path: url.path)
    }

    /// Refuses a key file that others may read, as ssh does: a key that has been readable by anyone may have been
    /// copied, and the fix is the user's decision (chmod, or a new key), not ours.
    static func checkPrivate(_ url: URL) throws(IdentityError) {
        var status = stat()
        guard stat(url.path, &status) == 0 else { return }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 != 0 else { return }
        throw IdentityError(
            .exposed,
            "\(url.path): the identity key is readable by others (mode \(String(mode, radix: 8))). Make it private "
                + "with: chmod 600 \(url.path)")
    }

    /// The identity encoded in `contents`, the bytes of the file at `path`.
    static func decode(_ contents: Data, path: String) throws(IdentityError) -> Identity {
        let bytes = [UInt8](contents)
        guard bytes.count == fileSize else {
            throw IdentityError.damaged(path, "it is \(bytes.count) bytes, an identity key file is \(fileSize)")
        }
        guard Array(bytes[0..<8]) == header else {
            throw IdentityError.damaged(path, "it does not start with the identity header \"CLNYID01\"")
        }
        let privateKey: Ed25519PrivateKey
        do {
            privateKey = try Ed25519PrivateKey(rawRepresentation: bytes[8..<40])
        } catch {
            throw IdentityError.damaged(path, "its private key is unusable: \(error)")
        }
        guard privateKey.publicKey.rawRepresentation == Data(bytes[40..<72]) else {
            throw IdentityError.damaged(path, "the public key stored in it does not match its private key")
        }
        return Identity(privateKey: privateKey)
    }

    /// The bytes of this identity's key file.
    func encoded() -> Data {
        var data = Data(Self.header)
        data.append(privateKey.rawRepresentation)
        data.append(publicKey.rawRepresentation)
        return data
    }

    /// Writes a new identity to `url`, unless another process got there first, in which case that one is used.
    private static func create(at url: URL) throws(IdentityError) -> Identity {
        let identity = Identity(privateKey: Ed25519PrivateKey())
        // Written completely and durably beside the target first, then linked into place: link() fails if the
        // target exists, so two peers starting at once on one data directory end up with the same identity.
        let staging = url.deletingLastPathComponent()
            .appendingPathComponent(".\(fileName).new-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        do {
            try AtomicFile.write(identity.encoded(), to: staging, mode: 0o600)
        } catch {
            throw IdentityError(.fileSystem, "cannot write a new identity key: \(error)")
        }
        defer { unlink(staging.path) }
        if link(staging.path, url.path) == 0 {
            syncFolder(url.deletingLastPathComponent().path)
            return identity
        }
        let linkError = errno
        if linkError == EEXIST {
            guard let winner = try load(from: url) else {
                throw IdentityError(.fileSystem, "\(url.path) appeared and vanished while creating the identity")
            }
            return winner
        }
        // Some file systems have no hard links; there, fall back to a rename, which is still atomic.
        guard rename(staging.path, url.path) == 0 else {
            let reason = FileSystemError(path: url.path, action: "move the new identity key into place", code: errno)
            throw IdentityError(.fileSystem, "\(reason) (link failed: \(String(cString: strerror(linkError))))")
        }
        syncFolder(url.deletingLastPathComponent().path)
        return identity
    }

    /// Makes a new name durable. Best effort: some file systems refuse fsync on folders.
    private static func syncFolder(_ path: String) {
        let folder = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else { return }
        _ = fsync(folder)
        close(folder)
    }
}
