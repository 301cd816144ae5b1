import ColonyCore
import ColonyNet
import Foundation

/// One custodian of a shard: the key that signs its leases, and where it listens.
public struct CustodianMember: Sendable, Hashable, CustomStringConvertible {
    public var key: Ed25519PublicKey
    public var endpoint: Endpoint

    public init(key: Ed25519PublicKey, endpoint: Endpoint) {
        self.key = key
        self.endpoint = endpoint
    }

    var value: BencodeValue { .list([.bytes([UInt8](key.rawRepresentation)), .bytes(endpoint.compact)]) }

    init(_ value: BencodeValue) throws(CustodyError) {
        guard let parts = value.list, parts.count == 2, let keyBytes = parts[0].bytes,
            let key = try? Ed25519PublicKey(rawRepresentation: keyBytes), let compact = parts[1].bytes,
            let endpoint = Endpoint(compact: compact)
        else { throw .malformed("a custodian is not [32-byte key, 6-byte endpoint]") }
        self.init(key: key, endpoint: endpoint)
    }

    public var description: String { "\(key.hex.prefix(12))@\(endpoint)" }
}

/// A change of one shard's custodian set (a custodian left or died), signed by a majority of the set before it
/// (DESIGN.md, Trust: authority chains to the publisher). Epoch 0 is the set in the manifest, signed by the
/// publisher; a change names the epoch it starts.
public struct CustodySetChange: Sendable, Hashable {
    public var job: JobID
    public var shard: Int
    /// The epoch this change starts (1 or more).
    public var epoch: Int
    public var members: [CustodianMember]
    /// Milliseconds since 1970, by the proposer's clock.
    public var time: Int64
    /// (signer, signature over `unsignedValue`), each signer at most once.
    public var signatures: [(key: Ed25519PublicKey, signature: [UInt8])]

    /// Bounds for changes from the network.
    public static let maxMembers = 16
    public static let maxSignatures = 16

    public init(job: JobID, shard: Int, epoch: Int, members: [CustodianMember], time: Int64 = CustodyClock.now()) {
        self.job = job
        self.shard = shard
        self.epoch = epoch
        self.members = members
        self.time = time
        signatures = []
    }

    public static func == (a: CustodySetChange, b: CustodySetChange) -> Bool { a.encoded() == b.encoded() }
    public func hash(into hasher: inout Hasher) { hasher.combine(encoded()) }

    /// What each signer signs.
    public func unsignedValue() -> BencodeValue {
        [
            "k": .text("custodians"), "j": .bytes(job.bytes), "s": .integer(Int64(shard)),
            "p": .integer(Int64(epoch)), "m": .list(members.map(\.value)), "t": .integer(time),
        ]
    }

    /// Adds `identity`'s signature (replacing an earlier one by the same key).
    public mutating func sign(by identity: Identity) {
        signatures.removeAll { $0.key == identity.publicKey }
        signatures.append((identity.publicKey, [UInt8](identity.signature(for: unsignedValue().encoded()))))
        signatures.sort { $0.key.rawRepresentation.lexicographicallyPrecedes($1.key.rawRepresentation) }
    }

    public var value: BencodeValue {
        guard case .dictionary(var dictionary) = unsignedValue() else { return .list([]) }
        dictionary["g"] = .list(signatures.map { .list([.bytes([UInt8]($0.key.rawRepresentation)), .bytes($0.signature)]) })
        return .dictionary(dictionary)
    }

    public func encoded() -> [UInt8] { value.encoded() }

    /// The change's ID: SHA-256 of its bytes.
    public var id: SHA256Digest { SHA256.hash(encoded()) }

    /// Reads a change; checks shape and bounds, not signatures.
    public init(_ value: BencodeValue) throws(CustodyError) {
        guard value["k"]?.string == "custodians" else { throw .malformed("not a custodian set change") }
        guard let jobBytes = value["j"]?.bytes, let job = try? JobID(bytes: jobBytes) else {
            throw .malformed("field j is not a 32-byte job ID")
        }
        guard let shard = value["s"]?.integer, shard >= 0, shard < Int64(JobManifest.maxUnits),
            let epoch = value["p"]?.integer, epoch >= 1, epoch < 1 << 20, let time = value["t"]?.integer,
            let memberList = value["m"]?.list, !memberList.isEmpty, memberList.count <= Self.maxMembers,
            let signatureList = value["g"]?.list, signatureList.count <= Self.maxSignatures
        else { throw .malformed("a set change needs s, p ≥ 1, t, m (1…\(Self.maxMembers)) and g") }
        var members: [CustodianMember] = []
        for member in memberList { members.append(try CustodianMember(member)) }
        guard Set(members.map(\.key)).count == members.count else { throw .malformed("a custodian appears twice") }
        var signatures: [(Ed25519PublicKey, [UInt8])] = []
        for item in signatureList {
            guard let pair = item.list, pair.count == 2, let keyBytes = pair[0].bytes,
                let key = try? Ed25519PublicKey(rawRepresentation: keyBytes), let signature = pair[1].bytes,
                signature.count == 64
            else { throw .malformed("a signature is not [32-byte key, 64-byte signature]") }
            signatures.append((key, signature))
        }
        self.job = job
        self.shard = Int(shard)
        self.epoch = Int(epoch)
        self.members = members
        self.time = time
        self.signatures = signatures
        guard encoded() == value.encoded() else { throw .malformed("a set change is not in canonical form") }
    }

