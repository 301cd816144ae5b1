import ColonyCore
import ColonyKernel
import Foundation

/// A job's ID: the SHA-256 of its signed, bencoded manifest.
public typealias JobID = SHA256Digest

/// How a job is computed across the swarm: redundancy, lease length and how units are grouped for custody.
public struct JobPolicy: Sendable, Equatable {
    /// Workers that compute each unit at once.
    public var replicas: Int
    /// Distinct workers whose outputs must agree.
    public var quorum: Int
    /// Leases a unit may use before it fails.
    public var maxAttempts: Int
    /// How long a lease lasts.
    public var leaseSeconds: Int
    /// Consecutive units kept by one set of custodians (one shard); batching happens per shard.
    public var shardSize: Int
    /// The prefixes that make a worker's network (DESIGN.md, Trust: independent quorum): agreeing replicas count
    /// only from distinct networks. 0 turns the rule off for that family (each worker is a network of its own).
    public var ipv4Prefix: Int = 24
    public var ipv6Prefix: Int = 48
    /// Adaptive replication (issue 14; `ShardLedger`, Adaptive): the lowest spot-check rate in parts per million,
    /// 0 when every unit is replicated.
    public var spotCheckPPM = 0
    /// Consecutive valid results in a shard before a worker's units there may run once.
    public var trustAfter = 10
    /// Whether a result run alone is checked with the kernel's `verify`, where it has one (`ShardLedger.refuted`).
    public var verifiesAlone = true

    public var isAdaptive: Bool { spotCheckPPM > 0 }

    /// The spot-check rate for a worker with `standing` consecutive valid results: 1/standing, at least the
    /// publisher's minimum (BOINC's adaptive replication).
    public func spotCheckRate(standing: Int) -> Double {
        max(Double(spotCheckPPM) / 1_000_000, 1 / Double(max(1, standing)))
    }

    /// The largest shard: a lease or a batch of results never covers more units than this.
    public static let shardLimits = 1...1024

    public init(
        replicas: Int, quorum: Int, maxAttempts: Int, leaseSeconds: Int, shardSize: Int, ipv4Prefix: Int = 24,
        ipv6Prefix: Int = 48
    ) {
        self.replicas = replicas
        self.quorum = quorum
        self.maxAttempts = maxAttempts
        self.leaseSeconds = leaseSeconds
        self.shardSize = shardSize
        self.ipv4Prefix = ipv4Prefix
        self.ipv6Prefix = ipv6Prefix
    }

    /// A policy from a spec: its redundancy and lease, and shards of up to 128 units (1024 with adaptive
    /// replication: a worker earns trust per shard, so larger shards spend less of it on earning).
    public init(spec: JobSpec, unitCount: Int) {
        let redundancy = spec.redundancy
        self.init(
            replicas: redundancy.replicas, quorum: redundancy.quorum,
            maxAttempts: redundancy.maxAttempts, leaseSeconds: spec.leaseSeconds,
            shardSize: max(1, min(redundancy.adaptive ? Self.shardLimits.upperBound : 128, unitCount)),
            ipv4Prefix: redundancy.ipv4Prefix, ipv6Prefix: redundancy.ipv6Prefix)
        if redundancy.adaptive {
            spotCheckPPM = max(1, Int((redundancy.minSpotCheck * 1_000_000).rounded()))
            trustAfter = redundancy.trustAfter
            verifiesAlone = redundancy.verifyAlone
        }
    }

    /// Leases one custodian may count toward a unit's attempts, with `custodians` in the set: a unit's replica slots
    /// belong to min(replicas, custodians) of them, and each has an equal share, so that no custodian alone can use
    /// up a unit's attempts (a corrupt one would fail units at will) while the owners together can.
    public func attemptsPerCustodian(custodians: Int) -> Int {
        let owners = max(1, min(replicas, custodians))
        return (maxAttempts + owners - 1) / owners
    }

    /// The network a worker seen at `address` belongs to: the address with the bits past the policy's prefix
    /// cleared, or empty when the rule is off (the worker is then its own network).
    public func network(ofIPv4 address: UInt32) -> [UInt8] {
        guard ipv4Prefix > 0 else { return [] }
        let mask: UInt32 = ipv4Prefix >= 32 ? .max : ~(UInt32.max >> UInt32(ipv4Prefix))
        let masked = address & mask
        return [UInt8(masked >> 24), UInt8(masked >> 16 & 0xFF), UInt8(masked >> 8 & 0xFF), UInt8(masked & 0xFF)]
    }

