import ColonyCore
import ColonyDHT
import ColonyNet
import Testing

/// BEP 44 puts against `DHTStorage`: every refusal code, cas and seq rules, lifetimes and the item cap.
@Suite("DHT storage: items")
struct StorageItemTests {
    typealias S = StorageTestSupport

    /// The code `body` throws, or nil when it does not throw.
    static func code(_ body: () throws(StoreError) -> Void) -> Int? {
        do {
            try body()
            return nil
        } catch {
            return error.code
        }
    }

    // MARK: Immutable

    @Test func immutableStoreAndGet() throws {
        var storage = DHTStorage()
        let item = ImmutableItem(value: .text("Hello World!"))
        #expect(storage.immutable(item.target) == nil)
        try storage.store(item, now: S.at(0))
        #expect(storage.immutable(item.target) == item)
        #expect(storage.mutable(item.target) == nil)
        #expect(storage.itemCount == 1)
        // Storing it again is a refresh, not a second item.
        try storage.store(item, now: S.at(10))
        #expect(storage.itemCount == 1)
    }

    @Test func immutableValueSizeLimit() throws {
        var storage = DHTStorage()
        try storage.store(ImmutableItem(value: S.value(encodedSize: 1000)), now: S.at(0))
        let big = ImmutableItem(value: S.value(encodedSize: 1001))
        #expect(Self.code { () throws(StoreError) in try storage.store(big, now: S.at(0)) } == 205)
        #expect(storage.immutable(big.target) == nil)
        #expect(storage.itemCount == 1)
    }

    @Test func immutableExpiresAfterItsLifetimeAndRePutRefreshes() throws {
        var storage = DHTStorage()
        let lifetime = storage.limits.itemLifetime
        #expect(lifetime == 7200)
        let kept = S.immutable(1)
        let dropped = S.immutable(2)
        try storage.store(kept, now: S.at(0))
        try storage.store(dropped, now: S.at(0))
        try storage.store(kept, now: S.at(3600))  // the hourly re-put BEP 44 asks for
        storage.expire(now: S.at(lifetime - 1))
        #expect(storage.itemCount == 2)
        storage.expire(now: S.at(lifetime))
        #expect(storage.immutable(dropped.target) == nil)
        #expect(storage.immutable(kept.target) == kept)
        storage.expire(now: S.at(3600 + lifetime))
        #expect(storage.itemCount == 0)
    }

    // MARK: Mutable: refusals

