import ColonyCore
import ColonyNet

/// What a DHT node stores for others: BEP 44 items and BEP 5 announced peers, bounded and expiring.
///
/// A value with no clock: every change takes `now`, and `expire(now:)` drops what has outlived its lifetime. All
/// checks of a store run before any state changes, so a refused store leaves the storage as it was.
///
/// When full, new entries are refused and stored ones kept (until they expire). Evicting the oldest instead would
/// let anyone flush every legitimate item by putting a few thousand junk ones; refusing costs a newcomer at most one
/// lifetime of waiting, and per-IP rate limits and write tokens (bound to the sender's address) make filling the
/// storage cost an attacker many addresses.
public struct DHTStorage: Sendable {
    /// The caps and lifetimes in force.
    public let limits: StorageLimits

    var immutableItems: [NodeID: StoredEntry<ImmutableItem>] = [:]
    var mutableItems: [NodeID: StoredEntry<MutableItem>] = [:]
    /// Per info-hash: each announced peer and when it expires.
    var swarms: [NodeID: [Endpoint: Instant]] = [:]
    /// Peers stored per IPv4 address over all info-hashes (expired ones included until the next sweep); an address
    /// leaves the table with its last peer, so it is never larger than `peerCount`.
    var peersPerAddress: [UInt32: Int] = [:]
    /// The total over `swarms`, kept so `peerCount` is O(1).
    public internal(set) var peerCount = 0
    /// No entry expires before this instant (nil when nothing is stored), so `expire(now:)` can return at once on
    /// most calls. Refreshes only move real deadlines later, so this stays a safe lower bound.
    var earliestExpiry: Instant?

    /// Empty storage with `limits`; stops the process when `limits.validate()` fails (a programming error).
    public init(limits: StorageLimits = .init()) {
        do {
            try limits.validate()
        } catch {
            preconditionFailure(error.description)
        }
        self.limits = limits
    }

    /// Immutable and mutable items stored.
    public var itemCount: Int { immutableItems.count + mutableItems.count }

    /// Info-hashes with at least one stored peer.
    public var infoHashCount: Int { swarms.count }

    /// The immutable item stored under `target`, if any.
    public func immutable(_ target: NodeID) -> ImmutableItem? {
        immutableItems[target]?.item
    }

    /// The mutable item stored under `target`, if any.
    public func mutable(_ target: NodeID) -> MutableItem? {
        mutableItems[target]?.item
    }

    /// Stores an immutable item, or refreshes its lifetime when it is already stored.
    ///
    /// Throws 205 when the value is over `ItemLimits.maxValueSize` bytes bencoded, 202 when the storage is full.
    public mutating func store(_ item: ImmutableItem, now: Instant) throws(StoreError) {
        try Self.checkValueSize(item.encodedSize)
        let expiresAt = now.adding(seconds: limits.itemLifetime)
        if immutableItems[item.target] != nil {
            immutableItems[item.target]?.expiresAt = expiresAt
            noteDeadline(expiresAt)
            return
        }
        try makeRoomForItem(now: now)
        immutableItems[item.target] = StoredEntry(item: item, expiresAt: expiresAt)
        noteDeadline(expiresAt)
    }

