import ColonyBlobs
import ColonyCore
import ColonyNet
import ColonyWork
import Foundation

/// How custodians keep one record set between them: forwarding, anti-entropy, pulling when new, and changing the
/// set (a custodian that leaves or stops answering is replaced by the next closest node, by a change that a
/// majority of the set signs).
extension ColonyPeer {
    // MARK: Custodians among themselves

    /// The fields every request about `job` carries: the job, this peer's port and the manifest root when known,
    /// so that a custodian that lacks the manifest can fetch it from the asker.
    func jobFields(_ job: JobID) -> [(String, BencodeValue)] {
        var fields: [(String, BencodeValue)] = [("job", .bytes(job.bytes)), ("port", .integer(Int64(reachablePort)))]
        if let root = root(of: job) { fields.append(("root", .bytes(root.root.bytes))) }
        return fields
    }

    /// The shards this peer keeps, with their manifests.
    func heldShards() -> [(ShardRef, JobManifest)] {
        custody.withLock { custodian in
            custodian.ledgers.keys.sorted().compactMap { ref in custodian.manifests[ref.job].map { (ref, $0) } }
        }
    }

    /// Tells `onCustodyChange` that records were added. (Records are walked for failures when their job is next
    /// read; a request's answer tells what that walk found, `tellNewFailures`.)
    func custodyChanged(_ added: Int) {
        guard added > 0 else { return }
        onCustodyChange?()
    }

    /// The other current custodians of a shard.
    func otherMembers(_ ref: ShardRef) -> [CustodianMember] {
        members(of: ref).filter { $0.key != identity.publicKey }
    }

    /// Pushes records (and set changes) this custodian just accepted to the shard's other custodians, off the
    /// request's path: each member's forwards run on a queue of its own, and a member that stopped answering is
    /// skipped until its backoff ends (the periodic sync brings it what it missed).
    func forward(_ records: [CustodyRecord], changes: [CustodySetChange] = [], of manifest: JobManifest) {
        guard !records.isEmpty || !changes.isEmpty, !withholding else { return }
        // Called with the custody state locked (answering a request): the members are looked up on another thread.
        DispatchQueue.global().async(group: forwards) { [self] in dispatchForwards(records, changes: changes, of: manifest) }
    }

    private func dispatchForwards(_ records: [CustodyRecord], changes: [CustodySetChange], of manifest: JobManifest) {
        let fields = jobFields(manifest.id)
        let shards = Set(records.map(\.shard)).union(changes.map(\.shard))
        for shard in shards.sorted() {
            let frame = CustodyWire.frame(
                "co_merge", fields,
                payload: CustodyWire.itemList(records.filter { $0.shard == shard }, changes: changes.filter { $0.shard == shard }))
            for member in otherMembers(ShardRef(job: manifest.id, shard: shard)) where mayTry(member.key) {
                forwardQueue(to: member.key).async(group: forwards) { [self] in
                    guard mayTry(member.key) else { return }
                    do {
                        _ = try request(frame, to: member.endpoint, timeout: 30)
                        noteReachable(member.key)
                    } catch {
                        noteUnreachable(member.key, member: member, error)
                    }
                }
            }
        }
    }

    /// The serial queue of forwards to one member.
    func forwardQueue(to key: Ed25519PublicKey) -> DispatchQueue {
        forwardQueues.withLock { queues in
            if let queue = queues[key] { return queue }
            if queues.count >= 1_024 { queues.removeAll() }
            let queue = DispatchQueue(label: "colony.custody.forward")
            queues[key] = queue
            return queue
        }
    }

    /// A custodian new to a shard pulls the records of the others before it answers about it.
    func pullIfNew(_ ref: ShardRef, manifest: JobManifest) {
        guard custody.withLock({ $0.ledgers[ref] == nil && $0.isCustodian(ref) }) else { return }
        // On a request's path: members that have been silent are skipped, and each gets a few seconds only (a
        // member that does not answer must not hold the worker asking; the periodic sync catches up).
        let silent = silentSince.withLock { Set($0.keys) }
        let answering = otherMembers(ref).filter { !silent.contains($0.key) }
        exchange(ref, manifest: manifest, with: answering, timeout: 3)
    }

