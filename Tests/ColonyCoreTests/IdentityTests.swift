import ColonyCore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

@Suite("Identity")
struct IdentityTests {
    @Test func createdOnceWithMode0600ThenReloaded() throws {
        let folder = try IdentityFolder()
        let directory = DataDirectory(url: folder.url.appendingPathComponent("data"))
        let created = try Identity.loadOrCreate(in: directory)
        let file = Identity.url(in: directory)
        #expect(file.lastPathComponent == "identity.key")

        var info = stat()
        try #require(stat(file.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600, "mode is \(String(info.st_mode & 0o777, radix: 8))")
        #expect(info.st_size == 72)
        try #require(stat(directory.url.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o700)

        let reloaded = try Identity.loadOrCreate(in: directory)
        #expect(reloaded == created)
        #expect(reloaded.publicKey == created.publicKey)
        let message = Data("result of unit 7".utf8)
        #expect(created.publicKey.isValidSignature(reloaded.signature(for: message), for: message))
        // Nothing but the key file is left behind (no staging or temporary files).
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == ["identity.key"])
        #expect(
            !"\(created)".contains(created.privateKey.rawRepresentation.map { String(format: "%02x", $0) }.joined()))
    }

    @Test func aKeyOthersCanReadIsRefusedWithTheFix() throws {
        let folder = try IdentityFolder()
        let directory = DataDirectory(url: folder.url.appendingPathComponent("data"))
        _ = try Identity.loadOrCreate(in: directory)
        let file = Identity.url(in: directory)
        try #require(chmod(file.path, 0o644) == 0)
        let error = #expect(throws: IdentityError.self) { try Identity.loadOrCreate(in: directory) }
        #expect(error?.code == .exposed)
        #expect(error?.message == "\(file.path): the identity key is readable by others (mode 644). Make it private with: chmod 600 \(file.path)")
        try #require(chmod(file.path, 0o600) == 0)
        _ = try Identity.loadOrCreate(in: directory)
    }

    @Test func differentDirectoriesGetDifferentIdentities() throws {
        let folder = try IdentityFolder()
        let first = try Identity.loadOrCreate(in: DataDirectory(url: folder.url.appendingPathComponent("a")))
        let second = try Identity.loadOrCreate(in: DataDirectory(url: folder.url.appendingPathComponent("b")))
        #expect(first != second)
    }

    /// Peers starting at the same moment on one data directory all end up with the one identity on disk.
    @Test func concurrentCreationAgrees() throws {
        let folder = try IdentityFolder()
        let directory = DataDirectory(url: folder.url.appendingPathComponent("shared"))
        try directory.create()
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            results.add(Result { try Identity.loadOrCreate(in: directory) })
        }
        let keys = try results.all().map { try $0.get().publicKey }
        #expect(Set(keys).count == 1)
        #expect(try Identity.loadOrCreate(in: directory).publicKey == keys.first)
    }

    /// Ways a key file gets damaged.
    enum Damage: String, CaseIterable, Sendable {
        case empty, short, long, rawSeedOnly, wrongHeader, seedBitFlip, publicKeyBitFlip

        func apply(to data: Data) -> Data {
            var copy = data
            switch self {
            case .empty: return Data()
            case .short: return data.prefix(40)
            case .long: return data + Data([0])
            case .rawSeedOnly: return data[8..<40]
            case .wrongHeader: return Data("XXXXXXXX".utf8) + data.dropFirst(8)
            case .seedBitFlip: copy[12] ^= 1
            case .publicKeyBitFlip: copy[70] ^= 1
            }
            return copy
        }
    }

    @Test(arguments: Damage.allCases)
    func damagedFileIsAnErrorNotReplaced(damage: Damage) throws {
        let name = damage.rawValue
        let folder = try IdentityFolder()
        let directory = DataDirectory(url: folder.url)
        _ = try Identity.loadOrCreate(in: directory)
        let file = Identity.url(in: directory)
        let damaged = damage.apply(to: try Data(contentsOf: file))
        try damaged.write(to: file)
        do {
            _ = try Identity.loadOrCreate(in: directory)
            Issue.record("a damaged identity file (\(name)) was accepted")
        } catch {
            #expect(error.code == .damaged, "\(name)")
            #expect(error.message.contains(file.path), "\(name): \(error.message)")
            #expect(error.message.contains("move it aside") || error.message.contains("backup"))
        }
        // Left exactly as it was: never silently replaced.
        #expect(try Data(contentsOf: file) == damaged, "\(name)")
    }

    @Test func unreadableFileIsAFileSystemError() throws {
        let folder = try IdentityFolder()
        let directory = DataDirectory(url: folder.url)
        // A folder where the key file should be.
        try FileManager.default.createDirectory(at: Identity.url(in: directory), withIntermediateDirectories: true)
        #expect(throws: IdentityError.self) { try Identity.loadOrCreate(in: directory) }
    }
}

/// Collects results from concurrent work.
private final class Results: @unchecked Sendable {
    // Guarded by `lock`.
    private var items: [Result<Identity, any Error>] = []
    private let lock = NSLock()

    func add(_ item: Result<Identity, any Error>) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    func all() -> [Result<Identity, any Error>] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

/// A folder under the system's temporary folder, removed with everything in it when the test ends.
private final class IdentityFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("colony-identity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
