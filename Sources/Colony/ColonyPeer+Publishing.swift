import ColonyBlobs
import ColonyCore
import ColonyNet
import ColonyWork
import Foundation
import Synchronization

/// Publishing a job: choosing and signing its custodians, then handing them the manifest.
extension ColonyPeer {
    // MARK: Publishing

    /// Signs a job of `units` from `spec`: each shard's custodians are the closest Colony nodes to its key that
    /// accept (`co_offer`), the quorum of them when that many are reachable (DESIGN.md, Trust: the initial set is signed by the
    /// publisher). Inputs over `JobManifest.inlineLimit` go into blobs of the swarm when `storeLarge`.
    public func signJob(
        spec: JobSpec, kernelVersion: Int, units: [Data], shardSize: Int? = nil, storeLarge: Bool = true,
        created: Date = Date()
    ) throws -> JobManifest {
        let count = max(configuration.custodians, spec.redundancy.quorum)
        return try JobManifest.signed(
            spec: spec, kernelVersion: kernelVersion, units: units, by: identity, created: created, shardSize: shardSize,
            custody: { nonce, shards in
                try self.chooseCustodians(nonce: nonce, shards: shards, count: count, quorum: spec.redundancy.quorum)
            },
            storeLarge: storeLarge ? { try self.putInput($0) } : nil)
    }

    /// Seconds `chooseCustodians` keeps looking for a shard's quorum of custodians.
    var custodianWait: Double { configuration.reachability == .checked || configuration.oneShot ? 15 : 0 }

    /// For each shard, the first `count` of the closest Colony nodes to its key that accept custody; throws when a
    /// shard finds none, after waiting up to `custodianWait` seconds for a quorum of them.
    func chooseCustodians(nonce: [UInt8], shards: Int, count: Int, quorum: Int) throws -> JobCustody {
        var answers: [Endpoint: CustodianMember?] = [:]
        var sets: [[CustodianMember]] = []
        // Peers that just started are not yet dialed back (a second or so): a shard short of its quorum looks
        // again, for up to `custodianWait` seconds.
        let deadline = Date() + custodianWait
        for shard in 0..<shards {
            var chosen: [CustodianMember] = []
            var refresh = false
            while true {
                for candidate in closestNodes(to: JobKeys.shard(nonce: nonce, shard), count: count + 4, refresh: refresh)
                where chosen.count < count && !chosen.contains(where: { $0.endpoint == candidate }) {
                    if answers[candidate] == nil || (refresh && answers[candidate]! == nil) {
                        answers[candidate] = acceptedCustody(of: candidate, nonce: nonce)
                    }
                    if let member = answers[candidate] ?? nil { chosen.append(member) }
                }
                guard chosen.count < quorum, Date() < deadline else { break }
                // Looked up again after a pause: nothing tells this peer when another becomes reachable.
                Thread.sleep(forTimeInterval: 1)
                refresh = true
            }
            guard !chosen.isEmpty else {
                throw CustodyError(
                    "no custodians",
                    "shard \(shard) found no reachable Colony node willing to keep custody: join a node others can "
                        + "reach (--bootstrap), or forward a port to one (--advertise)")
            }
            if chosen.count < quorum {
                log("shard \(shard): \(chosen.count) reachable custodians, fewer than the quorum (\(quorum)); they share it, so the job's trust rests on them")
            }
            sets.append(chosen)
        }
        return JobCustody(shardSets: sets)
    }