    /// Before this custodian tells `worker` to reveal one of `units` at once as a closing check's one replica, it
    /// learns what the shard's other custodians hold: another custodian may have leased the same check to another
    /// worker, and two replicas that both reveal at once cannot pair if the check then takes a fresh quorum (a stall
    /// with 4 workers: `ShardLedger.revealsAsClosingReplica`). One round trip to each answering custodian, once per
    /// worker and closing unit (the rule then waits on any other replica's lease, which comes before its seal): a
    /// worker, or anyone naming it, that asks again and again, about whatever units, costs no more.
    func syncBeforeClosingReveal(_ ref: ShardRef, manifest: JobManifest, worker: Ed25519PublicKey, units: Set<Int>, now: Int64) {
        let closing = custody.withLock { custodian in
            custodian.walkFailures(ref.job)
            return custodian.closingReplicaUnits(ref, worker: worker, units: units, now: now)
        }
        guard !closing.isEmpty else { return }
        let first = closingSyncs.withLock { synced in
            if synced.count >= 4_096 { synced.removeAll() }
            return synced.insert(ClosingReplica(ref: ref, worker: worker, units: closing)).inserted
        }
        guard first else { return }
        let silent = silentSince.withLock { Set($0.keys) }
        let before = custody.withLock { $0.recordIDs(ref).count }
        exchange(ref, manifest: manifest, with: otherMembers(ref).filter { !silent.contains($0.key) }, timeout: 2)
        let learned = custody.withLock { $0.recordIDs(ref).count } - before
        if learned > 0 {
            let alone = custody.withLock { custodian in
                custodian.walkFailures(ref.job)
                return custodian.closingReplicaUnits(ref, worker: worker, units: closing, now: CustodyClock.now())
            }
            log("custody of \(ref): learned \(learned) records from the other custodians before \(worker.hex.prefix(8))'s closing check; it reveals \(alone.isEmpty ? "with a partner" : "alone")")
        }
    }

    /// Anti-entropy with `others` for one shard: sends the IDs held here (signed: only custodians read every record),
    /// merges what they have that is missing, and sends what they lack.
    func exchange(_ ref: ShardRef, manifest: JobManifest, with others: [CustodianMember], timeout: Double = 30) {
        for other in others where other.key != identity.publicKey && mayTry(other.key) {
            let ids = custody.withLock { $0.recordIDs(ref) }
            let frame = CustodyWire.frame(
                "co_sync",
                jobFields(manifest.id) + [("shard", .integer(Int64(ref.shard)))]
                    + CustodyWire.syncSignature(job: ref.job, shard: ref.shard, by: identity, now: CustodyClock.now()),
                payload: .list(ids.sorted().map { .bytes($0.bytes) }))
            let reply: Frame
            do {
                reply = try request(frame, to: other.endpoint, timeout: timeout)
                noteReachable(other.key)
            } catch {
                if error.refusal == nil { noteUnreachable(other.key, member: other, error) }
                continue
            }
            if let items = try? CustodyWire.items(reply) {
                let added = custody.withLock { $0.merge(items.records, changes: items.changes, now: CustodyClock.now()) }
                try? persist(added.records, changes: added.changes)
                custodyChanged(added.records.count + added.changes.count)
            }
            let wanted = Set((reply.header["want"]?.list ?? []).compactMap { $0.bytes.flatMap { try? SHA256Digest(bytes: $0) } })
            if !wanted.isEmpty {
                let (records, changes) = custody.withLock { ($0.recordsByID(ref), $0.changes(ref)) }
                let merge = CustodyWire.frame(
                    "co_merge", jobFields(manifest.id),
                    payload: CustodyWire.itemList(
                        wanted.sorted().compactMap { records[$0] }, changes: changes.filter { wanted.contains($0.id) }))
                _ = try? request(merge, to: other.endpoint, timeout: 30)
            }
        }
    }