    /// The keys of `set` whose signatures on this change verify.
    public func validSigners(among set: [CustodianMember]) -> Set<Ed25519PublicKey> {
        let message = unsignedValue().encoded()
        var signers: Set<Ed25519PublicKey> = []
        for (key, signature) in signatures where set.contains(where: { $0.key == key }) && !signers.contains(key) {
            if key.isValidSignature(signature, for: message) { signers.insert(key) }
        }
        return signers
    }
}

/// Who may lease a shard's units, epoch by epoch: the publisher's initial set and the changes that chain from
/// it, each signed by a majority of the set before it. A pure function of the manifest and the changes held, so
/// that a custodian, a worker and a stranger re-verifying later agree on it.
public struct ShardAuthority: Sendable {
    /// The set of each epoch, from 0.
    public private(set) var sets: [[CustodianMember]]
    /// The change chosen for each epoch from 1 (`sets[e]` comes from `changes[e - 1]`).
    public private(set) var changes: [CustodySetChange] = []
    /// Valid changes not chosen (forks), kept so that the choice is the same whatever order they came in.
    private var others: [Int: [CustodySetChange]] = [:]

    public init(initial: [CustodianMember]) { sets = [initial] }

    public var epoch: Int { sets.count - 1 }
    public var current: [CustodianMember] { sets[sets.count - 1] }

    /// The set of `epoch`, if known.
    public func set(at epoch: Int) -> [CustodianMember]? { epoch >= 0 && epoch < sets.count ? sets[epoch] : nil }

    /// Whether `key` was in the set of `epoch`.
    public func isMember(_ key: Ed25519PublicKey, at epoch: Int) -> Bool {
        set(at: epoch)?.contains { $0.key == key } ?? false
    }

    /// Whether `key` was ever a custodian of the shard.
    public func wasMember(_ key: Ed25519PublicKey) -> Bool { sets.contains { $0.contains { $0.key == key } } }

    /// Valid changes kept per epoch besides the chosen one.
    static let maxForks = 8

    /// Signatures a change of a set of `count` members needs: a majority.
    public static func majority(of count: Int) -> Int { count / 2 + 1 }

    /// Admits a change: it must start the epoch after one known here and carry signatures of a majority of that
    /// epoch's set. Returns false when it was already known. Where two valid changes start one epoch (a fork),
    /// the one with more valid signatures wins, then the smaller ID, so every peer picks the same.
    @discardableResult
    public mutating func admit(_ change: CustodySetChange, minimumMembers: Int) throws(CustodyError) -> Bool {
        guard change.epoch >= 1, change.epoch <= sets.count else {
            throw CustodyError("unknown epoch", "a change to epoch \(change.epoch); epochs 0…\(epoch) are known here")
        }
        guard change.members.count >= minimumMembers, change.members.count <= CustodySetChange.maxMembers else {
            throw CustodyError("bad authority", "a custodian set of \(change.members.count); at least \(minimumMembers) needed")
        }
        let previous = sets[change.epoch - 1]
        let signers = change.validSigners(among: previous)
        guard signers.count >= Self.majority(of: previous.count) else {
            throw CustodyError(
                "bad authority",
                "the change to epoch \(change.epoch) has \(signers.count) valid signatures of the \(previous.count) "
                    + "custodians before it; \(Self.majority(of: previous.count)) needed")
        }
        let id = change.id
        if change.epoch <= changes.count {
            let chosen = changes[change.epoch - 1]
            if chosen.id == id || others[change.epoch, default: []].contains(where: { $0.id == id }) { return false }
            guard others[change.epoch, default: []].count < Self.maxForks else {
                throw CustodyError("bad authority", "more than \(Self.maxForks) changes to epoch \(change.epoch)")
            }
            if Self.precedes(change, signers.count, chosen, chosen.validSigners(among: previous).count) {
                // The new change wins this epoch: the old one, and what was chained after it, are set aside and
                // replayed on top of the new one.
                for dropped in changes[(change.epoch - 1)...] { others[dropped.epoch, default: []].append(dropped) }
                changes = Array(changes.prefix(change.epoch - 1)) + [change]
                sets = Array(sets.prefix(change.epoch)) + [change.members]
                replayLaterChanges(after: change.epoch, minimumMembers: minimumMembers)
            } else {
                others[change.epoch, default: []].append(change)
            }
            return true
        }
        changes.append(change)
        sets.append(change.members)
        replayLaterChanges(after: change.epoch, minimumMembers: minimumMembers)
        return true
    }

    /// All changes held, chosen or not, oldest epoch first (what a peer sends others).
    public var allChanges: [CustodySetChange] {
        (changes + others.values.flatMap { $0 }).sorted { $0.epoch != $1.epoch ? $0.epoch < $1.epoch : $0.id < $1.id }
    }

    private static func precedes(_ a: CustodySetChange, _ aSigners: Int, _ b: CustodySetChange, _ bSigners: Int) -> Bool {
        aSigners != bSigners ? aSigners > bSigners : a.id < b.id
    }

    /// Changes held aside that may chain after a change just chosen.
    private mutating func replayLaterChanges(after epoch: Int, minimumMembers: Int) {
        let pending = others.filter { $0.key > epoch }.values.flatMap { $0 }.sorted { $0.epoch < $1.epoch }
        for key in others.keys where key > epoch { others[key] = nil }
        for change in pending { _ = try? admit(change, minimumMembers: minimumMembers) }
    }
}