    /// Publishes a signed job: the manifest is stored as a blob here, every custodian it names fetches and keeps
    /// it, and they and this peer announce it under the kernel's topic. Returns the job ID and the custodians
    /// that hold the manifest; throws, naming each shard and the custodians it misses, unless every custodian of
    /// every shard holds it (a custodian without the manifest can neither lease nor check records: a shard short
    /// of its set may never reach a quorum of custodians).
    public func publish(_ manifest: JobManifest) throws -> (job: JobID, holders: [Endpoint]) {
        let job = manifest.id
        let root = try keep(manifest)
        // Only a peer others can reach says it holds the job; the custodians announce it as they take it.
        let reachable = reach.isReachable
        if reachable {
            announce(under: JobKeys.topic(kernel: manifest.kernel, version: manifest.kernelVersion, network: configuration.network))
            announce(under: JobKeys.job(job))
            blobs.announce(root)
        }
        // The manifest goes in the request: a custodian need not connect back to a publisher (which may be
        // behind a NAT, or gone once the command ends).
        let encoded = manifest.encoded()
        var holders: Set<Ed25519PublicKey> = [identity.publicKey]
        var endpoints: [Endpoint] = []
        var failures: [Ed25519PublicKey: String] = [:]
        for node in manifest.custody.nodes where node.key != identity.publicKey {
            let frame = CustodyWire.frame(
                "co_publish", [("job", .bytes(job.bytes)), ("root", .bytes(root.root.bytes)), ("port", .integer(Int64(reachablePort)))],
                payload: .bytes(encoded))
            // Tried twice: a node that accepted custody a moment ago may drop one connection. A refusal is its
            // answer (at its custody limits, say), not asked again, but for "unknown job" (a fetch in flight).
            var refused = false
            for attempt in 0..<2 where !holders.contains(node.key) && !refused {
                do {
                    _ = try request(frame, to: node.endpoint, timeout: attempt == 0 ? 60 : 30)
                    holders.insert(node.key)
                    endpoints.append(node.endpoint)
                    failures[node.key] = nil
                } catch {
                    failures[node.key] = "\(error)"
                    refused = error.refusal.map { $0.reason != "unknown job" } ?? false
                }
            }
        }
        var missing: [String] = []
        for shard in 0..<manifest.shardCount {
            let absent = manifest.custody.members(ofShard: shard).filter { !holders.contains($0.key) }
            guard !absent.isEmpty else { continue }
            missing.append("shard \(shard) misses " + absent.map { failures[$0.key] ?? "\($0.endpoint)" }.joined(separator: "; "))
        }
        guard missing.isEmpty else {
            throw CustodyError(
                "no custodians",
                "the manifest is not held by every custodian it names: " + missing.prefix(8).joined(separator: "; ")
                    + (missing.count > 8 ? "; and \(missing.count - 8) more shards" : "") + ". Publish again once they answer")
        }
        for shard in 0..<manifest.shardCount {
            let members = manifest.custody.members(ofShard: shard)
            // Unit inputs kept as blobs go to the shard's custodians, who keep the job now: the job outlives its
            // publisher. A custodian on this peer holds them already.
            for unit in manifest.units(inShard: shard) {
                guard case .blob(let input, _) = manifest.units[unit] else { continue }
                let blob = BlobID(root: input)
                if reachable { blobs.announce(blob) }
                let others = members.filter { $0.key != identity.publicKey && holders.contains($0.key) }.map(\.endpoint)
                guard others.isEmpty || !blobs.replicate(blob, to: others).isEmpty else {
                    throw CustodyError("storage", "no custodian of shard \(shard) took a replica of input blob \(blob.hex.prefix(12))")
                }
            }
        }
        return (job, endpoints)
    }

    /// Stores the manifest a `co_publish` carries, when it is the job's (its SHA-256 is the job ID) and its
    /// blob is the root named, so that the checks that follow find it here rather than fetch it from the
    /// publisher. The checks (signature, whether it names this peer) are `fetchManifest`'s, as for a fetched one;
    /// a manifest they refuse is removed there.
    func keepInlineManifest(_ frame: Frame) {
        guard let job = CustodyWire.job(frame), manifest(job) == nil, let root = CustodyWire.digest(frame, "root"),
            case .bytes(let bytes)? = try? CustodyWire.payload(frame), bytes.count <= JobManifest.maxSize,
            SHA256.hash(bytes) == job, !blobs.store.isComplete(BlobID(root: root))
        else { return }
        guard let stored = try? blobs.store.put(data: Data(bytes), pin: false), stored.id.root == root else { return }
    }

