import ColonyBlobs
import ColonyCore
import ColonyDHT
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation

/// The rounds of each attack.
extension RedTeam {
    // MARK: Forger

    /// Forged leases, results and custodian sets with fresh keys; lease requests in an honest worker's name; a sync
    /// by a stranger; replayed requests; honest records sent back (a replay of old records).
    func forgeRound(_ manifest: JobManifest, round: Int) {
        guard round < 25, let forger = attacker else { return }
        let victim = swarm.peers[min(1, swarm.peers.count - 1)].identity.publicKey
        for (ref, members) in shards(manifest) {
            let units = Array(manifest.units(inShard: ref.shard))
            let keys = (0..<3).map { _ in Identity(privateKey: Ed25519PrivateKey()) }
            var forged: [CustodyRecord] = []
            for (index, key) in keys.enumerated() {
                let now = CustodyClock.now()
                forged.append(
                    CustodyRecord(
                        kind: .lease, job: ref.job, shard: ref.shard, worker: key.publicKey,
                        expires: now + Int64(manifest.policy.leaseSeconds) * 1000, epoch: 0,
                        network: manifest.policy.network(ofIPv4: 0x0A63_0000 | UInt32(index) << 8),
                        entries: units.map { .init(unit: $0) }, time: now, signedBy: key))
                let wrong = units.map { (unit: $0, output: [UInt8]("forged \($0)".utf8)) }
                forged.append(
                    CustodyRecord(
                        kind: .commit, job: ref.job, shard: ref.shard, worker: key.publicKey,
                        entries: wrong.map {
                            .init(unit: $0.unit, hash: CustodyRecord.seal(worker: key.publicKey, job: ref.job, unit: $0.unit, digest: SHA256.hash($0.output).bytes))
                        }, time: now + 1, signedBy: key))
                forged.append(
                    CustodyRecord(
                        kind: .reveal, job: ref.job, shard: ref.shard, worker: key.publicKey,
                        entries: wrong.map { .init(unit: $0.unit, hash: SHA256.hash($0.output).bytes, data: $0.output) },
                        time: now + 2, signedBy: key))
            }
            // A custodian set naming the forger's keys, signed by them.
            let authority = swarm.peers[0].authority(of: ref)
            var change = CustodySetChange(
                job: ref.job, shard: ref.shard, epoch: (authority?.epoch ?? 0) + 1,
                members: keys.map { CustodianMember(key: $0.publicKey, endpoint: forger.endpoint) })
            for key in keys { change.sign(by: key) }
            // Honest records read from a custodian, sent back: a replay changes nothing.
            let read = CustodyWire.frame("co_records", forger.jobFields(ref.job) + [("shard", .integer(Int64(ref.shard)))])
            for member in members {
                let honest = (try? forger.request(read, to: member.endpoint, timeout: 10)).flatMap { try? CustodyWire.items($0).records } ?? []
                let merge = CustodyWire.frame(
                    "co_merge", forger.jobFields(ref.job), payload: CustodyWire.itemList(forged + honest.prefix(20), changes: [change]))
                _ = try? forger.request(merge, to: member.endpoint, timeout: 10)
                count("forged records", forged.count)
                count("forged custodian sets")
                count("replayed records", min(20, honest.count))
                // A result handed in as a worker would, with no lease.
                _ = try? forger.request(CustodyWire.frame("co_submit", forger.jobFields(ref.job), payload: forged[1].value), to: member.endpoint, timeout: 10)
                count("forged submissions")
                // A lease request in the victim's name, signed by the forger; then a valid request of the forger's,
                // sent twice.
                var impersonation = CustodyWire.leaseRequest(
                    forger.jobFields(ref.job), job: ref.job, shard: ref.shard, count: 4, by: keys[0], now: CustodyClock.now())
                impersonation.header[Array("worker".utf8)] = .bytes([UInt8](victim.rawRepresentation))
                _ = try? forger.request(impersonation, to: member.endpoint, timeout: 10)
                count("lease requests in another worker's name")
                let own = CustodyWire.leaseRequest(
                    forger.jobFields(ref.job), job: ref.job, shard: ref.shard, count: 1, by: keys[1], now: CustodyClock.now())
                if let reply = try? forger.request(own, to: member.endpoint, timeout: 10), CustodyWire.op(reply) == "lease" {
                    observe("leases the forger's own keys got (as any worker may)")
                }
                // Sent again, a request whose lease was granted gets that lease back (its answer may have been
                // lost) and nothing new; one that got nothing is refused as a replay.
                if let again = try? forger.request(own, to: member.endpoint, timeout: 10), CustodyWire.op(again) == "lease" {
                    observe("replayed lease requests answered with the lease already granted")
                }
                count("replayed lease requests")
                // Reading every record, as a custodian would, signed by a stranger.
                let sync = CustodyWire.frame(
                    "co_sync",
                    forger.jobFields(ref.job) + [("shard", .integer(Int64(ref.shard)))]
                        + CustodyWire.syncSignature(job: ref.job, shard: ref.shard, by: keys[2], now: CustodyClock.now()),
                    payload: .list([]))
                _ = try? forger.request(sync, to: member.endpoint, timeout: 10)
                count("sync requests by a stranger")
            }
        }
    }