    /// Whether `network` is one a custodian following this policy could have signed into a lease.
    public func isWellFormed(network: [UInt8]) -> Bool {
        switch network.count {
        case 0: return ipv4Prefix == 0 || ipv6Prefix == 0
        case 4:
            guard ipv4Prefix > 0 else { return false }
            let address = network.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return self.network(ofIPv4: address) == network
        case 16:
            guard ipv6Prefix > 0 else { return false }
            // Bits past the prefix are zero.
            return (0..<128).allSatisfy { bit in bit < ipv6Prefix || network[bit / 8] & (0x80 >> UInt8(bit % 8)) == 0 }
        default: return false
        }
    }
}

/// One unit's input as a manifest carries it: the bytes themselves when small, otherwise a blob of the swarm
/// (DESIGN.md, Jobs and units: inline when small, blob references otherwise).
public enum UnitInput: Sendable, Equatable {
    case inline([UInt8])
    /// The blob's root (its ID) and its size in bytes; a worker fetches it and checks both.
    case blob(root: SHA256Digest, size: Int)

    /// The largest input a blob reference may announce.
    public static let maximumBlobSize = 1 << 30

    /// Bytes of input.
    public var size: Int {
        switch self {
        case .inline(let bytes): bytes.count
        case .blob(_, let size): size
        }
    }

    var value: BencodeValue {
        switch self {
        case .inline(let bytes): .bytes(bytes)
        case .blob(let root, let size): ["blob": .bytes(root.bytes), "size": .integer(Int64(size))]
        }
    }

    init(_ value: BencodeValue) throws(ManifestError) {
        if let bytes = value.bytes {
            guard bytes.count <= JobManifest.maxUnitSize else {
                throw ManifestError("an inline unit has \(bytes.count) bytes; at most \(JobManifest.maxUnitSize)")
            }
            self = .inline(bytes)
            return
        }
        guard let rootBytes = value["blob"]?.bytes, let root = try? SHA256Digest(bytes: rootBytes),
            let size = value["size"]?.integer, size >= 0, size <= Self.maximumBlobSize
        else { throw ManifestError("a unit is neither bytes nor {blob: 32 bytes, size: 0…\(Self.maximumBlobSize)}") }
        self = .blob(root: root, size: Int(size))
    }
}

/// Who keeps custody of each shard at first (epoch 0), as the publisher signs it into the manifest: the custodians
/// once each, and per shard the indices of its set (DESIGN.md, Trust: authority chains to the publisher).
public struct JobCustody: Sendable, Equatable {
    public var nodes: [CustodianMember]
    /// Per shard, indices into `nodes`.
    public var sets: [[Int]]

    /// Bounds for manifests from the network.
    public static let maxNodes = 1 << 16

    public init(nodes: [CustodianMember], sets: [[Int]]) {
        self.nodes = nodes
        self.sets = sets
    }

    /// One set for every shard (a private cluster, tests).
    public static func same(_ members: [CustodianMember], shards: Int) -> JobCustody {
        JobCustody(nodes: members, sets: Array(repeating: Array(members.indices), count: shards))
    }

    /// Builds the table from each shard's members, listing every custodian once.
    public init(shardSets: [[CustodianMember]]) {
        var nodes: [CustodianMember] = []
        var index: [Ed25519PublicKey: Int] = [:]
        var sets: [[Int]] = []
        for members in shardSets {
            sets.append(
                members.map { member in
                    if let known = index[member.key] { return known }
                    nodes.append(member)
                    index[member.key] = nodes.count - 1
                    return nodes.count - 1
                })
        }
        self.init(nodes: nodes, sets: sets)
    }

    /// The initial set of `shard`.
    public func members(ofShard shard: Int) -> [CustodianMember] {
        guard shard >= 0, shard < sets.count else { return [] }
        return sets[shard].map { nodes[$0] }
    }

    var value: BencodeValue {
        ["nodes": .list(nodes.map(\.value)), "sets": .list(sets.map { .list($0.map { .integer(Int64($0)) }) })]
    }