    /// Jobs announced for a kernel, with the manifest roots offered and who offered each, asking none of `skipping`.
    public func discoverJobs(kernel: String, version: Int, skipping: Set<Endpoint> = []) -> [JobOffer] {
        var sources = peers(under: JobKeys.topic(kernel: kernel, version: version, network: configuration.network))
        if custody.withLock({ !$0.manifests.isEmpty }) { sources.append(endpoint) }
        let frame = CustodyWire.frame("co_jobs", [("kernel", .text(kernel)), ("version", .integer(Int64(version)))])
        var seen = skipping
        return jobOffers(asking: sources.filter { seen.insert($0).inserted }, with: frame)
    }

    /// The most jobs a job list (`co_jobs`) names, and the most read from one.
    static let jobListLimit = 1000
    /// The most distinct manifest roots kept for one job, one from each source.
    static let offersPerJob = 4
    /// Job lists asked for at once.
    static let listRequestsAtOnce = 16

    /// Sends `frame` to each of `sources` and gathers the (job, manifest root) pairs they answer, at most
    /// `jobListLimit` from each, with the first source that named each job.
    func jobLists(asking sources: [Endpoint], with frame: Frame) -> [(job: JobID, root: BlobID, source: Endpoint)] {
        jobOffers(asking: sources, with: frame).map { ($0.job, $0.offers[0].root, $0.offers[0].source) }
    }

    /// Sends `frame` to each of `sources` at once, each for up to `timeout` seconds, and gathers the (job, manifest
    /// root) pairs they answer: at most `jobListLimit` from each, and for each job the distinct roots offered, each
    /// with the first source that offered it, in the order of `sources` (at most `offersPerJob`). Anyone can list a
    /// job under a root of its own: a worker that took the first root it heard of for a job, and ignored the job
    /// when that root did not check out, could be kept from any job by a lister heard first. Asked one after
    /// another, a source that never answers cost every look its whole timeout.
    func jobOffers(asking sources: [Endpoint], with frame: Frame, timeout: Double = 10) -> [JobOffer] {
        let replies = Mutex<[Int: [BencodeValue]]>([:])
        // At most `listRequestsAtOnce` at a time: anyone can announce many endpoints under a topic, and each request
        // holds a thread of the shared pool for up to its timeout.
        for batch in stride(from: 0, to: sources.count, by: Self.listRequestsAtOnce) {
            let group = DispatchGroup()
            for index in batch..<min(sources.count, batch + Self.listRequestsAtOnce) {
                let source = sources[index]
                DispatchQueue.global().async(group: group) { [self] in
                    guard let reply = try? request(frame, to: source, timeout: timeout), let list = try? CustodyWire.payload(reply).list
                    else { return }
                    replies.withLock { $0[index] = Array(list.prefix(Self.jobListLimit)) }
                }
            }
            group.wait()
        }
        var order: [JobID] = []
        var offers: [JobID: [JobOffer.Offer]] = [:]
        var reopened: Set<JobID> = []
        for (index, list) in replies.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            for item in list {
                guard let pair = item.list, (2...3).contains(pair.count), let jobBytes = pair[0].bytes, let rootBytes = pair[1].bytes,
                    let job = try? JobID(bytes: jobBytes), let root = try? SHA256Digest(bytes: rootBytes)
                else { continue }
                if pair.count == 3, pair[2].integer == 1 { reopened.insert(job) }
                let known = offers[job] ?? []
                if known.isEmpty { order.append(job) }
                // One root from each source: a source offering a job under many roots would crowd out the real one.
                guard known.count < Self.offersPerJob, !known.contains(where: { $0.root.root == root || $0.source == sources[index] })
                else { continue }
                offers[job] = known + [JobOffer.Offer(root: BlobID(root: root), source: sources[index])]
            }
        }
        return order.sorted().map { JobOffer(job: $0, offers: offers[$0] ?? [], reopened: reopened.contains($0)) }
    }
}

/// A job named in job lists, with the manifest roots offered for it and who offered each (`jobOffers`).
public struct JobOffer: Sendable {
    public struct Offer: Sendable {
        public var root: BlobID
        public var source: Endpoint
    }

    public var job: JobID
    public var offers: [Offer]
    /// A source said it keeps a shard of the job with units open. A worker that let the job go as finished takes it
    /// up again (at most once per `SwarmWorker.retakeSeconds`): a failed check in one shard voids what the worker
    /// ran alone in the others, after they may have been found finished.
    public var reopened = false
}
