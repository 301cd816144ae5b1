import ColonyBlobs
import ColonyCore
import ColonyNet
import ColonyWork
import Foundation

/// How custodians keep one record set between them: forwarding, anti-entropy, pulling when new, hand-off.
extension ColonyPeer {
    // MARK: Custodians among themselves

    /// The fields every request about `job` carries: the job, this peer's port and the manifest root when known,
    /// so that a custodian that lacks the manifest can fetch it from the asker.
    func jobFields(_ job: JobID) -> [(String, BencodeValue)] {
        var fields: [(String, BencodeValue)] = [("job", .bytes(job.bytes)), ("port", .integer(Int64(endpoint.port)))]
        if let root = root(of: job) { fields.append(("root", .bytes(root.root.bytes))) }
        return fields
    }

    /// The shards this peer keeps, with their manifests.
    func heldShards() -> [(ShardRef, JobManifest)] {
        custody.withLock { custodian in
            custodian.ledgers.keys.sorted().compactMap { ref in custodian.manifests[ref.job].map { (ref, $0) } }
        }
    }

    /// Tells `onCustodyChange` that records were added.
    func custodyChanged(_ added: Int) {
        if added > 0 { onCustodyChange?() }
    }

    /// Pushes records this custodian just accepted to the shard's other custodians.
    func forward(_ records: [CustodyRecord], of manifest: JobManifest) {
        guard !records.isEmpty else { return }
        let fields = jobFields(manifest.id)
        forwardQueue.async { [self] in
            let byShard = Dictionary(grouping: records, by: \.shard)
            for (shard, records) in byShard {
                for custodian in custodians(of: JobKeys.shard(manifest.id, shard)) where custodian != endpoint {
                    let frame = CustodyWire.frame("co_merge", fields, payload: CustodyWire.recordList(records))
                    do {
                        _ = try request(frame, to: custodian, timeout: 30)
                    } catch {
                        log("forward to \(custodian): \(error)")
                    }
                }
            }
        }
    }

    /// A custodian new to a shard pulls the records of the others before it answers about it.
    func pullIfNew(_ ref: ShardRef, manifest: JobManifest) {
        guard custody.withLock({ $0.ledgers[ref] == nil }) else { return }
        exchange(ref, manifest: manifest, with: custodians(of: JobKeys.shard(ref.job, ref.shard)))
    }

    /// Anti-entropy with `others` for one shard: sends the IDs held here, merges what they have that is missing,
    /// and sends what they lack.
    func exchange(_ ref: ShardRef, manifest: JobManifest, with others: [Endpoint]) {
        for other in others where other != endpoint {
            let ids = custody.withLock { $0.recordIDs(ref) }
            let frame = CustodyWire.frame(
                "co_sync", jobFields(manifest.id) + [("shard", .integer(Int64(ref.shard)))],
                payload: .list(ids.sorted().map { .bytes($0.bytes) }))
            guard let reply = try? request(frame, to: other, timeout: 30) else { continue }
            if let records = try? CustodyWire.records(reply) {
                let added = custody.withLock { $0.merge(records) }
                try? persist(added)
                custodyChanged(added.count)
            }
            let wanted = Set((reply.header["want"]?.list ?? []).compactMap { $0.bytes.flatMap { try? SHA256Digest(bytes: $0) } })
            if !wanted.isEmpty {
                let records = custody.withLock { $0.records(ref) }.filter { wanted.contains($0.id) }
                let merge = CustodyWire.frame("co_merge", jobFields(manifest.id), payload: CustodyWire.recordList(records))
                _ = try? request(merge, to: other, timeout: 30)
            }
        }
    }

    /// One anti-entropy round: for every shard held, exchange with its current custodians; a shard this peer is
    /// no longer a custodian of is handed to those that are, then dropped.
    func synchronize() {
        guard isRunning else { return }
        for (ref, manifest) in heldShards() {
            guard isRunning else { return }
            // The cached lookup (refreshed every `lookupLifetime` seconds): a fresh lookup per shard per round
            // cost more than the exchange itself.
            let current = custodians(of: JobKeys.shard(ref.job, ref.shard))
            exchange(ref, manifest: manifest, with: current)
            if !current.contains(endpoint) {
                custody.withLock { $0.drop(ref) }
                log("custody of \(ref) handed to \(current.map(\.description).joined(separator: ", "))")
            }
        }
    }

    /// Before leaving: every shard's records go to the custodians it will have without this peer: the others,
    /// and the next closest node, which takes this peer's place.
    func handOff() {
        for (ref, manifest) in heldShards() {
            let others = custodians(of: JobKeys.shard(ref.job, ref.shard), refresh: true, excludingSelf: true)
            let records = custody.withLock { $0.records(ref) }
            for other in others {
                let frame = CustodyWire.frame("co_merge", jobFields(manifest.id), payload: CustodyWire.recordList(records))
                _ = try? request(frame, to: other, timeout: 10)
            }
        }
    }
}