    // MARK: Copycat

    /// Reads what custodians serve, looking for results of undecided units to copy: public records, and a sync
    /// as if a custodian.
    func eavesdropRound(_ manifest: JobManifest) {
        guard let reader = attacker else { return }
        let stranger = Identity(privateKey: Ed25519PrivateKey())
        for (ref, members) in shards(manifest) {
            for member in members {
                let read = CustodyWire.frame("co_records", reader.jobFields(ref.job) + [("shard", .integer(Int64(ref.shard)))])
                count("record reads")
                if let records = (try? reader.request(read, to: member.endpoint, timeout: 10)).flatMap({ try? CustodyWire.items($0).records }) {
                    // A reveal of a unit the serving custodian still counts as open would be a result to copy.
                    let server = swarm.peers.first { $0.identity.publicKey == member.key }
                    let verdicts = server?.custodian.verdicts(ref, now: CustodyClock.now()) ?? []
                    let open = Set(verdicts.filter { $0.state == .open }.map(\.unit))
                    for record in records where record.kind == .reveal {
                        observe("undecided results seen", record.entries.filter { open.contains($0.unit) }.count)
                    }
                }
                let sync = CustodyWire.frame(
                    "co_sync",
                    reader.jobFields(ref.job) + [("shard", .integer(Int64(ref.shard)))]
                        + CustodyWire.syncSignature(job: ref.job, shard: ref.shard, by: stranger, now: CustodyClock.now()),
                    payload: .list([]))
                count("sync requests by a stranger")
                if let records = (try? reader.request(sync, to: member.endpoint, timeout: 10)).flatMap({ try? CustodyWire.items($0).records }) {
                    observe("records a stranger read by sync", records.count)
                }
            }
        }
    }

    // MARK: One corrupt custodian per shard

    /// One custodian of every shard (the first of its set, when it is a peer of the swarm) leases the units to
    /// invented friends on invented networks, who commit and reveal one agreed wrong output, and stops forwarding
    /// and answering syncs (it withholds the records it holds).
    func corruptCustodianRound(_ manifest: JobManifest, round: Int) {
        guard round < 30 else { return }
        for (ref, members) in shards(manifest) {
            guard let first = members.first, let corrupt = swarm.peers.first(where: { $0.identity.publicKey == first.key }) else {
                continue
            }
            corrupt.withholding = true
            let units = Array(manifest.units(inShard: ref.shard))
            let friend = Identity(privateKey: Ed25519PrivateKey())
            let now = CustodyClock.now()
            let epoch = corrupt.authority(of: ref)?.epoch ?? 0
            let lease = CustodyRecord(
                kind: .lease, job: ref.job, shard: ref.shard, worker: friend.publicKey,
                expires: now + Int64(manifest.policy.leaseSeconds) * 1000, epoch: epoch,
                network: manifest.policy.network(ofIPv4: 0x0A62_0000 | UInt32(round & 0xFF) << 8),
                entries: units.map { .init(unit: $0) }, time: now, signedBy: corrupt.identity)
            let wrong = units.map { (unit: $0, output: [UInt8]("agreed wrong \($0)".utf8)) }
            let commit = CustodyRecord(
                kind: .commit, job: ref.job, shard: ref.shard, worker: friend.publicKey,
                entries: wrong.map {
                    .init(unit: $0.unit, hash: CustodyRecord.seal(worker: friend.publicKey, job: ref.job, unit: $0.unit, digest: SHA256.hash($0.output).bytes))
                }, time: now + 1, signedBy: friend)
            let reveal = CustodyRecord(
                kind: .reveal, job: ref.job, shard: ref.shard, worker: friend.publicKey,
                entries: wrong.map { .init(unit: $0.unit, hash: SHA256.hash($0.output).bytes, data: $0.output) },
                time: now + 2, signedBy: friend)
            // The corrupt custodian pushes its friends' records to the honest ones, as forwarding would.
            let merge = CustodyWire.frame("co_merge", corrupt.jobFields(ref.job), payload: CustodyWire.itemList([lease, commit, reveal]))
            for member in members.dropFirst() {
                if let reply = try? corrupt.request(merge, to: member.endpoint, timeout: 10) {
                    observe("friends' records the honest custodians kept", CustodyWire.int(reply, "added") ?? 0)
                }
            }
            count("leases to invented friends")
            count("agreed wrong results", units.count)
        }
    }

    // MARK: Hostile publisher