    /// Stores a mutable item under `item.target` after the checks of BEP 44, in libtorrent's order:
    ///
    /// 203 key not 32 bytes or signature not 64 bytes, 205 value too big, 207 salt too big, 203 negative `seq`,
    /// 206 bad signature, then against the stored item (an expired one counts as absent): 301 when `cas` is given
    /// and differs from its `seq`, 302 when `seq` is lower, or equal with a different value. An equal `seq` with the
    /// same value refreshes the lifetime (BEP 44). 202 when the storage is full and the target is new.
    public mutating func store(_ item: MutableItem, cas: Int64?, now: Instant) throws(StoreError) {
        guard item.publicKey.count == ItemLimits.publicKeySize else {
            throw StoreError(
                code: StoreError.Code.protocolError,
                message: "invalid 'k': an ed25519 public key is 32 bytes, got \(item.publicKey.count)")
        }
        guard item.signature.count == ItemLimits.signatureSize else {
            throw StoreError(
                code: StoreError.Code.protocolError,
                message: "invalid 'sig': an ed25519 signature is 64 bytes, got \(item.signature.count)")
        }
        try Self.checkValueSize(item.encodedSize)
        guard item.salt.count <= ItemLimits.maxSaltSize else {
            throw StoreError(
                code: StoreError.Code.saltTooBig,
                message: "salt too big: \(item.salt.count) bytes, at most \(ItemLimits.maxSaltSize)")
        }
        guard item.seq >= 0 else {
            throw StoreError(
                code: StoreError.Code.protocolError, message: "invalid 'seq': \(item.seq) is negative")
        }
        guard item.hasValidSignature else {
            throw StoreError(
                code: StoreError.Code.invalidSignature,
                message: "invalid signature: 'sig' does not sign salt, seq and v with 'k'")
        }
        let expiresAt = now.adding(seconds: limits.itemLifetime)
        if let stored = mutableItems[item.target], !stored.isExpired(at: now) {
            let current = stored.item
            if let cas, cas != current.seq {
                throw StoreError(
                    code: StoreError.Code.casMismatch,
                    message: "CAS mismatch: stored seq is \(current.seq), not \(cas); get the item and retry")
            }
            if item.seq < current.seq || (item.seq == current.seq && item.value != current.value) {
                throw StoreError(
                    code: StoreError.Code.sequenceTooLow,
                    message: "old sequence number: stored seq is \(current.seq), put a higher one than \(item.seq)")
            }
            // Equal seq and value: keep the stored copy, only its lifetime restarts.
            mutableItems[item.target] = StoredEntry(
                item: item.seq == current.seq ? current : item, expiresAt: expiresAt)
            noteDeadline(expiresAt)
            return
        }
        if mutableItems[item.target] == nil {
            try makeRoomForItem(now: now)
        }
        mutableItems[item.target] = StoredEntry(item: item, expiresAt: expiresAt)
        noteDeadline(expiresAt)
    }

    /// Drops every item and peer whose lifetime has ended by `now`. Cheap when nothing is due: call it on every tick.
    ///
    /// A sweep visits every entry, so sweeps are at least `sweepInterval` apart: under steady churn something is
    /// always about to expire, and sweeping on every 200 ms tick would cost O(entries) each time. Entries may thus
    /// outlive their lifetime by up to that interval (`peers(for:)` can return them); store checks never count an
    /// expired item.
    public mutating func expire(now: Instant) {
        guard let earliest = earliestExpiry, earliest <= now else { return }
        var next: Instant?
        func keep(_ deadline: Instant) -> Bool {
            guard deadline > now else { return false }
            if next.map({ deadline < $0 }) ?? true { next = deadline }
            return true
        }
        immutableItems = immutableItems.filter { keep($0.value.expiresAt) }
        mutableItems = mutableItems.filter { keep($0.value.expiresAt) }
        var peers = 0
        var remaining: [NodeID: [Endpoint: Instant]] = [:]
        remaining.reserveCapacity(swarms.count)
        var perAddress: [UInt32: Int] = [:]
        for (infoHash, swarm) in swarms {
            let live = swarm.filter { keep($0.value) }
            guard !live.isEmpty else { continue }
            remaining[infoHash] = live
            peers += live.count
            for peer in live.keys { perAddress[peer.address, default: 0] += 1 }
        }
        swarms = remaining
        peerCount = peers
        peersPerAddress = perAddress
        let nextSweep = now.adding(seconds: Self.sweepInterval)
        earliestExpiry = next.map { Swift.max($0, nextSweep) }
    }

    /// The least number of seconds between two sweeps of `expire(now:)`.
    public static let sweepInterval: Double = 5

    /// Records that some entry expires at `deadline`.
    mutating func noteDeadline(_ deadline: Instant) {
        if earliestExpiry.map({ deadline < $0 }) ?? true { earliestExpiry = deadline }
    }

    /// Ensures there is room for one more item, dropping expired entries first; throws 202 when still full.
    private mutating func makeRoomForItem(now: Instant) throws(StoreError) {
        if itemCount >= limits.maxItems { expire(now: now) }
        guard itemCount < limits.maxItems else {
            throw StoreError(
                code: StoreError.Code.serverError,
                message: "storage full: \(limits.maxItems) items stored; put on other nodes close to the target")
        }
    }

    private static func checkValueSize(_ size: Int) throws(StoreError) {
        guard size <= ItemLimits.maxValueSize else {
            throw StoreError(
                code: StoreError.Code.valueTooBig,
                message: "message too big: v is \(size) bytes bencoded, at most \(ItemLimits.maxValueSize)")
        }
    }
}