    init(_ value: BencodeValue?, shards: Int, quorum: Int) throws(ManifestError) {
        guard let nodeList = value?["nodes"]?.list, !nodeList.isEmpty, nodeList.count <= Self.maxNodes,
            let setList = value?["sets"]?.list, setList.count == shards
        else { throw ManifestError("custody needs nodes (1…\(Self.maxNodes)) and one set per shard (\(shards))") }
        var nodes: [CustodianMember] = []
        nodes.reserveCapacity(nodeList.count)
        for node in nodeList {
            do {
                nodes.append(try CustodianMember(node))
            } catch {
                throw ManifestError("custody: \(error.detail)")
            }
        }
        var sets: [[Int]] = []
        sets.reserveCapacity(shards)
        for (shard, item) in setList.enumerated() {
            guard let indices = item.list?.compactMap(\.integer), indices.count == item.list?.count,
                !indices.isEmpty, indices.count <= CustodySetChange.maxMembers,
                indices.allSatisfy({ $0 >= 0 && $0 < Int64(nodes.count) }), Set(indices).count == indices.count
            else {
                throw ManifestError(
                    "custody set of shard \(shard) is not 1…\(CustodySetChange.maxMembers) distinct node indices")
            }
            sets.append(indices.map { Int($0) })
        }
        self.init(nodes: nodes, sets: sets)
    }
}

/// The signed description of a job that a publisher puts into the swarm (DESIGN.md, Jobs and units): kernel
/// name and version, parameters, unit inputs inline, policy, publisher key, creation time. Bencoded and
/// canonical, so its bytes, and the job ID, are the same wherever it is rebuilt.
public struct JobManifest: Sendable, Equatable {
    public var kernel: String { didSet { refreshID() } }
    public var kernelVersion: Int { didSet { refreshID() } }
    public var title: String { didSet { refreshID() } }
    /// The spec's parameters as JSON text with sorted keys.
    public var parameters: String { didSet { refreshID() } }
    /// The unit inputs, in order.
    public var units: [UnitInput] { didSet { refreshID() } }
    public var policy: JobPolicy { didSet { refreshID() } }
    public var publisher: Ed25519PublicKey { didSet { refreshID() } }
    /// Seconds since 1970.
    public var created: Int64 { didSet { refreshID() } }
    /// Random bytes chosen before the custodians: shard keys derive from them, since the job ID cannot exist
    /// before the custodians are signed into the manifest.
    public var nonce: [UInt8] { didSet { refreshID() } }
    /// The custodians of each shard at epoch 0.
    public var custody: JobCustody { didSet { refreshID() } }
    /// Ed25519 over the manifest without this field.
    public var signature: [UInt8] { didSet { refreshID() } }

    /// Bounds a manifest from the network must respect.
    public static let maxUnits = 1 << 20
    public static let maxUnitSize = 64 << 10
    public static let maxSize = 16 << 20

    /// A manifest from its fields, as they are; `signed` and `init(decoding:)` are the checked ways in.
    public init(
        kernel: String, kernelVersion: Int, title: String, parameters: String, units: [UnitInput], policy: JobPolicy,
        publisher: Ed25519PublicKey, created: Int64, nonce: [UInt8], custody: JobCustody, signature: [UInt8]
    ) {
        self.kernel = kernel
        self.kernelVersion = kernelVersion
        self.title = title
        self.parameters = parameters
        self.units = units
        self.policy = policy
        self.publisher = publisher
        self.created = created
        self.nonce = nonce
        self.custody = custody
        self.signature = signature
        id = SHA256.hash([])
        refreshID()
    }

    /// Inputs larger than this go into blobs when the publisher can store them (`signed(…, storeLarge:)`).
    public static let inlineLimit = 16 << 10

