import ColonyCore
import Foundation

/// One signed record of a shard's custody state (DESIGN.md, Custody). Records only accumulate: a shard's state
/// is the set of its records, merged by union, and whether a unit is validated is a pure function of that set.
///
/// One record covers many units of one shard (batching): a lease of 100 units, or a worker's commits for all
/// of them, costs one signature.
public struct CustodyRecord: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A custodian lets `worker` compute `entries`' units until `expires`.
        case lease
        /// A worker's seals: entry hash = SHA-256(worker ‖ job ‖ unit ‖ output digest).
        case commit
        /// A worker's outputs: entry hash = output digest, entry data = output.
        case reveal
        /// A custodian's spot-check draws for an adaptive job (`ShardLedger`, Adaptive): for each unit `worker`
        /// sealed under this custodian's lease, entry data = the custodian's signature of `drawMessage`. Ed25519
        /// signs deterministically, so the draw is fixed by the seal, and the worker, who cannot sign for the
        /// custodian, cannot know it before sealing.
        case draw
        /// The units' leases of `worker` end without a result: entry data says why. Written by the worker (the
        /// kernel failed, the worker stopped) or by a custodian (a reveal that did not match its commit).
        case error
    }

    /// One unit in a record.
    public struct Entry: Sendable, Hashable {
        public var unit: Int
        public var hash: [UInt8]
        public var data: [UInt8]
        public init(unit: Int, hash: [UInt8] = [], data: [UInt8] = []) {
            self.unit = unit
            self.hash = hash
            self.data = data
        }
    }

    public var kind: Kind
    public var job: JobID
    public var shard: Int
    /// Who signed it.
    public var author: Ed25519PublicKey
    /// Milliseconds since 1970, by the author's clock.
    public var time: Int64
    /// Whose lease this is about (lease and error records); the author for commits and reveals.
    public var worker: Ed25519PublicKey
    /// When a lease ends, in milliseconds since 1970; 0 for other kinds.
    public var expires: Int64
    /// A lease's custodian-set epoch: the lease counts only when its author was in the set of that epoch.
    public var epoch: Int
    /// A lease's worker network as the custodian saw it (`JobPolicy.network`): independent replicas come from
    /// distinct networks. Empty when the policy turns the rule off.
    public var network: [UInt8]
    /// A lease's claim, in an adaptive job, of the worker's standing when it was signed (`ShardLedger`, Adaptive):
    /// 0, or at least the policy's `trustAfter` when its units may run once. Anyone re-verifying recomputes the
    /// standing and accepts a unit run once only when it is at least the claim.
    public var standing: Int
    /// The part of a lease's claim earned in other shards (`priorShards`) of jobs of the same kernel: the worker's
    /// consecutive passed checks there (`ShardLedger.priorStanding`), which counts in this shard until its first
    /// failure here. Anyone re-verifying gathers those shards and counts again.
    public var prior: Int
    /// The shards a lease's `prior` was counted in (at most `maxPriorShards`).
    public var priorShards: [ShardRef]
    public var entries: [Entry]
    public var signature: [UInt8]

    /// Bounds for records from the network.
    public static let maxEntries = JobPolicy.shardLimits.upperBound
    public static let maxOutput = 1 << 20
    public static let maxRecordSize = 16 << 20
    /// Shards a lease may cite for its prior standing.
    public static let maxPriorShards = 16

    /// A signed record.
    public init(
        kind: Kind, job: JobID, shard: Int, worker: Ed25519PublicKey, expires: Int64 = 0, epoch: Int = 0,
        network: [UInt8] = [], standing: Int = 0, prior: Int = 0, priorShards: [ShardRef] = [], entries: [Entry],
        time: Int64 = CustodyClock.now(), signedBy identity: Identity
    ) {
        self.kind = kind
        self.job = job
        self.shard = shard
        self.author = identity.publicKey
        self.time = time
        self.worker = worker
        self.expires = expires
        self.epoch = kind == .lease ? epoch : 0
        self.network = kind == .lease ? network : []
        self.standing = kind == .lease ? standing : 0
        self.prior = kind == .lease && !priorShards.isEmpty ? prior : 0
        self.priorShards = kind == .lease && prior > 0 ? priorShards : []
        self.entries = entries
        self.signature = []
        signature = [UInt8](identity.signature(for: unsignedValue().encoded()))
    }

    /// The data of an error entry by which a worker gives back, unstarted or interrupted, the unit of its lease
    /// `lease`: it ends that lease only, and the worker may be leased the unit again.
    public static func releaseReason(of lease: SHA256Digest) -> [UInt8] { Array("released:\(lease.hex)".utf8) }

    /// The lease an error entry's data releases, if it is a release.
    public static func releasedLease(_ data: [UInt8]) -> SHA256Digest? {
        let prefix = Array("released:".utf8)
        guard data.count == prefix.count + 64, data.starts(with: prefix) else { return nil }
        return try? SHA256Digest(hex: String(decoding: data.dropFirst(prefix.count), as: UTF8.self))
    }

    /// What a custodian signs to draw whether `worker`'s sealed unit is spot-checked.
    public static func drawMessage(job: JobID, unit: Int, worker: Ed25519PublicKey, seal: [UInt8]) -> [UInt8] {
        var message = Array("colony-draw".utf8) + job.bytes
        withUnsafeBytes(of: UInt64(unit).bigEndian) { message += $0 }
        return message + [UInt8](worker.rawRepresentation) + seal
    }

    /// A draw's value, uniform in [0, 1): the first 8 bytes of SHA-256 of the draw signature over 2⁶⁴. The unit
    /// is spot-checked when it falls below the worker's rate.
    public static func drawValue(_ signature: [UInt8]) -> Double {
        let digest = SHA256.hash(signature).bytes
        let word = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(word >> 11) / Double(UInt64(1) << 53)
    }

    /// The seed a draw's signature gives the kernel's check of a result run alone (`ShardLedger.refuted`): the
    /// next 8 bytes of the same hash as `drawValue`, unknown to the worker until its output is sealed.
    public static func drawSeed(_ signature: [UInt8]) -> UInt64 {
        SHA256.hash(signature).bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    /// The seal a worker commits before revealing `digest` (DESIGN.md, commit–reveal).
    public static func seal(worker: Ed25519PublicKey, job: JobID, unit: Int, digest: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(worker.rawRepresentation)
        hasher.update(job.bytes)
        var index = UInt64(unit).bigEndian
        withUnsafeBytes(of: &index) { hasher.update(bytes: $0) }
        hasher.update(digest)
        return hasher.finalize().bytes
    }

    func unsignedValue() -> BencodeValue {
        var fields: [(String, BencodeValue)] = [
            ("k", .text(kind.rawValue)), ("j", .bytes(job.bytes)), ("s", .integer(Int64(shard))),
            ("a", .bytes([UInt8](author.rawRepresentation))), ("t", .integer(time)),
            ("w", .bytes([UInt8](worker.rawRepresentation))),
            ("e", .list(entries.map { .list([.integer(Int64($0.unit)), .bytes($0.hash), .bytes($0.data)]) })),
        ]
        if expires != 0 { fields.append(("x", .integer(expires))) }
        if kind == .lease {
            fields.append(("p", .integer(Int64(epoch))))
            fields.append(("n", .bytes(network)))
            if standing > 0 { fields.append(("c", .integer(Int64(standing)))) }
            if prior > 0 {
                fields.append(("h", .integer(Int64(prior))))
                fields.append(("o", .list(priorShards.map { .list([.bytes($0.job.bytes), .integer(Int64($0.shard))]) })))
            }
        }
        return .dictionary(BencodeDictionary(uniqueKeysWithValues: fields.map { (Array($0.0.utf8), $0.1) }))
    }

    /// The record as a bencode value, signature included.
    public var value: BencodeValue {
        guard case .dictionary(var dictionary) = unsignedValue() else { return .list([]) }
        dictionary["sig"] = .bytes(signature)
        return .dictionary(dictionary)
    }

    /// The record's bytes.
    public func encoded() -> [UInt8] { value.encoded() }

    /// `records` in the order that lets each find what it needs already admitted: leases, then commits, draws,
    /// reveals and errors, each by time.
    public static func inAdmissionOrder(_ records: [CustodyRecord]) -> [CustodyRecord] {
        let rank: [Kind: Int] = [.lease: 0, .commit: 1, .draw: 2, .reveal: 3, .error: 4]
        return records.sorted { a, b in a.kind != b.kind ? rank[a.kind]! < rank[b.kind]! : a.time < b.time }
    }

    /// The record's ID: SHA-256 of its bytes.
    public var id: SHA256Digest { SHA256.hash(encoded()) }

    /// True when `author` signed exactly this record.
    public var isSignatureValid: Bool { author.isValidSignature(signature, for: unsignedValue().encoded()) }

    /// Reads a record from a decoded value; checks shape and bounds, not the signature.
    public init(_ value: BencodeValue) throws(CustodyError) {
        func key(_ name: String) throws(CustodyError) -> Ed25519PublicKey {
            guard let bytes = value[name]?.bytes, let key = try? Ed25519PublicKey(rawRepresentation: bytes) else {
                throw .malformed("field \(name) is not a 32-byte key")
            }
            return key
        }
        guard let kindText = value["k"]?.string, let kind = Kind(rawValue: kindText) else {
            throw .malformed("unknown record kind")
        }
        guard let jobBytes = value["j"]?.bytes, let job = try? JobID(bytes: jobBytes) else {
            throw .malformed("field j is not a 32-byte job ID")
        }
        guard let shard = value["s"]?.integer, shard >= 0, shard < Int64(JobManifest.maxUnits) else {
            throw .malformed("field s is not a shard number")
        }
        guard let time = value["t"]?.integer, let list = value["e"]?.list, !list.isEmpty, list.count <= Self.maxEntries
        else { throw .malformed("fields t or e are missing, or e is empty or too long") }
        guard let signature = value["sig"]?.bytes, signature.count == 64 else { throw .malformed("sig is missing") }
        var entries: [Entry] = []
        entries.reserveCapacity(list.count)
        for item in list {
            guard let parts = item.list, parts.count == 3, let unit = parts[0].integer, unit >= 0,
                unit < Int64(JobManifest.maxUnits), let hash = parts[1].bytes, hash.count == 0 || hash.count == 32,
                let data = parts[2].bytes, data.count <= Self.maxOutput
            else { throw .malformed("an entry is not [unit, hash, data] within bounds") }
            entries.append(Entry(unit: Int(unit), hash: hash, data: data))
        }
        self.kind = kind
        self.job = job
        self.shard = Int(shard)
        self.author = try key("a")
        self.worker = try key("w")
        self.time = time
        self.expires = value["x"]?.integer ?? 0
        if kind == .lease {
            guard let epoch = value["p"]?.integer, epoch >= 0, epoch < 1 << 20, let network = value["n"]?.bytes,
                network.count <= 16
            else { throw .malformed("a lease needs its epoch p and network n") }
            self.epoch = Int(epoch)
            self.network = network
            let claim = value["c"]?.integer ?? 0
            guard claim >= 0, claim < 1 << 30 else {
                throw .malformed("a lease's standing c is out of range")
            }
            self.standing = Int(claim)
            let prior = value["h"]?.integer ?? 0
            let cited = value["o"]?.list ?? []
            guard prior >= 0, prior <= claim, cited.count <= Self.maxPriorShards, (prior > 0) == !cited.isEmpty else {
                throw .malformed("a lease's prior standing h needs its shards o (at most \(Self.maxPriorShards)) and is at most its claim")
            }
            var shards: [ShardRef] = []
            for item in cited {
                guard let pair = item.list, pair.count == 2, let bytes = pair[0].bytes, let job = try? JobID(bytes: bytes),
                    let shard = pair[1].integer, shard >= 0, shard < Int64(JobManifest.maxUnits)
                else { throw .malformed("a lease's prior shard is not [job, shard]") }
                shards.append(ShardRef(job: job, shard: Int(shard)))
            }
            self.prior = Int(prior)
            self.priorShards = shards
        } else {
            self.epoch = 0
            self.network = []
            self.standing = 0
            self.prior = 0
            self.priorShards = []
        }
        self.entries = entries
        self.signature = signature
        // One encoding per record: a record re-encoded differently would have two IDs.
        guard encoded() == value.encoded() else { throw .malformed("a record is not in canonical form") }
    }
}

/// Milliseconds since 1970: the time custody records carry.
public enum CustodyClock {
    public static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }
}

/// Why a custody request or record was refused; `reason` is the counter it is tallied under.
public struct CustodyError: Error, CustomStringConvertible, Sendable, Equatable {
    public var reason: String
    public var detail: String

    public init(_ reason: String, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public static func malformed(_ detail: String) -> CustodyError { CustodyError("malformed", detail) }

    public var description: String { "\(reason): \(detail)" }
}
