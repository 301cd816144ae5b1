import ColonyCore
import ColonyNet
import ColonyWork
import Foundation

/// What a worker does when it stops: reveal what it finished, give the rest back, keep checkpoints.
extension SwarmWorker {
    // MARK: Leaving

    /// On stop (DESIGN.md: on SIGINT the engine saves checkpoints and releases its leases): outputs computed but
    /// not revealed are committed if need be and revealed (their lease is ending, which allows it; a seal waiting
    /// for partners after its lease is revealed too), so no finished work is lost; every other leased unit is given
    /// back with a release record naming its lease, so other workers take it at once. Running kernels have saved
    /// checkpoints to the state folder by then (each is written as it is taken), and a unit this worker is leased
    /// again later resumes from its checkpoint.
    func releaseAll() {
        let open = condition.withLock { tickets.filter { $0.state != .done && $0.state != .judging } }
        let identity = peer.identity
        for ticket in open {
            let live = ticket.expires > Date()
            let (computed, rest, committed) = condition.withLock { () -> ([Int], [Int], Bool) in
                let units = ticket.units.filter { !ticket.revealed.contains($0) }
                let unfinished = units.filter { ticket.outputs[$0] == nil && ticket.failures[$0] == nil }
                return (units.filter { ticket.outputs[$0] != nil && !withholds(ticket, $0, nil) }, unfinished, ticket.committed)
            }
            // A seal still waiting for partners past its lease is revealed too: partners that sealed pair with it.
            if !computed.isEmpty, configuration.behaviour != .copycat, live || committed {
                let sealed = committed || submit(commitRecord(ticket, units: computed), ticket)
                if sealed, submit(revealRecord(ticket, units: computed), ticket) {
                    condition.withLock { stats.revealed += computed.count }
                }
            }
            guard live, !rest.isEmpty else { continue }
            let reason = CustodyRecord.releaseReason(of: ticket.lease.id)
            let record = CustodyRecord(
                kind: .error, job: ticket.job.id, shard: ticket.shard, worker: identity.publicKey,
                entries: rest.map { .init(unit: $0, data: reason) }, time: clock(), signedBy: identity)
            if submit(record, ticket) { condition.withLock { stats.released += rest.count } }
        }
    }

    // MARK: Checkpoints across restarts

    func checkpointURL(job: JobID, unit: Int) -> URL? {
        configuration.stateFolder?.appendingPathComponent("\(job.hex)-\(unit).ckpt")
    }

    func saveCheckpoint(_ checkpoint: Data, job: JobID, unit: Int) {
        guard let url = checkpointURL(job: job, unit: unit), let folder = configuration.stateFolder else { return }
        do {
            try AtomicFile.createFolder(folder, mode: 0o700)
            try AtomicFile.write(checkpoint, to: url, mode: 0o600)
            condition.withLock { stats.checkpointsSaved += 1 }
        } catch {
            log("cannot save the checkpoint of unit \(unit): \(error)")
        }
    }

    /// The checkpoint a stopped run of this worker left for the unit, if any.
    func savedCheckpoint(job: JobID, unit: Int) -> Data? {
        guard let url = checkpointURL(job: job, unit: unit) else { return nil }
        return try? AtomicFile.read(url)
    }

    /// Drops the checkpoints kept for a job that has no open units left.
    func removeSavedCheckpoints(of job: JobID) {
        guard let folder = configuration.stateFolder,
            let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
        else { return }
        for name in names where name.hasPrefix(job.hex + "-") && name.hasSuffix(".ckpt") {
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    func removeSavedCheckpoint(job: JobID, unit: Int) {
        guard let url = checkpointURL(job: job, unit: unit) else { return }
        try? FileManager.default.removeItem(at: url)
    }
}