    /// Builds and signs a manifest for `units` of `spec`. `custody` chooses each shard's custodians from the job's
    /// nonce and its shard count (a peer asks the closest nodes to each shard key; `JobCustody.same` gives every
    /// shard one set). With `storeLarge`, each input over `inlineLimit` bytes is handed to it (it stores the bytes
    /// as a blob of the swarm and returns the root) and referenced; without, inputs are inline and at most
    /// `maxUnitSize` bytes.
    public static func signed(
        spec: JobSpec, kernelVersion: Int, units: [Data], by identity: Identity, created: Date = Date(),
        shardSize: Int? = nil, custody: (_ nonce: [UInt8], _ shards: Int) throws -> JobCustody,
        storeLarge: ((Data) throws -> SHA256Digest)? = nil
    ) throws(ManifestError) -> JobManifest {
        guard units.count <= maxUnits else { throw ManifestError("\(units.count) units; at most \(maxUnits)") }
        var inputs: [UnitInput] = []
        inputs.reserveCapacity(units.count)
        for (index, unit) in units.enumerated() {
            if let storeLarge, unit.count > inlineLimit {
                guard unit.count <= UnitInput.maximumBlobSize else {
                    throw ManifestError("unit \(index) has \(unit.count) bytes of input; at most \(UnitInput.maximumBlobSize)")
                }
                do {
                    inputs.append(.blob(root: try storeLarge(unit), size: unit.count))
                } catch {
                    throw ManifestError("unit \(index)'s input could not be stored as a blob: \(error)")
                }
            } else {
                guard unit.count <= maxUnitSize else {
                    throw ManifestError(
                        "unit \(index) has \(unit.count) bytes of input; inline inputs are at most \(maxUnitSize) "
                            + "(larger inputs go as blobs when published through a peer)")
                }
                inputs.append(.inline([UInt8](unit)))
            }
        }
        var policy = JobPolicy(spec: spec, unitCount: units.count)
        if let shardSize { policy.shardSize = shardSize }
        let nonce = SecureRandom.bytes(count: 16)
        let shards = (units.count + policy.shardSize - 1) / policy.shardSize
        let table: JobCustody
        do {
            table = try custody(nonce, shards)
        } catch {
            throw ManifestError("no custodians: \(error)")
        }
        // A set smaller than the quorum is the publisher's choice (fewer reachable nodes than the quorum): its
        // custodians then share the quorum between them (`ShardLedger.custodianCapacity`).
        guard table.sets.count == shards, table.sets.allSatisfy({ !$0.isEmpty }) else {
            throw ManifestError("every shard needs at least one custodian")
        }
        var manifest = JobManifest(
            kernel: spec.kernel, kernelVersion: kernelVersion, title: spec.title,
            parameters: JSONText.serialize(.object(spec.parameters.values)), units: inputs,
            policy: policy, publisher: identity.publicKey, created: Int64(created.timeIntervalSince1970),
            nonce: nonce, custody: table, signature: [])
        manifest.signature = [UInt8](identity.signature(for: manifest.unsignedValue().encoded()))
        guard manifest.encoded().count <= maxSize else {
            throw ManifestError("the manifest would be larger than \(maxSize >> 20) MiB; use fewer or smaller units")
        }
        return manifest
    }

    /// The manifest without its signature: what the signature covers.
    public func unsignedValue() -> BencodeValue {
        var policyFields: [String: BencodeValue] = [
            "replicas": .integer(Int64(policy.replicas)), "quorum": .integer(Int64(policy.quorum)),
            "attempts": .integer(Int64(policy.maxAttempts)), "lease": .integer(Int64(policy.leaseSeconds)),
            "shard": .integer(Int64(policy.shardSize)), "net4": .integer(Int64(policy.ipv4Prefix)),
            "net6": .integer(Int64(policy.ipv6Prefix)),
        ]
        // Only adaptive jobs carry these, so that other manifests (and their IDs) stay as they were.
        if policy.isAdaptive {
            policyFields["spot"] = .integer(Int64(policy.spotCheckPPM))
            policyFields["trust"] = .integer(Int64(policy.trustAfter))
            // Only when off, so that manifests of jobs that check (the default) stay as they were.
            if !policy.verifiesAlone { policyFields["verify"] = .integer(0) }
        }
        return [
            "kernel": .text(kernel), "version": .integer(Int64(kernelVersion)), "title": .text(title),
            "params": .text(parameters), "units": .list(units.map(\.value)),
            "policy": .dictionary(BencodeDictionary(uniqueKeysWithValues: policyFields.map { (Array($0.key.utf8), $0.value) })),
            "publisher": .bytes([UInt8](publisher.rawRepresentation)), "created": .integer(created),
            "nonce": .bytes(nonce), "custody": custody.value,
        ]
    }

    /// About the bytes this manifest holds in memory: its inline inputs, its text, and 64 per unit and custodian
    /// (a custodian's allowance for the jobs it keeps, `CustodyLimits`).
    public var heldBytes: Int {
        units.reduce(0) { total, unit in
            if case .inline(let bytes) = unit { return total + bytes.count + 64 }
            return total + 64
        } + title.utf8.count + parameters.utf8.count + 64 * custody.nodes.count + 1_024
    }

    /// The signed manifest's bytes.
    public func encoded() -> [UInt8] {
        guard case .dictionary(var dictionary) = unsignedValue() else { return [] }
        dictionary["sig"] = .bytes(signature)
        return BencodeValue.dictionary(dictionary).encoded()
    }