    @Test func everyRefusalCodeOfAMutablePut() throws {
        let key = S.key(7)
        let good = MutableItem.signed(value: "v", salt: [], seq: 5, key: key)

        var shortKey = good
        shortKey.publicKey = Array(shortKey.publicKey.prefix(31))
        var longSignature = good
        longSignature.signature += [0]
        let bigValue = MutableItem.signed(value: S.value(encodedSize: 1001), salt: [], seq: 5, key: key)
        let bigSalt = MutableItem.signed(value: "v", salt: [UInt8](repeating: 1, count: 65), seq: 5, key: key)
        let negative = MutableItem.signed(value: "v", salt: [], seq: -1, key: key)
        var forged = good
        forged.value = "w"

        let cases: [(MutableItem, Int)] = [
            (shortKey, 203), (longSignature, 203), (bigValue, 205), (bigSalt, 207), (negative, 203), (forged, 206),
        ]
        var storage = DHTStorage()
        for (item, expected) in cases {
            let code = Self.code { () throws(StoreError) in try storage.store(item, cas: nil, now: S.at(0)) }
            #expect(code == expected, "\(item.seq) \(item.salt.count)")
        }
        #expect(storage.itemCount == 0)

        try storage.store(good, cas: nil, now: S.at(0))
        let older = MutableItem.signed(value: "v", salt: [], seq: 4, key: key)
        let sameSeqOtherValue = MutableItem.signed(value: "other", salt: [], seq: 5, key: key)
        let newer = MutableItem.signed(value: "new", salt: [], seq: 6, key: key)
        #expect(Self.code { () throws(StoreError) in try storage.store(older, cas: nil, now: S.at(1)) } == 302)
        #expect(
            Self.code { () throws(StoreError) in try storage.store(sameSeqOtherValue, cas: nil, now: S.at(1)) }
                == 302)
        #expect(Self.code { () throws(StoreError) in try storage.store(newer, cas: 4, now: S.at(1)) } == 301)
        // Every refusal left the stored item as it was.
        #expect(storage.mutable(good.target) == good)
        #expect(storage.itemCount == 1)
    }

    @Test func saltOfExactly64BytesIsAccepted() throws {
        var storage = DHTStorage()
        let salt = [UInt8](repeating: 0xAB, count: ItemLimits.maxSaltSize)
        let item = MutableItem.signed(value: 1, salt: salt, seq: 0, key: S.key(1))
        try storage.store(item, cas: nil, now: S.at(0))
        #expect(storage.mutable(MutableItem.target(publicKey: item.publicKey, salt: salt)) == item)
    }

    @Test func signatureIsCheckedBeforeCasAndSeq() throws {
        let key = S.key(8)
        var storage = DHTStorage()
        try storage.store(MutableItem.signed(value: 1, salt: [], seq: 10, key: key), cas: nil, now: S.at(0))
        var forgedOld = MutableItem.signed(value: 1, salt: [], seq: 3, key: key)
        forgedOld.signature[0] ^= 0xFF
        #expect(Self.code { () throws(StoreError) in try storage.store(forgedOld, cas: 99, now: S.at(1)) } == 206)
    }

    @Test func aPutUnderAnotherKeyCannotTouchTheItem() throws {
        var storage = DHTStorage()
        let owner = MutableItem.signed(value: "mine", salt: [], seq: 1, key: S.key(1))
        try storage.store(owner, cas: nil, now: S.at(0))
        // A validly signed item of another key lands under its own target, never the owner's.
        let intruder = MutableItem.signed(value: "theirs", salt: [], seq: 9, key: S.key(2))
        try storage.store(intruder, cas: nil, now: S.at(0))
        #expect(storage.mutable(owner.target) == owner)
        #expect(storage.mutable(intruder.target) == intruder)
    }

    // MARK: Mutable: cas and seq

    @Test func higherSeqReplaces() throws {
        let key = S.key(3)
        var storage = DHTStorage()
        let first = MutableItem.signed(value: "one", salt: Array("s".utf8), seq: 1, key: key)
        let second = MutableItem.signed(value: "two", salt: Array("s".utf8), seq: 2, key: key)
        try storage.store(first, cas: nil, now: S.at(0))
        try storage.store(second, cas: nil, now: S.at(1))
        #expect(storage.mutable(first.target) == second)
        #expect(storage.itemCount == 1)
    }

    @Test func casRules() throws {
        let key = S.key(4)
        var storage = DHTStorage()
        // No stored item: cas is ignored (BEP 44).
        let first = MutableItem.signed(value: "a", salt: [], seq: 1, key: key)
        try storage.store(first, cas: 17, now: S.at(0))
        #expect(storage.mutable(first.target) == first)
        // Matching cas: stored.
        let second = MutableItem.signed(value: "b", salt: [], seq: 2, key: key)
        try storage.store(second, cas: 1, now: S.at(1))
        #expect(storage.mutable(first.target) == second)
        // Stale cas, even with a higher seq: 301, nothing changes.
        let third = MutableItem.signed(value: "c", salt: [], seq: 3, key: key)
        #expect(Self.code { () throws(StoreError) in try storage.store(third, cas: 1, now: S.at(2)) } == 301)
        #expect(storage.mutable(first.target) == second)
        // Matching cas but a seq that does not move forward: 302.
        let behind = MutableItem.signed(value: "d", salt: [], seq: 2, key: key)
        #expect(Self.code { () throws(StoreError) in try storage.store(behind, cas: 2, now: S.at(2)) } == 302)
        #expect(storage.mutable(first.target) == second)
    }

    @Test func equalSeqAndValueRefreshesTheLifetime() throws {
        let key = S.key(5)
        var storage = DHTStorage()
        let lifetime = storage.limits.itemLifetime
        let item = MutableItem.signed(value: "same", salt: [], seq: 9, key: key)
        try storage.store(item, cas: nil, now: S.at(0))
        // Anyone may re-put the same signed item (BEP 44 republishing); cas equal to the seq is fine too.
        try storage.store(item, cas: 9, now: S.at(5000))
        storage.expire(now: S.at(lifetime + 1))
        #expect(storage.mutable(item.target) == item)
        storage.expire(now: S.at(5000 + lifetime))
        #expect(storage.mutable(item.target) == nil)
    }

    @Test func anExpiredItemNoLongerGuardsItsSeq() throws {
        let key = S.key(6)
        var storage = DHTStorage()
        let lifetime = storage.limits.itemLifetime
        try storage.store(MutableItem.signed(value: "x", salt: [], seq: 50, key: key), cas: nil, now: S.at(0))
        // Not swept yet, but past its lifetime: it counts as absent, so a lower seq and any cas are accepted.
        let restart = MutableItem.signed(value: "y", salt: [], seq: 1, key: key)
        try storage.store(restart, cas: 50_000, now: S.at(lifetime))
        #expect(storage.mutable(restart.target) == restart)
        #expect(storage.itemCount == 1)
    }

    @Test func sweepsAreBatchedButStoreChecksAreExact() throws {
        let key = S.key(11)
        var storage = DHTStorage()
        let lifetime = storage.limits.itemLifetime
        try storage.store(S.immutable(1), now: S.at(0))
        let late = MutableItem.signed(value: "late", salt: [], seq: 8, key: key)
        try storage.store(late, cas: nil, now: S.at(3))
        storage.expire(now: S.at(lifetime))
        #expect(storage.itemCount == 1)
        // Due at lifetime + 3, but the last sweep was under `sweepInterval` ago: it stays stored for now…
        storage.expire(now: S.at(lifetime + 3))
        #expect(storage.mutable(late.target) == late)
        // …yet a put already treats it as gone.
        let restart = MutableItem.signed(value: "again", salt: [], seq: 1, key: key)
        var probe = storage
        try probe.store(restart, cas: nil, now: S.at(lifetime + 3))
        #expect(probe.mutable(late.target) == restart)
        storage.expire(now: S.at(lifetime + DHTStorage.sweepInterval))
        #expect(storage.itemCount == 0)
    }

    // MARK: Caps

    @Test func itemCapHoldsUnderAFlood() throws {
        var limits = StorageLimits()
        limits.maxItems = 50
        var storage = DHTStorage(limits: limits)
        let owner = MutableItem.signed(value: 1, salt: [], seq: 1, key: S.key(9))
        try storage.store(owner, cas: nil, now: S.at(0))
        var refused = 0
        for number in 0..<2000 {
            do {
                try storage.store(S.immutable(number), now: S.at(Double(number) / 100))
            } catch {
                #expect(error.code == 202)
                refused += 1
            }
        }
        #expect(storage.itemCount == 50)
        #expect(refused == 2000 - 49)
        // What was stored first stays; the flood only met refusals.
        #expect(storage.immutable(S.immutable(0).target) != nil)
        #expect(storage.immutable(S.immutable(48).target) != nil)
        #expect(storage.immutable(S.immutable(49).target) == nil)
        // A stored item can still be updated and refreshed while the storage is full.
        let update = MutableItem.signed(value: 2, salt: [], seq: 2, key: S.key(9))
        try storage.store(update, cas: 1, now: S.at(30))
        #expect(storage.mutable(owner.target) == update)
        try storage.store(S.immutable(0), now: S.at(30))
        // A new mutable target is refused like a new immutable one.
        let newcomer = MutableItem.signed(value: 1, salt: [], seq: 1, key: S.key(10))
        #expect(Self.code { () throws(StoreError) in try storage.store(newcomer, cas: nil, now: S.at(30)) } == 202)
        // Once the old items expire, new ones fit again without an explicit sweep.
        try storage.store(newcomer, cas: nil, now: S.at(limits.itemLifetime + 1))
        #expect(storage.itemCount == 3)  // owner, item 0 (both refreshed at 30 s) and the newcomer
    }

    @Test func zeroItemCapStoresNothing() {
        var limits = StorageLimits()
        limits.maxItems = 0
        var storage = DHTStorage(limits: limits)
        #expect(Self.code { () throws(StoreError) in try storage.store(S.immutable(1), now: S.at(0)) } == 202)
        #expect(storage.itemCount == 0)
    }

    @Test func limitsValidation() {
        var limits = StorageLimits()
        #expect(throws: Never.self) { try limits.validate() }
        limits.peerLifetime = 0
        #expect { try limits.validate() } throws: { ($0 as? StorageLimitsError)?.field == "peerLifetime" }
        limits = StorageLimits()
        limits.maxItems = -1
        #expect { try limits.validate() } throws: { ($0 as? StorageLimitsError)?.field == "maxItems" }
    }
}