    /// One anti-entropy round: for every shard held, exchange with its current custodians. A custodian that has
    /// not answered for `replaceAfter` seconds is replaced (by the member with the smallest key among those that
    /// answer); a shard this peer no longer keeps is handed to those that do, then dropped.
    func synchronize() {
        guard isRunning else { return }
        syncDiagnostics.withLock { $0.started = Date() }
        defer { syncDiagnostics.withLock { $0.finished = Date() } }
        // First: exchanges with a member that stopped answering can hold the round for their timeouts.
        retellFailures()
        for (ref, manifest) in heldShards() {
            guard isRunning else { return }
            let current = members(of: ref)
            guard current.contains(where: { $0.key == identity.publicKey }) else {
                exchange(ref, manifest: manifest, with: current)
                custody.withLock { $0.drop(ref) }
                log("custody of \(ref) handed to \(current.map(\.description).joined(separator: ", "))")
                continue
            }
            exchange(ref, manifest: manifest, with: current)
            let silent = current.filter { isUnreachable($0.key) }
            let answering = current.filter { !isUnreachable($0.key) }
            let smallest = answering.map { [UInt8]($0.key.rawRepresentation) }.min { $0.lexicographicallyPrecedes($1) }
            if let lost = silent.first, smallest == [UInt8](identity.publicKey.rawRepresentation),
                answering.count >= ShardAuthority.majority(of: current.count)
            {
                replace(lost, in: ref, manifest: manifest)
            }
        }
    }

    /// Before leaving: every shard this peer keeps gets a set without it, signed by a majority, and its records go to
    /// the custodians it leaves behind and to the newcomer.
    func handOff() {
        for (ref, manifest) in heldShards() where custody.withLock({ $0.isCustodian(ref) }) {
            let me = members(of: ref).first { $0.key == identity.publicKey }
            if let me { replace(me, in: ref, manifest: manifest) }
        }
    }

    /// Replaces `leaving` in a shard's set by the closest Colony node outside it that accepts: proposes the change,
    /// gathers signatures from the other members until a majority has signed, then sends the change and every
    /// record to the new set. Logs and gives up when no majority signs.
    func replace(_ leaving: CustodianMember, in ref: ShardRef, manifest: JobManifest) {
        let current = members(of: ref)
        let excluded = Set(current.map(\.endpoint))
        let nonce = SecureRandom.bytes(count: 16)
        var joining: CustodianMember?
        for candidate in closestNodes(to: manifest.shardKey(ref.shard), count: current.count + 4, excluding: excluded, refresh: true) {
            if let member = acceptedCustody(of: candidate, nonce: nonce) {
                joining = member
                break
            }
        }
        guard let joining else {
            noteReplacement("custody of \(ref): no node outside the set accepts to replace \(leaving)")
            return
        }
        var change: CustodySetChange
        do {
            change = try custody.withLock { custodian throws(CustodyError) in
                try custodian.proposeChange(ref, leaving: leaving.key, joining: joining, now: CustodyClock.now())
            }
            // On disk before the signature leaves (`CustodyJournal.rememberSigned`).
            try journal.rememberSigned(change)
        } catch {
            noteReplacement("custody of \(ref): \(error)")
            return
        }
        let needed = ShardAuthority.majority(of: current.count)
        for member in current where member.key != identity.publicKey && member.key != leaving.key {
            guard change.signatures.count < needed else { break }
            let frame = CustodyWire.frame("co_cosign", jobFields(manifest.id), payload: CustodyWire.itemList([], changes: [change]))
            guard let reply = try? request(frame, to: member.endpoint, timeout: 30),
                let signed = try? CustodyWire.items(reply).changes.first, signed.unsignedValue() == change.unsignedValue()
            else { continue }
            for (key, signature) in signed.signatures where !change.signatures.contains(where: { $0.key == key }) {
                change.signatures.append((key, signature))
            }
        }
        let added = custody.withLock { $0.merge([], changes: [change], now: CustodyClock.now()) }
        guard !added.changes.isEmpty else {
            noteReplacement("custody of \(ref): \(change.signatures.count) of \(needed) signatures to replace \(leaving); not changed")
            return
        }
        try? persist([], changes: added.changes)
        let records = custody.withLock { $0.records(ref) }
        let frame = CustodyWire.frame("co_merge", jobFields(manifest.id), payload: CustodyWire.itemList(records, changes: [change]))
        for member in change.members where member.key != identity.publicKey {
            _ = try? request(frame, to: member.endpoint, timeout: 30)
        }
        noteReplacement("custody of \(ref): \(leaving) replaced by \(joining) (epoch \(change.epoch))")
    }