    /// The job ID: the SHA-256 of `encoded()`, kept up to date by every change of a field (a job with many
    /// units would otherwise re-encode all of them each time a request names the job).
    public private(set) var id: JobID

    private mutating func refreshID() { id = SHA256.hash(encoded()) }

    /// Decodes and checks a manifest: shape, bounds and the publisher's signature.
    public init(decoding bytes: [UInt8]) throws(ManifestError) {
        guard bytes.count <= Self.maxSize else { throw ManifestError("\(bytes.count) bytes; at most \(Self.maxSize)") }
        let value: BencodeValue
        do {
            value = try BencodeDecoder(limits: .frame).decode(bytes)
        } catch {
            throw ManifestError("not bencode: \(error)")
        }
        func int(_ v: BencodeValue?, _ name: String, _ range: ClosedRange<Int>) throws(ManifestError) -> Int {
            guard let n = v?.integer, n >= range.lowerBound, n <= range.upperBound else {
                throw ManifestError("\(name) is missing or outside \(range)")
            }
            return Int(n)
        }
        guard let kernel = value["kernel"]?.string, !kernel.isEmpty, kernel.utf8.count <= 64 else {
            throw ManifestError("kernel is missing")
        }
        guard let title = value["title"]?.string, let parameters = value["params"]?.string else {
            throw ManifestError("title or params is missing")
        }
        guard let unitList = value["units"]?.list, !unitList.isEmpty, unitList.count <= Self.maxUnits else {
            throw ManifestError("units is missing, empty or too long")
        }
        var units: [UnitInput] = []
        units.reserveCapacity(unitList.count)
        for unit in unitList { units.append(try UnitInput(unit)) }
        let policyValue = value["policy"]
        let replicas = try int(policyValue?["replicas"], "policy.replicas", Redundancy.replicaLimits)
        var policy = JobPolicy(
            replicas: replicas, quorum: try int(policyValue?["quorum"], "policy.quorum", 1...replicas),
            maxAttempts: try int(policyValue?["attempts"], "policy.attempts", replicas...Redundancy.attemptLimits.upperBound),
            leaseSeconds: try int(policyValue?["lease"], "policy.lease", JobSpec.leaseLimits),
            shardSize: try int(policyValue?["shard"], "policy.shard", JobPolicy.shardLimits),
            ipv4Prefix: try int(policyValue?["net4"], "policy.net4", 0...32),
            ipv6Prefix: try int(policyValue?["net6"], "policy.net6", 0...128))
        if policyValue?["spot"] != nil || policyValue?["trust"] != nil {
            guard policy.quorum >= 2 else { throw ManifestError("policy.spot needs a quorum of 2 or more") }
            policy.spotCheckPPM = try int(policyValue?["spot"], "policy.spot", 1_000...1_000_000)
            policy.trustAfter = try int(policyValue?["trust"], "policy.trust", Redundancy.trustLimits)
            if policyValue?["verify"] != nil { policy.verifiesAlone = try int(policyValue?["verify"], "policy.verify", 0...0) != 0 }
        }
        guard let keyBytes = value["publisher"]?.bytes, let publisher = try? Ed25519PublicKey(rawRepresentation: keyBytes)
        else { throw ManifestError("publisher is not a 32-byte key") }
        guard let signature = value["sig"]?.bytes, signature.count == 64 else { throw ManifestError("sig is missing") }
        let version = try int(value["version"], "version", 0...Int(Int32.max))
        guard let created = value["created"]?.integer else { throw ManifestError("created is missing") }
        guard let nonce = value["nonce"]?.bytes, (8...64).contains(nonce.count) else {
            throw ManifestError("nonce is missing")
        }
        let shards = (units.count + policy.shardSize - 1) / policy.shardSize
        let custody = try JobCustody(value["custody"], shards: shards, quorum: policy.quorum)
        self.init(
            kernel: kernel, kernelVersion: version, title: title, parameters: parameters, units: units, policy: policy,
            publisher: publisher, created: created, nonce: nonce, custody: custody, signature: signature)
        guard encoded() == bytes else { throw ManifestError("not in canonical form or has unknown fields") }
        guard publisher.isValidSignature(signature, for: unsignedValue().encoded()) else {
            throw ManifestError("the publisher's signature does not verify")
        }
    }

