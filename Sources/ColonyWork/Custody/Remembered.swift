import Synchronization

/// Values made once and asked for again by their key, shared across threads: the kernel's checks of results run
/// alone, the closing picks of a worker's run, a re-verifier's checks of a cited shard. Each is a function of its key
/// alone, so a remembered value is the one making it again would give. Past `limit` keys every one is forgotten at
/// once: a flood of distinct keys costs making them again, not memory.
public final class Remembered<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let values = Mutex<[Key: Value]>([:])
    /// Keys remembered at most.
    public let limit: Int

    public init(limit: Int = .max) { self.limit = limit }

    /// The value of `key`: remembered, or made by `making` and remembered.
    public func value(_ key: Key, making: () -> Value) -> Value {
        if let known = values.withLock({ $0[key] }) { return known }
        let made = making()
        values.withLock { values in
            if values.count >= limit { values.removeAll() }
            values[key] = made
        }
        return made
    }

    /// Keys remembered now.
    public var count: Int { values.withLock { $0.count } }
}
