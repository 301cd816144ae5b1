import ColonyNet

/// Something a node keeps for others, with the instant it stops being kept unless refreshed.
struct StoredEntry<Item: Sendable>: Sendable {
    /// The item, peer or value.
    var item: Item
    /// When the entry expires: its last put or announce plus the lifetime.
    var expiresAt: Instant

    /// Whether the entry is gone at `now`.
    func isExpired(at now: Instant) -> Bool { expiresAt <= now }
}
