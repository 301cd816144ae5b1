import ColonyBlobs
import ColonyCore
import ColonyNet
import ColonyWork
import Foundation

/// Answering custody requests (`CustodyWire`). Every record and change goes through the custodian's checks
/// (`ShardLedger.admit`) before it changes anything; every refusal is counted by reason.
extension ColonyPeer {
    func answer(_ frame: Frame, from peer: Endpoint) -> Frame {
        guard let op = CustodyWire.op(frame) else { return CustodyWire.error(400, .malformed("no op")) }
        requests.withLock { $0[op.count <= 16 ? op : "other", default: 0] += 1 }
        // A test's fault (never set by Colony): the sleeps are the fault itself, an answer held past the asker's
        // request timeout on the server's connection thread, as a slow or lossy path would hold it.
        let fault = answerFault?(frame)
        if case .lost(let seconds) = fault {
            Thread.sleep(forTimeInterval: seconds)
            return CustodyWire.error(503, CustodyError("lost", "a test lost this request"))
        }
        if case .refused(let refusal) = fault { return CustodyWire.error(400, refusal) }
        if case .answered(let reply) = fault { return reply }
        let reply: Frame
        do {
            reply = try answer(op, frame, from: peer)
        } catch {
            reply = CustodyWire.error(error.reason == "unknown job" ? 404 : 400, error)
        }
        // A lease, a status or the records read walk the shards whose records changed since (`Custodian.walkFailures`):
        // a failure they show is told at once.
        tellNewFailures()
        if case .late(let seconds) = fault { Thread.sleep(forTimeInterval: seconds) }
        return reply
    }

    /// The job a request names, fetching its manifest from the asker (its `port`) when not known. A manifest
    /// fetched for a custody request is kept only when it names this peer among its custodians (or a set change
    /// in the request does): nobody makes a peer hold jobs it has no part in.
    /// A job new here counts against `CustodyLimits`: at a cap nothing is fetched, and one `published` by the asker
    /// (`co_publish`) against its address's rate too.
    private func requestedJob(
        _ frame: Frame, from peer: Endpoint, joining changes: [CustodySetChange] = [], published: Bool = false
    ) throws(CustodyError) -> JobManifest {
        guard let job = CustodyWire.job(frame) else {
            throw custody.withLock { $0.refuse(.malformed("a 32-byte job is required")) }
        }
        if let known = manifest(job) { return known }
        let limits = configuration.custodyLimits
        if let full = custody.withLock({ limits.refusal(keeping: nil, named: true, beside: $0) }) { throw custody.withLock { $0.refuse(full) } }
        let root = CustodyWire.digest(frame, "root").map(BlobID.init(root:))
        var hint: [Endpoint] = []
        if let port = CustodyWire.int(frame, "port"), (1...65_535).contains(port) {
            hint.append(Endpoint(address: peer.address, port: UInt16(port)))
        }
        let me = identity.publicKey
        let named = changes.contains { $0.job == job && $0.members.contains { $0.key == me } }
        // Checked once the manifest is known to name this peer: the address's rate here, the caps by the manifest's
        // size where every kept manifest is (`fetchAndCheckManifest`). (Requests in flight at once may each pass a cap
        // by one job.)
        var over: CustodyError?
        do {
            return try fetchManifest(job, root: root, hint: hint, keep: { manifest in
                guard named || manifest.custody.nodes.contains(where: { $0.key == me }) else { return false }
                if published, let rate = limits.newJobsPerAddress,
                    !publishedJobs.withLock({ $0?.allow(peer.address, now: .monotonicNow()) ?? true })
                {
                    over = CustodyError(
                        "too many jobs",
                        "address \(peer.host) published \(Int(rate.burst)) jobs here lately, and one more each \(Int((1 / rate.datagramsPerSecond).rounded())) s; publish again later, or choose other custodians")
                }
                return over == nil
            })
        } catch {
            throw custody.withLock { $0.refuse(over ?? error) }
        }
    }

