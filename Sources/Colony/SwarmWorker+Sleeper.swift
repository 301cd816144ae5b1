import Foundation

/// The careful sleeper (`Behaviour.carefulSleeper`): the adversary a check of each worker's latest result misses; and
/// the peeker (`Behaviour.peeker`), which keeps back the cheats it learns are checked.
extension SwarmWorker {
    /// Whether a careful sleeper holds `ticket`'s results back for now (called under the lock). It cheated on them
    /// and cannot yet tell whether they are its last in the shard. Another lease in the shard says they are not, and
    /// they go as they are. Nothing more for it in the shard, or a lease near its end, says they are: the last unit
    /// goes with its honest output, which is the unit a check of its latest result takes (leases in order of time,
    /// units in order within one).
    func holdsBack(_ ticket: Ticket, now: Date) -> Bool {
        guard !ticket.honest.isEmpty else { return false }
        let later = tickets.contains {
            $0 !== ticket && $0.job.id == ticket.job.id && $0.shard == ticket.shard && $0.lease.time > ticket.lease.time
        }
        let leaseSeconds = ticket.expires.timeIntervalSince1970 - Double(ticket.lease.time) / 1000
        let noneLeft = ticket.job.done.contains(ticket.shard) || (ticket.job.busyUntil[ticket.shard] ?? .distantPast) > now
        let ending = ticket.expires.timeIntervalSince(now) < max(1, leaseSeconds / 5)
        guard later || noneLeft || ending else { return true }
        if !later, let unit = ticket.honest.keys.max() {
            ticket.outputs[unit] = ticket.honest[unit]
            stats.cheated -= 1
        }
        ticket.honest = [:]
        return false
    }

    /// Whether a peeker keeps `unit`'s wrong output back, given the custodians' last word on it (`row`, nil when
    /// there is none): unless they said it runs alone, that is a quorum of partners with no other worker's seal in,
    /// the unit is checked (or decided) and the cheat would be outvoted.
    func withholds(_ ticket: Ticket, _ unit: Int, _ row: UnitStatus?) -> Bool {
        guard configuration.behaviour == .peeker, ticket.cheated.contains(unit) else { return false }
        guard let row else { return true }
        return !(row.state == 0 && row.partners >= ticket.job.manifest.policy.quorum && row.latestSeal == 0)
    }
}