    /// Number of shards.
    public var shardCount: Int { (units.count + policy.shardSize - 1) / policy.shardSize }

    /// The units of shard `shard`.
    public func units(inShard shard: Int) -> Range<Int> {
        let start = shard * policy.shardSize
        return start..<min(units.count, start + policy.shardSize)
    }

    /// The shard holding `unit`.
    public func shard(of unit: Int) -> Int { unit / policy.shardSize }

    /// The key whose closest nodes were asked to keep custody of `shard`, and whose next closest replace them.
    public func shardKey(_ shard: Int) -> [UInt8] { JobKeys.shard(nonce: nonce, shard) }

    /// Who may lease the units of `shard` at its first epoch.
    public func authority(ofShard shard: Int) -> ShardAuthority {
        ShardAuthority(initial: custody.members(ofShard: shard))
    }

    /// The parameters as kernel parameters.
    public func kernelParameters() throws -> KernelParameters {
        let value = try JSONText.parse(Data(parameters.utf8), source: "manifest parameters")
        return KernelParameters(value.objectValue ?? [:], source: "manifest parameters")
    }
}

/// DHT keys of jobs (20 bytes, SHA-1 of a text, like an info-hash).
public enum JobKeys {
    /// Where jobs of a kernel are announced: SHA-1 of `colony:kernel:<name>:<version>` on the default network,
    /// `colony:<network>:kernel:<name>:<version>` on another, so that swarms of different names never see each
    /// other's jobs.
    public static func topic(kernel: String, version: Int, network: String = Networks.defaultName) -> [UInt8] {
        let text = network == Networks.defaultName ? "colony:kernel:\(kernel):\(version)" : "colony:\(network):kernel:\(kernel):\(version)"
        return SHA1.hash(Array(text.utf8)).bytes
    }

    /// Where custodians that leased units to a worker announce themselves, so that anyone can find the jobs with
    /// evidence of that worker (issue 14): SHA-1 of `colony:evidence:<key hex>`, network-prefixed like `topic`.
    public static func evidence(worker: Ed25519PublicKey, network: String = Networks.defaultName) -> [UInt8] {
        let text =
            network == Networks.defaultName
            ? "colony:evidence:\(worker.hex)" : "colony:\(network):evidence:\(worker.hex)"
        return SHA1.hash(Array(text.utf8)).bytes
    }

    /// Where a job's manifest holders announce themselves.
    public static func job(_ id: JobID) -> [UInt8] { SHA1.hash(Array("colony:job:\(id.hex)".utf8)).bytes }

    /// The key whose closest nodes keep custody of a shard: from the job's nonce, which exists before the job ID.
    public static func shard(nonce: [UInt8], _ shard: Int) -> [UInt8] {
        let hex = nonce.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
        return SHA1.hash(Array("colony:shard:\(hex.joined()):\(shard)".utf8)).bytes
    }
}

/// Colony network names (`--network NAME`): swarms of different names share a DHT but never each other's jobs or
/// custody.
public enum Networks {
    /// The network of a peer that names none.
    public static let defaultName = "colony"

    /// The key Colony peers of `name` announce themselves under on any BitTorrent DHT (the rendezvous): SHA-1 of
    /// `colony:network:<name>`.
    public static func rendezvousKey(_ name: String) -> [UInt8] { SHA1.hash(Array("colony:network:\(name)".utf8)).bytes }

    /// Nil when `name` may name a network (1 to 64 of a–z, 0–9, '-', '_', '.'), else what is wrong with it.
    public static func problem(with name: String) -> String? {
        guard (1...64).contains(name.utf8.count) else { return "must be 1 to 64 characters" }
        guard name.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || "-_.".utf8.contains($0) })
        else { return "may hold only a–z, 0–9, '-', '_' and '.'" }
        return nil
    }
}

/// A manifest that cannot be built or read.
public struct ManifestError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = "manifest: " + description }
}

extension JobManifest {
    /// Whose trust counts across jobs: a worker's passed checks in one job count toward its prior standing in
    /// another with the same kernel and publisher only. Anyone can publish a job of a kernel, with custodians and
    /// workers of its own, whose records show any pass (`Custodian.priorStanding`, `JobCollector`).
    public struct TrustDomain: Hashable, Sendable {
        public var kernel: String
        public var publisher: Ed25519PublicKey
    }

    public var trustDomain: TrustDomain { TrustDomain(kernel: kernel, publisher: publisher) }
}
