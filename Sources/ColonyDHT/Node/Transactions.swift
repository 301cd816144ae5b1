import ColonyNet

/// The RPC manager: outstanding queries keyed by a random 2-byte transaction ID, each matched to the address it
/// was sent to, with a short (branch wider) and a hard (failed) timeout.
struct Transactions {
    /// Who is waiting for the answer.
    enum Owner: Equatable {
        case lookup(Int)
        case store(Int)
        case ping(Int)
        case bootstrap
        case verify
        case maintenance
    }

    struct Pending {
        var endpoint: Endpoint
        var nodeID: NodeID?
        var owner: Owner
        var sent: Instant
        var shortDeadline: Instant
        var deadline: Instant
        var isSlow = false
    }

    private(set) var pending: [UInt16: Pending] = [:]
    private var generator: SystemRandomNumberGenerator = .init()

    var count: Int { pending.count }

    /// Opens a transaction and returns its ID; nil when 65,536 are already open.
    mutating func open(
        to endpoint: Endpoint, nodeID: NodeID?, owner: Owner, now: Instant, shortTimeout: Double, timeout: Double
    ) -> [UInt8]? {
        guard pending.count < 60_000 else { return nil }
        var id = UInt16.random(in: .min ... .max, using: &generator)
        while pending[id] != nil { id = id &+ 1 }
        pending[id] = Pending(
            endpoint: endpoint, nodeID: nodeID, owner: owner, sent: now,
            shortDeadline: now.adding(seconds: shortTimeout), deadline: now.adding(seconds: timeout))
        return [UInt8(id >> 8), UInt8(id & 0xFF)]
    }

    /// Closes the transaction an answer belongs to; nil when there is none, or it was sent elsewhere.
    mutating func close(_ transactionID: [UInt8], from endpoint: Endpoint) -> Pending? {
        guard transactionID.count == 2 else { return nil }
        let id = UInt16(transactionID[0]) << 8 | UInt16(transactionID[1])
        guard let entry = pending[id], entry.endpoint == endpoint else { return nil }
        pending[id] = nil
        return entry
    }

    /// Transactions that just passed their short timeout (marked slow), and those that failed (removed).
    mutating func expire(now: Instant) -> (slow: [Pending], failed: [Pending]) {
        var slow: [Pending] = []
        var failed: [Pending] = []
        for (id, entry) in pending {
            if entry.deadline <= now {
                failed.append(entry)
                pending[id] = nil
            } else if !entry.isSlow && entry.shortDeadline <= now {
                pending[id]!.isSlow = true
                slow.append(pending[id]!)
            }
        }
        return (slow, failed)
    }

    /// The earliest instant at which `expire` has something to do.
    var nextDeadline: Instant? {
        var earliest: Instant?
        for entry in pending.values {
            let due = entry.isSlow ? entry.deadline : entry.shortDeadline
            if earliest == nil || due < earliest! { earliest = due }
        }
        return earliest
    }
}
