import ColonyCore
import ColonyNet
import ColonyWork
import Foundation

/// The copycat misbehaviour the demo shows being caught: seals and reveals of results it never computed.
extension SwarmWorker {
    // MARK: Copycat

    /// A copycat commits seals of outputs it never computed.
    func commitInvented(_ ticket: Ticket) {
        let worker = peer.identity.publicKey
        let entries = ticket.units.map { unit in
            CustodyRecord.Entry(unit: unit, hash: (0..<32).map { _ in UInt8.random(in: 0...255) })
        }
        let ok = submit(
            CustodyRecord(kind: .commit, job: ticket.job.id, shard: ticket.shard, worker: worker, entries: entries, signedBy: peer.identity),
            ticket)
        condition.withLock {
            ticket.state = ok ? .committed : .done
            ticket.nextCheck = Date() + configuration.revealPollInterval
        }
    }

    /// Reveals outputs copied from other workers' reveals when the custodian shows any, invented ones when the
    /// lease is about to end.
    func revealCopied(_ ticket: Ticket) {
        let frame = CustodyWire.frame("co_records", fields(ticket.job) + [("shard", .integer(Int64(ticket.shard)))])
        var custodians = ticket.custodians
        var copies: [Int: [UInt8]] = [:]
        if let reply = try? send(frame, custodians: &custodians, ref: ShardRef(job: ticket.job.id, shard: ticket.shard)),
            let records = try? CustodyWire.items(reply).records
        {
            for record in records where record.kind == .reveal && record.author != peer.identity.publicKey {
                for entry in record.entries where ticket.units.contains(entry.unit) { copies[entry.unit] = entry.data }
            }
        }
        let ending = ticket.expires.timeIntervalSince(Date()) < 2
        let units = ticket.units.filter { !ticket.revealed.contains($0) && (copies[$0] != nil || ending) }
        if !units.isEmpty {
            let entries = units.map { unit in
                let output = copies[unit] ?? (0..<16).map { _ in UInt8.random(in: 0...255) }
                return CustodyRecord.Entry(unit: unit, hash: SHA256.hash(output).bytes, data: output)
            }
            let record = CustodyRecord(
                kind: .reveal, job: ticket.job.id, shard: ticket.shard, worker: peer.identity.publicKey, entries: entries,
                signedBy: peer.identity)
            _ = submit(record, ticket)
            condition.withLock { ticket.revealed.formUnion(units) }
        }
        condition.withLock {
            if ticket.revealed.count == ticket.units.count || ticket.expires < Date() {
                ticket.state = .done
            } else {
                ticket.nextCheck = Date() + 0.25
            }
        }
    }
}