    /// Publishes, from peer 0, a second job of the same kernel whose unit inputs are built to break kernels: empty,
    /// random bytes, and encodings of extreme values.
    func publishPoison(like manifest: JobManifest) throws {
        var random = SystemRandomNumberGenerator()
        var inputs: [Data] = [Data(), Data([0xFF]), Data(repeating: 0xFF, count: 64)]
        for size in [3, 17, 200, 4000] { inputs.append(Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &random) })) }
        for text in [
            #"{"from":-9223372036854775808,"to":9223372036854775807}"#, #"{"firstRow":9223372036854775800,"rows":100,"width":64}"#,
            #"{"exponents":[2147483647,9223372036854775807]}"#, #"{"from":0,"to":1000000000000000000}"#,
            #"{"seed":-1,"samples":9223372036854775807}"#, #"[9223372036854775807]"#,
        ] { inputs.append(Data(text.utf8)) }
        let spec = JobSpec(
            kernel: manifest.kernel, title: "poisoned inputs", parameters: [:],
            redundancy: Redundancy(replicas: 2, quorum: 2, maxAttempts: 2), leaseSeconds: 30, source: "red team")
        let poisoned = try swarm.peers[0].signJob(spec: spec, kernelVersion: manifest.kernelVersion, units: inputs, storeLarge: false)
        poisonedJob = try swarm.publish(poisoned)
        count("hostile unit inputs", inputs.count)
        log("red team: published job \(poisoned.id.hex.prefix(12)) with \(inputs.count) hostile unit inputs")
    }

    // MARK: Flooder

    /// Connection floods, junk and oversized frames, custody requests naming unknown jobs, replica requests for
    /// blobs nobody keeps, and announces under the kernel's topic from one address.
    func floodRound(_ manifest: JobManifest, round: Int) {
        guard round < 10, let flooder = attacker else { return }
        let target = swarm.peers[0].endpoint
        // Connections held open at once from one address.
        var held: [FrameConnection] = []
        for _ in 0..<64 {
            if let connection = try? FrameConnection.connect(to: target, from: "127.201.0.1", timeout: 2) { held.append(connection) }
        }
        count("connections opened at once", 64)
        // Junk requests on one connection, faster than any rate a peer needs.
        if let connection = held.first {
            for index in 0..<300 {
                let junk = CustodyWire.frame(["co_lease", "co_submit", "co_nope", "co_merge"][index % 4], [("job", .bytes([UInt8](repeating: UInt8(index & 0xFF), count: 32)))])
                guard (try? connection.send(junk)) != nil else { break }
                count("junk requests")
            }
        }
        for connection in held { connection.close() }
        // Oversized frames: a header and a payload longer than any frame may be.
        if let raw = try? FrameConnection.connect(to: target, from: "127.201.0.1", timeout: 2) {
            var huge = CustodyWire.frame("co_merge")
            huge.payload = [UInt8](repeating: 0x65, count: 20 << 20)
            _ = try? raw.send(huge)
            raw.close()
            count("oversized frames")
        }
        // Custody requests naming jobs nobody published, with a root to fetch from the flooder.
        for _ in 0..<20 {
            let fake = CustodyWire.frame(
                "co_publish",
                [("job", .bytes(SecureRandom.bytes(count: 32))), ("root", .bytes(SecureRandom.bytes(count: 32))), ("port", .integer(Int64(flooder.endpoint.port)))])
            _ = try? flooder.request(fake, to: target, timeout: 10)
            count("requests naming unknown jobs")
        }
        // Replicas of blobs nobody keeps.
        for _ in 0..<20 {
            let request = CustodyWire.frame(
                "replicate", [("blob", .bytes(SecureRandom.bytes(count: 32))), ("port", .integer(Int64(flooder.endpoint.port)))])
            if let connection = try? FrameConnection.connect(to: target, from: "127.201.0.1", timeout: 2) {
                defer { connection.close() }
                if (try? connection.send(request)) != nil, let reply = try? connection.receive(timeout: 10), CustodyWire.op(reply) == "ok" {
                    observe("replicas accepted")
                }
            }
            count("replica requests")
        }
        // Signed jobs naming the peer as custodian, each kept for good if it were let: past the address's burst they
        // are refused (`CustodyLimits`): 80 in the first round, past the burst of 64, then 10 a round. Of a kernel
        // nobody runs, so the swarm's workers do not take them up.
        let victim = CustodianMember(key: swarm.peers[0].identity.publicKey, endpoint: target)
        for _ in 0..<(round == 0 ? 80 : 10) {
            let spec = JobSpec(
                kernel: "flood", title: "flood", parameters: [:], redundancy: Redundancy(replicas: 1, quorum: 1, maxAttempts: 1),
                leaseSeconds: 30, source: "red team")
            guard
                let job = try? JobManifest.signed(
                    spec: spec, kernelVersion: 1, units: [Data([UInt8(round)])], by: Identity(privateKey: Ed25519PrivateKey()),
                    custody: { _, shards in JobCustody.same([victim], shards: shards) })
            else { continue }
            if (try? flooder.publish(job)) != nil { observe("flood jobs kept") }
            count("signed jobs naming the peer as custodian")
        }
        // Announces under the kernel's topic from one address, many ports: they must not crowd out real jobs.
        let topic = JobKeys.topic(kernel: manifest.kernel, version: manifest.kernelVersion)
        if let key = NodeID(bytes: topic) {
            for port in 0..<50 {
                _ = flooder.blobs.node.wait(timeout: 5) { dht, now, done in
                    dht.announce(key, port: UInt16(20_000 + round * 50 + port), now: now) { done($0.stored) }
                }
                count("announces from one address")
            }
        }
    }
}