    private func answer(_ op: String, _ frame: Frame, from peer: Endpoint) throws(CustodyError) -> Frame {
        let now = CustodyClock.now()
        switch op {
        case "co_offer":
            guard !configuration.oneShot, let publisherBytes = frame.header["publisher"]?.bytes,
                let publisher = try? Ed25519PublicKey(rawRepresentation: publisherBytes),
                let nonce = frame.header["nonce"]?.bytes, (8...64).contains(nonce.count)
            else { throw custody.withLock { $0.refuse(.malformed("co_offer needs a 32-byte publisher and a nonce")) } }
            // Custody of another network's jobs is not this peer's (a request without a network is of the default).
            let network = frame.header["network"]?.string ?? Networks.defaultName
            guard network == configuration.network else {
                throw custody.withLock {
                    $0.refuse(CustodyError("other network", "this peer is of network '\(configuration.network)', not '\(network.prefix(64))'"))
                }
            }
            // Custody needs others to reach this peer; a peer not dialed back from outside keeps none.
            guard reach.isReachable else {
                throw custody.withLock {
                    $0.refuse(CustodyError("unreachable", "this peer is \(reach.status.rawValue) from outside; it keeps no custody"))
                }
            }
            // A peer at its custody limits takes no more jobs: the publisher chooses others.
            let limits = configuration.custodyLimits
            if let full = custody.withLock({ limits.refusal(keeping: nil, named: true, beside: $0) }) { throw custody.withLock { $0.refuse(full) } }
            let signature = identity.signature(for: CustodyWire.offerMessage(publisher: publisher, nonce: nonce))
            return CustodyWire.frame(
                "offer", [("key", .bytes([UInt8](identity.publicKey.rawRepresentation))), ("sig", .bytes([UInt8](signature)))])
        case "co_dialback":
            return try answerDialBack(frame, from: peer)
        case "co_probe_for":
            return try answerProbeFor(frame, from: peer)
        case "co_probe":
            guard let nonce = frame.header["nonce"]?.bytes, (8...32).contains(nonce.count) else {
                throw CustodyError.malformed("co_probe needs a nonce of 8 to 32 bytes")
            }
            probed(nonce, from: peer, udp: false)
            return CustodyWire.frame("ok")
        case "co_publish":
            keepInlineManifest(frame)
            let manifest = try requestedJob(frame, from: peer, published: true)
            let job = manifest.id
            // Keep it where others look: the blob's key, the job's key and the kernel's topic.
            if let root = root(of: job) {
                DispatchQueue.global().async { [self] in
                    blobs.announce(root)
                    announce(under: JobKeys.job(job))
                    announce(under: JobKeys.topic(kernel: manifest.kernel, version: manifest.kernelVersion, network: configuration.network))
                }
            }
            return CustodyWire.frame("ok")
        case "co_job":
            guard let job = CustodyWire.job(frame), let root = root(of: job) else {
                throw CustodyError("unknown job", "not known here")
            }
            return CustodyWire.frame("root", [("root", .bytes(root.root.bytes))])
        case "co_jobs":
            guard let kernel = frame.header["kernel"]?.string, let version = CustodyWire.int(frame, "version") else {
                throw .malformed("co_jobs needs kernel and version")
            }
            // Only jobs with work left: a peer that has kept custody for years knows thousands of finished jobs, and
            // an asker reads at most `jobListLimit` of a list.
            // Each with 1 when this peer keeps a shard of it with units open: a worker that let it go as finished
            // takes it up again (`JobOffer.reopened`).
            let open = custody.withLock { custodian in
                let jobs = custodian.manifests.values.filter { $0.kernel == kernel && $0.kernelVersion == version }.map(\.id)
                // Failures found since the last read may have reopened shards.
                for job in jobs { custodian.walkFailures(job) }
                return jobs.filter { custodian.hasWorkLeft($0) }.map { (job: $0, kept: custodian.keepsOpenShard($0)) }
            }
            let list: [BencodeValue] = open.sorted { $0.job < $1.job }.prefix(Self.jobListLimit).compactMap { job, kept in
                root(of: job).map { .list([.bytes(job.bytes), .bytes($0.root.bytes)] + (kept ? [.integer(1)] : [])) }
            }
            return CustodyWire.frame("jobs", payload: .list(list))
        case "co_evidence":
            guard let bytes = frame.header["worker"]?.bytes, bytes.count == 32,
                let worker = try? Ed25519PublicKey(rawRepresentation: bytes)
            else { throw .malformed("co_evidence needs a worker key of 32 bytes") }
            return CustodyWire.frame("jobs", payload: .list(jobsWithEvidence(of: worker)))
        case "co_failed":
            // A custodian of another shard of a job says workers failed checks in its shard, and how many (a hint:
            // the shard is gathered and checked here before they count).
            guard let job = CustodyWire.job(frame), let shard = CustodyWire.int(frame, "shard") else {
                throw custody.withLock { $0.refuse(.malformed("co_failed needs a 32-byte job and a shard")) }
            }
            let answer = takeFailureHint(job: job, shard: shard, failures: CustodyWire.int(frame, "failures"))
            return CustodyWire.frame("ok", [("gathering", .integer(answer.gathering ? 1 : 0)), ("settled", .integer(answer.settled ? 1 : 0))])
        case "co_lease":
            let manifest = try requestedJob(frame, from: peer)
            let request: (shard: Int, worker: Ed25519PublicKey, count: Int, holding: [Int], signature: [UInt8])
            let replay: CustodyError?
            do {
                request = try CustodyWire.checkedLeaseRequest(frame, job: manifest.id, now: now)
                replay = noteLeaseRequest(request.signature, now: now)
            } catch {
                throw custody.withLock { $0.refuse(error) }
            }
            let (shard, worker) = (request.shard, request.worker)
            let count = min(max(request.count, 1), manifest.policy.shardSize)
            let ref = ShardRef(job: manifest.id, shard: shard)
            pullIfNew(ref, manifest: manifest)
            let holding = Set(request.holding)
            let holdingFresh = manifest.policy.isAdaptive && holdsFreshUnits(for: worker, in: manifest.id)
            // With the failed checks known here in the job: a worker that found shards done asks them again when it grows.
            let (lease, again, failures) = try custody.withLock { custodian throws(CustodyError) -> (CustodyRecord?, Bool, Int) in
                // A request sent again (its answer was lost) gets the lease it was granted; a replay gets nothing
                // new: the lease it would get is one the worker was granted already and is public anyway.
                custodian.walkFailures(manifest.id)
                if let lost = custodian.undeliveredLease(job: manifest.id, shard: shard, worker: worker, holding: holding, now: now) {
                    return (lost, true, custodian.failureCount(manifest.id))
                }
                if let replay { throw custodian.refuse(replay) }
                let lease = try custodian.lease(
                    job: manifest.id, shard: shard, worker: worker, address: peer.address, count: count, now: now,
                    excluding: holding, holdingFresh: holdingFresh)
                return (lease, false, custodian.failureCount(manifest.id))
            }
            let told: [(String, BencodeValue)] = failures > 0 ? [("failures", .integer(Int64(failures)))] : []
            if again, let lease {
                leasesHandedAgain.add(1, ordering: .relaxed)
                return CustodyWire.frame("lease", told, payload: lease.value)
            }
            // A worker leased without trust, or nothing (a new key at the cap of units waiting on a verdict): the
            // trust it may have earned in shards kept elsewhere is looked up for its next request.
            if manifest.policy.isAdaptive, (lease?.standing ?? 0) < manifest.policy.trustAfter {
                lookUpPrior(of: worker, for: manifest)
            }
            guard let lease else {
                // Open slots this custodian may not fill (its own lease is live, or the network is taken): another
                // custodian of the set may (`elsewhere`).
                let (done, elsewhere) = custody.withLock { $0.leaseOutlook(ref, now: now) } ?? (true, false)  // walked by the lease
                // No longer listed for workers looking for jobs (`co_jobs`) once every shard kept here is.
                if done { custody.withLock { $0.noteFinished(ref) } }
                return CustodyWire.frame("none", [("done", .integer(done ? 1 : 0)), ("elsewhere", .integer(elsewhere ? 1 : 0))] + told)
            }
            try persist([lease])
            forward([lease], of: manifest)
            custodyChanged(1)
            announceEvidence(of: worker)
            return CustodyWire.frame("lease", told, payload: lease.value)
        case "co_submit":
            let manifest = try requestedJob(frame, from: peer)
            let record: CustodyRecord
            do {
                record = try CustodyRecord(try CustodyWire.payload(frame))
            } catch {
                throw custody.withLock { $0.refuse(error) }
            }
            let ref = ShardRef(job: manifest.id, shard: record.shard)
            pullIfNew(ref, manifest: manifest)
            let added = try custody.withLock { custodian throws(CustodyError) in
                do throws(CustodyError) {
                    return try custodian.submit(record, now: now)
                } catch {
                    // A refused reveal may leave the custodian's own error record ending that lease: it is kept
                    // and sent on like any accepted record.
                    let evidence = custodian.takeEvidence()
                    if !evidence.isEmpty {
                        try? journal.append(evidence)
                        forward(evidence, of: manifest)
                    }
                    throw error
                }
            }
            try persist(added)
            forward(added, of: manifest)
            custodyChanged(added.count)
            // A commit is answered with its units' status, so that the worker whose seal completes a quorum
            // reveals at once instead of asking again.
            let units = Set(record.entries.map(\.unit))
            if record.kind == .commit { syncBeforeClosingReveal(ref, manifest: manifest, worker: record.author, units: units, now: now) }
            let rows = custody.withLock { custodian in
                custodian.walkFailures(ref.job)
                return Self.statusRows(
                    custodian.verdicts(ref, now: now, units: units) ?? [],
                    partners: custodian.partners(ref, worker: record.author, units: units, now: now),
                    seals: custodian.latestSeals(ref, except: record.author, units: units), for: record.author)
            }
            return CustodyWire.frame("ok", payload: rows)
        case "co_status":
            let manifest = try requestedJob(frame, from: peer)
            guard let shard = CustodyWire.int(frame, "shard") else { throw .malformed("co_status needs shard") }
            let ref = ShardRef(job: manifest.id, shard: shard)
            let worker = frame.header["worker"]?.bytes.flatMap { try? Ed25519PublicKey(rawRepresentation: $0) }
            // A worker names the units it waits on; without, every unit of the shard.
            let units = frame.header["units"]?.list.map { Set($0.prefix(JobPolicy.shardLimits.upperBound).compactMap { $0.integer.map(Int.init) }) }
            // Told by a peer that left the shard's set (a node stopped or restarted hands its custody over), a worker
            // waited on a view the current custodians no longer send records to: its seal's partners never came in
            // there, and it sat on its result until its lease ran out (netlab restart). Refused, it asks the shard's
            // current custodians.
            try custody.withLock { custodian throws(CustodyError) in
                guard custodian.isCustodian(ref) else {
                    throw custodian.refuse(CustodyError("not a custodian", "this peer left the custodians of shard \(shard)"))
                }
            }
            if let worker, let units { syncBeforeClosingReveal(ref, manifest: manifest, worker: worker, units: units, now: now) }
            let rows = try custody.withLock { custodian throws(CustodyError) in
                custodian.walkFailures(ref.job)
                guard let verdicts = custodian.verdicts(ref, now: now, units: units) else {
                    throw CustodyError("unknown unit", "no such shard")
                }
                return Self.statusRows(
                    verdicts, partners: custodian.partners(ref, worker: worker, units: units, now: now),
                    seals: custodian.latestSeals(ref, except: worker, units: units), for: worker)
            }
            return CustodyWire.frame("status", payload: rows)
        case "co_records":
            let manifest = try requestedJob(frame, from: peer)
            guard let shard = CustodyWire.int(frame, "shard") else { throw .malformed("co_records needs shard") }
            let ref = ShardRef(job: manifest.id, shard: shard)
            // Outputs of undecided units stay with the custodians: anyone reading them could copy them.
            let (records, changes) = custody.withLock { custodian in
                custodian.walkFailures(ref.job)
                return (custodian.publicRecords(ref, now: now), custodian.changes(ref))
            }
            return CustodyWire.frame("records", payload: CustodyWire.itemList(records, changes: changes))
        case "co_changes":
            let manifest = try requestedJob(frame, from: peer)
            guard let shard = CustodyWire.int(frame, "shard") else { throw .malformed("co_changes needs shard") }
            let changes = custody.withLock { $0.changes(ShardRef(job: manifest.id, shard: shard)) }
            return CustodyWire.frame("changes", payload: CustodyWire.itemList([], changes: changes))
        case "co_sync":
            let manifest = try requestedJob(frame, from: peer)
            guard let shard = CustodyWire.int(frame, "shard") else { throw .malformed("co_sync needs shard") }
            let ref = ShardRef(job: manifest.id, shard: shard)
            let asker: Ed25519PublicKey
            do {
                asker = try CustodyWire.checkedSyncer(frame, job: manifest.id, shard: shard, now: now)
            } catch {
                throw custody.withLock { $0.refuse(error) }
            }
            guard let list = try CustodyWire.payload(frame).list, list.count <= 1 << 20 else {
                throw .malformed("co_sync needs a list of IDs")
            }
            if withholding { return CustodyWire.frame("records", [("want", .list([]))], payload: .list([])) }
            let theirs = Set(list.compactMap { $0.bytes.flatMap { try? SHA256Digest(bytes: $0) } })
            let (records, changes, refused) = try custody.withLock { custodian throws(CustodyError) in
                // Every record, undecided reveals included: only to the shard's custodians.
                guard custodian.authority(ref)?.wasMember(asker) == true else {
                    throw custodian.refuse(CustodyError("not a custodian", "\(asker.hex.prefix(12)) keeps no custody of shard \(shard)"))
                }
                return (custodian.recordsByID(ref), custodian.changes(ref), custodian.refused(ref))
            }
            let changeIDs = changes.map(\.id)
            let missingThere = records.filter { !theirs.contains($0.key) }.sorted { $0.key < $1.key }.map(\.value)
            let changesThere = zip(changes, changeIDs).filter { !theirs.contains($0.1) }.map(\.0)
            let wanted = theirs.filter { records[$0] == nil && !changeIDs.contains($0) && !refused.contains($0) }.sorted()
                .map { BencodeValue.bytes($0.bytes) }
            return CustodyWire.frame(
                "records", [("want", .list(wanted))], payload: CustodyWire.itemList(missingThere, changes: changesThere))
        case "co_merge":
            let items: (records: [CustodyRecord], changes: [CustodySetChange])
            do {
                items = try CustodyWire.items(frame)
            } catch {
                throw custody.withLock { $0.refuse(error) }
            }
            let manifest = try requestedJob(frame, from: peer, joining: items.changes)
            let added = custody.withLock {
                $0.merge(
                    items.records.filter { $0.job == manifest.id }, changes: items.changes.filter { $0.job == manifest.id },
                    now: now)
            }
            try persist(added.records, changes: added.changes)
            custodyChanged(added.records.count + added.changes.count)
            return CustodyWire.frame("ok", [("added", .integer(Int64(added.records.count + added.changes.count)))])
        case "co_cosign":
            let manifest = try requestedJob(frame, from: peer)
            let proposal: CustodySetChange
            do throws(CustodyError) {
                guard let change = try CustodyWire.items(frame).changes.first, change.job == manifest.id else {
                    throw CustodyError.malformed("co_cosign needs a set change of the job")
                }
                proposal = change
            } catch {
                throw custody.withLock { $0.refuse(error) }
            }
            let signed = try custody.withLock { custodian throws(CustodyError) in
                try custodian.cosign(proposal) { leaving in
                    // A custodian may resign (it signed its own removal), or be replaced once this peer cannot reach
                    // it either.
                    proposal.validSigners(among: [leaving]).contains(leaving.key) || isUnreachable(leaving.key)
                }
            }
            // On disk before the signature leaves: a restart must not make this custodian sign another change to
            // the epoch.
            do {
                try journal.rememberSigned(signed)
            } catch {
                throw custody.withLock { $0.refuse(CustodyError("storage", "cannot remember the change signed: \(error)")) }
            }
            return CustodyWire.frame("change", payload: CustodyWire.itemList([], changes: [signed]))
        default:
            throw custody.withLock { $0.refuse(.malformed("unknown op \(op.prefix(32))")) }
        }
    }

