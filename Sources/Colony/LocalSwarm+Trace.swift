import ColonyCore
import ColonyNet
import ColonyWork
import Foundation

extension LocalSwarm {
    /// Why `job` is not finished, for reading after a stall (`colony bench adaptive` under `COLONY_BENCH_TRACE`, and
    /// a test whose job timed out: `waitUntilDecided`): each worker's leasing state; for the first shards with open
    /// units, what each of their custodians would lease each worker now (a lease on a copy of the custodian: its own
    /// rules, not a restatement of them); and up to 6 open units with their slot owners and records.
    public func stallTrace(of job: JobID) -> [String] {
        guard let manifest = peers.lazy.compactMap({ $0.manifest(job) }).first else { return ["job \(job) is not known here"] }
        var lines: [String] = []
        let now = CustodyClock.now()
        for (index, worker) in workers.enumerated() {
            lines.append(
                "worker \(index) \(peers[index].identity.publicKey.hex.prefix(4)) (\(behaviour(of: index))): \(worker.leasingState(of: job))")
        }
        // Whether each live peer replaces silent custodians: its anti-entropy rounds, whom it counts silent, and how
        // its last replacements went (a set change never came for a vanished custodian once, under load).
        let at = Date()
        for (index, peer) in peers.enumerated() where !crashed.contains(index) {
            let (started, finished, replacements) = peer.syncDiagnostics.withLock { $0 }
            let silent = peer.silentSince.withLock { $0 }.map { "\($0.key.hex.prefix(4)) for \(Int(at.timeIntervalSince($0.value.since))) s" }
            lines.append(
                "peer \(peer.identity.publicKey.hex.prefix(4)): sync round started \(started.map { "\(Int(at.timeIntervalSince($0))) s ago" } ?? "never"), "
                    + "ended \(finished.map { "\(Int(at.timeIntervalSince($0))) s ago" } ?? "never"); silent \(silent); replacements \(replacements)")
        }
        var shown = 0
        for shard in 0..<manifest.shardCount where shown < 6 {
            let ref = ShardRef(job: job, shard: shard)
            let keepers = peers.filter { $0.custodian.ledgers[ref] != nil }
            guard let ledger = keepers.first?.custodian.ledgers[ref] else { continue }
            let open = ledger.verdicts(now: now, equivalent: ledger.equivalence).filter { $0.state == .open }.prefix(6 - shown)
            guard !open.isEmpty else { continue }
            shown += open.count
            for keeper in keepers {
                let answers = peers.enumerated().map { index, worker in
                    var copy = keeper.custodian
                    let address = Endpoint(host: LocalSwarm.host(of: index), port: 0)?.address ?? 0
                    let answer: String
                    do {
                        let lease = try copy.lease(job: job, shard: shard, worker: worker.identity.publicKey, address: address, count: 4, now: now)
                        answer = lease.map { "\($0.entries.map(\.unit))" } ?? "none"
                    } catch {
                        answer = "\(error)"
                    }
                    return worker.identity.publicKey.hex.prefix(4) + " " + answer
                }
                lines.append("custodian \(keeper.identity.publicKey.hex.prefix(4)) of shard \(shard) would lease: \(answers)")
            }
            // Custodians that disagree on what is open (a stall where workers were told the shard was done): each
            // keeper's record count and its verdicts on the units open at the first.
            for keeper in keepers {
                guard let mine = keeper.custodian.ledgers[ref] else { continue }
                let verdicts = mine.verdicts(now: now, equivalent: mine.equivalence)
                let states = open.map { unit in "\(unit.unit) \(verdicts.first { $0.unit == unit.unit }.map { "\($0.state)" } ?? "?")" }
                let refusals: [String] = keeper.custodian.refusals(ref)
                let openCount = verdicts.filter { $0.state == .open }.count
                lines.append(
                    "custodian \(keeper.identity.publicKey.hex.prefix(4)) of shard \(shard): \(mine.records.count) records, "
                        + "\(openCount) open; refused for good \(refusals); "
                        + "\(states.joined(separator: ", ")); "
                        + peers.map { worker in
                            let trace = mine.adaptiveTrace(of: worker.identity.publicKey)
                            return "\(worker.identity.publicKey.hex.prefix(4)) " + (trace.range(of: "closing").map { String(trace[$0.lowerBound...]) } ?? "")
                        }.joined(separator: " | "))
            }
            // A unit's records in one ledger, in time order: kind, worker, author, time, and an error's reason.
            func listed(_ ledger: ShardLedger, _ unit: Int) -> String {
                let records = ledger.records.values.filter { $0.entries.contains { $0.unit == unit } }.sorted { $0.time < $1.time }
                return records.map { record in
                    let reason = record.kind == .error
                        ? " '" + String(decoding: record.entries.first { $0.unit == unit }?.data.prefix(40) ?? [], as: UTF8.self) + "'" : ""
                    return "\(record.kind) \(record.worker.hex.prefix(4)) by \(record.author.hex.prefix(4)) at \(record.time % 1_000_000)\(reason)"
                }.joined(separator: "; ")
            }
            for verdict in open {
                lines.append(
                    "open unit \(verdict.unit): slots \(verdict.openSlots), attempts \(verdict.attempts), "
                        + "owners \(ledger.slotOwners(unit: verdict.unit).map { $0.hex.prefix(4) }), "
                        + "invalid \(verdict.invalid.map { "\($0.worker.hex.prefix(4)) \($0.reason)" }); records: \(listed(ledger, verdict.unit))")
                lines.append("  decisions: \(ledger.adaptiveTrace(ofUnit: verdict.unit, now: now))")
                for keeper in keepers.dropFirst() {
                    guard let theirs = keeper.custodian.ledgers[ref] else { continue }
                    lines.append("  at \(keeper.identity.publicKey.hex.prefix(4)): \(listed(theirs, verdict.unit))")
                }
            }
        }
        return lines
    }
}