    /// Logs an outcome of `replace`, and keeps the last 8 for a stall's trace.
    func noteReplacement(_ line: String) {
        log(line)
        syncDiagnostics.withLock { diagnostics in
            diagnostics.replacements.append("\(Int(Date().timeIntervalSince1970) % 100_000) \(line)")
            if diagnostics.replacements.count > 8 { diagnostics.replacements.removeFirst() }
        }
    }

    /// Asks `node` whether it keeps custody (`co_offer`), with a fresh nonce; its key when it accepts.
    func acceptedCustody(of node: Endpoint, nonce: [UInt8]) -> CustodianMember? {
        let frame = CustodyWire.frame(
            "co_offer",
            [("publisher", .bytes([UInt8](identity.publicKey.rawRepresentation))), ("nonce", .bytes(nonce)), ("network", .text(configuration.network))])
        guard let reply = try? request(frame, to: node, timeout: 10), let keyBytes = reply.header["key"]?.bytes,
            let key = try? Ed25519PublicKey(rawRepresentation: keyBytes), let signature = reply.header["sig"]?.bytes,
            key.isValidSignature(signature, for: CustodyWire.offerMessage(publisher: identity.publicKey, nonce: nonce))
        else { return nil }
        return CustodianMember(key: key, endpoint: node)
    }

    // MARK: Who answers

    /// Seconds a custodian must go unanswered before the others replace it.
    var replaceAfter: Double { max(30, 3 * (configuration.syncInterval ?? 10)) }

    /// A member answered: its backoff ends; said once when it had stopped answering.
    func noteReachable(_ key: Ed25519PublicKey) {
        guard let silence = silentSince.withLock({ $0.removeValue(forKey: key) }) else { return }
        log("custodian \(silence.member) answers again after \(Int(Date().timeIntervalSince(silence.since))) s")
    }

    /// A member did not answer: forwards and syncs to it back off (1 s, doubling to `Silence.maximumBackoff`);
    /// said once, when it stops answering, not at every attempt.
    func noteUnreachable(_ key: Ed25519PublicKey, member: CustodianMember, _ error: any Error) {
        let first = silentSince.withLock { silent -> Bool in
            if var silence = silent[key] {
                silence.failed()
                silent[key] = silence
                return false
            }
            guard silent.count < 10_000 else { return false }
            silent[key] = Silence(member: member)
            return true
        }
        if first {
            log("custodian \(member) does not answer (\(error)); forwards and syncs to it back off, up to \(Int(Silence.maximumBackoff)) s apart")
        }
    }

    /// Whether a member may be asked now: it answers, or its backoff has ended.
    func mayTry(_ key: Ed25519PublicKey) -> Bool {
        silentSince.withLock { $0[key] }.map { Date() >= $0.next } ?? true
    }

    /// Whether the custodian with `key` has not answered this peer for `replaceAfter` seconds.
    func isUnreachable(_ key: Ed25519PublicKey) -> Bool {
        silentSince.withLock { $0[key] }.map { Date().timeIntervalSince($0.since) >= replaceAfter } ?? false
    }
}

/// A custodian that stopped answering this peer: since when, and when to try it next.
struct Silence {
    /// The longest wait between two tries.
    static let maximumBackoff = 60.0
    let member: CustodianMember
    let since = Date()
    var failures = 1
    var next = Date() + 1

    init(member: CustodianMember) { self.member = member }

    mutating func failed() {
        failures += 1
        next = Date() + min(Self.maximumBackoff, pow(2, Double(min(failures, 10))))
    }
}

/// A closing check's replica: the shard, the worker and its closing units (`ColonyPeer.syncBeforeClosingReveal`).
struct ClosingReplica: Hashable, Sendable {
    let ref: ShardRef
    let worker: Ed25519PublicKey
    let units: Set<Int>
}