    /// Per unit: [unit, state (0 open, 1 validated, 2 failed), partners (sealed workers that could complete a
    /// quorum with `worker`), live leases, open slots, attempts, for `worker`: 1 when its result is among those
    /// agreeing, -1 when it was counted invalid, else 0; and the latest time another worker sealed it, or 0].
    static func statusRows(
        _ verdicts: [UnitVerdict], partners: [Int: Int], seals: [Int: Int64] = [:], for worker: Ed25519PublicKey? = nil
    ) -> BencodeValue {
        .list(
            verdicts.map { verdict in
                let state: Int64 = verdict.state == .validated ? 1 : verdict.state == .failed ? 2 : 0
                var mine: Int64 = 0
                if let worker {
                    if verdict.agreeing.contains(worker) { mine = 1 } else if verdict.invalid.contains(where: { $0.worker == worker }) { mine = -1 }
                }
                return .list([
                    .integer(Int64(verdict.unit)), .integer(state), .integer(Int64(partners[verdict.unit] ?? 0)),
                    .integer(Int64(verdict.liveLeases)), .integer(Int64(verdict.openSlots)),
                    .integer(Int64(verdict.attempts)), .integer(mine), .integer(seals[verdict.unit] ?? 0),
                ])
            })
    }

    /// The refusal for a lease request seen before (sent again, or replayed in the worker's name), nil for a new
    /// one; remembers each for the time window.
    private func noteLeaseRequest(_ signature: [UInt8], now: Int64) -> CustodyError? {
        let fresh = seenLeaseRequests.withLock { seen in
            if seen.count > 50_000 { seen = seen.filter { now - $0.value <= CustodyWire.leaseRequestWindow } }
            return seen.count <= 100_000 && seen.updateValue(now, forKey: signature) == nil
        }
        return fresh ? nil : CustodyError("replayed", "this lease request was answered before")
    }
}
