import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation
import Testing

@testable import Colony
@testable import ColonyWork

/// A sleeper caught in one shard of a job loses what it ran alone in the others, over the wire, where the custodians
/// of a shard keep none of the shard it was caught in (issue 14, Sleeper: "every one of its unreplicated results
/// after its first detected cheat is recomputed").
@Suite struct CrossShardSleeperTests {
    /// Publishes a tally job of `spec` in shards of 128 units, its even shards kept by the peers `even` and its odd
    /// shards by the peers `odd`: the custodians of one half keep none of the other.
    static func publishHalved(_ spec: JobSpec, on swarm: LocalSwarm, even: ClosedRange<Int>, odd: ClosedRange<Int>) throws -> JobManifest {
        let members = { (peers: ClosedRange<Int>) in
            peers.map { CustodianMember(key: swarm.peers[$0].identity.publicKey, endpoint: swarm.peers[$0].endpoint) }
        }
        let manifest = try JobManifest.signed(
            spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters), by: swarm.peers[0].identity,
            shardSize: 128, custody: { _, shards in JobCustody(shardSets: (0..<shards).map { members($0 % 2 == 0 ? even : odd) }) })
        _ = try swarm.publish(manifest)
        return manifest
    }

    @Test func aSleeperCaughtInOneShardKeepsNothingItRanAloneAfterwardInShardsKeptByOthers() throws {
        // Six workers, one a sleeper: honest for 50 units, then wrong on 30 % of its units. Even shards are kept by
        // peers 0–2 and odd shards by peers 3–5, so the custodians of an odd shard learn of a failure in an even one
        // only from a hint (`co_failed`) and a gather. In the observer's view (which re-verifies every shard) no result
        // of the sleeper may stand alone that it ran before a failed check anywhere in the job with no passed check in
        // its own shard in between, nor on trust a failure had taken; and every unit is still decided, so the
        // custodians voided the same units and had them computed again.
        // Shard by shard (each shard's failures its own), 2 runs of 4 failed here: 7 results left standing that
        // the sleeper ran before a failure elsewhere, and in the other 9 such and 10 run on trust a failure elsewhere
        // had taken, 4 of them wrong outputs (honest for 80 units: 3 of 4, with 1 and
        // 4 wrong). Without the hints, 1 run of 2 stalled at 756 of 768: the custodians of the other half never
        // voided what the observer voided.
        try SwarmTestSupport.withSwarm("cross-shard-sleeper", configure: { options in
            options.peers = 6
            options.sleepers = 1
            options.sleeperHonestUnits = 50
            options.sleeperCheatRate = 0.3
        }) { swarm in
            let spec = AdaptiveSwarmTests.adaptiveSpec(units: 768)
            let manifest = try Self.publishHalved(spec, on: swarm, even: 0...2, odd: 3...5)
            try #require(manifest.shardCount == 6)
            let job = manifest.id
            let progress = swarm.waitUntilDecided(job, timeout: 300)
            #expect(progress?.validated == 768, "progress: \(String(describing: progress))")
            let report = try AdaptiveSwarmTests.collect(job, on: swarm)
            #expect(report.validated == 768)
            let index = try #require(swarm.peers.indices.first { swarm.behaviour(of: $0) == .sleeper })
            let sleeper = swarm.peers[index].identity.publicKey
            // Each shard's records, from a custodian that keeps it.
            let ledgers = try (0..<manifest.shardCount).map { shard in
                let keeper = swarm.peers[shard % 2 == 0 ? 0 : 3]
                return try #require(keeper.custodian.ledgers[ShardRef(job: job, shard: shard)])
            }
            let failures = ledgers.flatMap { $0.ownFailures()[sleeper] ?? [] }.sorted()
            let passes = ledgers.flatMap { $0.checks(of: sleeper) }.filter(\.passed).map(\.time)
            try #require(!failures.isEmpty, "the sleeper failed no check")
            // Its results standing alone, each run under a lease signed after a failed check of it anywhere in the
            // job with fewer passed checks since, in all shards, than trust needs: those it ran on trust it had lost.
            var lostTrust: [Int] = []
            var unchecked: [Int] = []
            var alone = 0
            for verdict in report.verdicts where verdict.state == .validated && verdict.agreeing == [sleeper] {
                alone += 1
                let ledger = ledgers[manifest.shard(of: verdict.unit)]
                let leased = ledger.records.values.filter { $0.kind == .lease && $0.worker == sleeper && $0.entries.contains { $0.unit == verdict.unit } }
                guard let time = leased.map(\.time).max() else { continue }
                if let failure = failures.last(where: { $0 < time }), passes.filter({ $0 > failure && $0 < time }).count < spec.redundancy.trustAfter {
                    lostTrust.append(verdict.unit)
                }
                // Run alone before a failed check anywhere in the job, with no passed check of the worker in between
                // in its own shard: its last check there came before it, and the failure voids it.
                let passedHere = ledger.checks(of: sleeper).filter(\.passed).map(\.time)
                if let failure = failures.first(where: { $0 > time }), !passedHere.contains(where: { $0 > time && $0 < failure }) {
                    unchecked.append(verdict.unit)
                }
            }
            let wrong = report.verdicts.filter { $0.output != AdaptiveSwarmTests.square($0.unit) }.count
            let hints = swarm.peers.reduce(0) { $0 + $1.failureGatherCounts.hintsSent }
            let gathered = swarm.peers.reduce(0) { $0 + $1.failureGatherCounts.gathered }
            print(
                "the sleeper failed \(failures.count) checks in \(ledgers.filter { $0.ownFailures()[sleeper] != nil }.count) shards; "
                    + "\(alone) of its results stand alone, \(lostTrust.count) of them on trust lost by a failure, \(unchecked.count) unchecked before one; "
                    + "\(wrong) wrong; \(hints) hints sent, \(gathered) shards gathered for failures")
            #expect(lostTrust.isEmpty, "units \(lostTrust.sorted())")
            #expect(unchecked.isEmpty, "units \(unchecked.sorted())")
            // The custodians of the other half heard of failures and gathered the shards that showed them.
            #expect(hints > 0 && gathered > 0)
        }
    }
}

extension CrossShardSleeperTests {
    @Test func aFloodOfFailureHintsCostsOneGatherPerShardAndInterval() throws {
        // Anyone can send `co_failed`. A flooder sends 200 for a shard of a job the peer keeps another shard of, and
        // more for a job it does not know, a shard it keeps itself, and a shard the job does not have. The peer
        // gathers the one shard once: hints that come before the interval is up ask for one gather more at its end
        // (an hour here), and the others gather nothing.
        try SwarmTestSupport.withSwarm("failure-hint-flood", configure: { options in
            options.peers = 3
            options.failureGatherInterval = 3600
            // The victim leases the flooder's fresh key a unit at once, not after looking up its standing elsewhere.
            options.priorLookups = false
        }) { swarm in
            for worker in swarm.workers { worker.stop() }
            let spec = AdaptiveSwarmTests.adaptiveSpec(units: 8)
            let member = { (index: Int) in CustodianMember(key: swarm.peers[index].identity.publicKey, endpoint: swarm.peers[index].endpoint) }
            let manifest = try JobManifest.signed(
                spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters), by: swarm.peers[0].identity,
                shardSize: 4, custody: { _, shards in JobCustody(shardSets: [[member(1)], [member(2)]]) })
            let job = try swarm.publish(manifest)
            let flooder = swarm.peers[0]
            let victim = swarm.peers[2]
            // The victim keeps records of shard 1 once it leased a unit of it (a shard without records has nothing
            // run alone to void, and its custodian takes no hint for the job).
            let worker = Identity(privateKey: Ed25519PrivateKey())
            let lease = CustodyWire.leaseRequest(
                flooder.jobFields(job), job: job, shard: 1, count: 1, by: worker, now: CustodyClock.now(), holding: [])
            try #require(CustodyWire.op(try flooder.request(lease, to: victim.endpoint, timeout: 10)) == "lease")
            var settled: [Int: Int] = [:]
            func hint(_ job: JobID, shard: Int) throws -> Int? {
                // Counts too large to be true: they make the peer gather, no more.
                let frame = CustodyWire.frame(
                    "co_failed", flooder.jobFields(job) + [("shard", .integer(Int64(shard))), ("failures", .integer(.max))])
                let reply = try flooder.request(frame, to: victim.endpoint, timeout: 10)
                settled[shard, default: 0] += CustodyWire.int(reply, "settled") ?? 0
                return CustodyWire.int(reply, "gathering")
            }
            var gathering = 0
            for _ in 0..<200 { gathering += try hint(job, shard: 0) ?? 0 }
            let stranger = try JobID(bytes: Array(repeating: 7, count: 32))
            var others = 0
            for _ in 0..<20 {
                others += try hint(stranger, shard: 0) ?? 0
                others += try hint(job, shard: 1) ?? 0
                others += try hint(job, shard: 2) ?? 0
                others += try hint(job, shard: -1) ?? 0
            }
            let deadline = Date() + 30
            while victim.failureGatherCounts.gathered < 1, Date() < deadline { swarm.waitForChange(until: min(deadline, Date() + 0.5)) }
            print("hints answered gathering: \(gathering) of 200 for the shard, \(others) of 80 others; gathered \(victim.failureGatherCounts.gathered)")
            #expect(victim.failureGatherCounts.gathered == 1)
            #expect(victim.custodian.jobShards.keys.map(\.shard) == [0])
            #expect(others == 0)
            #expect(gathering == 200)
            // The shard it keeps and the one the job does not have are settled: nobody need tell it of them again.
            // The shard it lacks is not (it knows fewer failures there than said), nor is the job it does not know.
            #expect(settled == [0: 0, 1: 20, 2: 20, -1: 20], "\(settled)")
            // The gather found fewer failures than said: the next hints of as many wait twice as long.
            let short = victim.failureGathers.withLock { $0.short[ShardRef(job: job, shard: 0)] }
            #expect(short?.times == 1 && short?.hinted == Int(Int64.max), "\(String(describing: short))")
        }
    }
}

extension CrossShardSleeperTests {
    @Test func aCustodianThatMissedTheHintsLearnsTheFailuresAtASyncRoundAndKeepsThemOverARestart() throws {
        // Even shards are kept by peers 0–1, odd shards by peers 2–3. The custodians of the odd shards take no hint
        // (`refusesHints`: each is answered as one refused for the moment, as a peer that was down or busy would
        // miss it) until the sleeper has failed checks in even shards, has stopped, and every even shard is decided,
        // so that no failure is found there after that. Then they take hints again: the custodians of the even shards
        // tell them at their next sync rounds, since neither said it knows as many failures; they gather the shards,
        // void the sleeper's results run alone in theirs, and the job is completed. One of them is then killed and
        // started again from its data folder: what it gathered is read back from its journal, with no gather.
        try SwarmTestSupport.withSwarm("missed-failure-hints", configure: { options in
            options.peers = 4
            options.sleepers = 1
            options.sleeperHonestUnits = 20
            options.sleeperCheatRate = 1
        }) { swarm in
            for index in 2...3 { swarm.peers[index].failureGathers.withLock { $0.refusesHints = true } }
            let manifest = try Self.publishHalved(AdaptiveSwarmTests.adaptiveSpec(units: 512), on: swarm, even: 0...1, odd: 2...3)
            try #require(manifest.shardCount == 4)
            let job = manifest.id
            let index = try #require(swarm.peers.indices.first { swarm.behaviour(of: $0) == .sleeper })
            let sleeper = swarm.peers[index].identity.publicKey
            let even = [0, 2].map { ShardRef(job: job, shard: $0) }
            let odd = [1, 3].map { ShardRef(job: job, shard: $0) }
            var deadline = Date() + 120
            func wait(until done: () -> Bool) {
                while !done(), Date() < deadline { swarm.waitForChange(until: min(deadline, Date() + 0.5)) }
            }
            let failedInEven = { even.contains { swarm.peers[0].custodian.ledgers[$0]?.ownFailures()[sleeper] != nil } }
            wait(until: failedInEven)
            try #require(failedInEven(), "the sleeper failed no check in an even shard")
            swarm.workers[index].stop()
            // Every even shard decided at both its custodians, with the same records: no failure is found there after.
            let equivalent = swarm.options.registry.outputEquivalence(manifest.kernel)
            let evenDecided = {
                even.allSatisfy { ref in
                    let ledgers = swarm.peers[0...1].map { $0.custodian.ledgers[ref] }
                    return Set(ledgers.map { $0.map { Set($0.records.keys) } }).count == 1
                        && ledgers.allSatisfy { $0?.verdicts(now: CustodyClock.now(), equivalent: equivalent).allSatisfy { $0.state != .open } ?? false }
                }
            }
            wait(until: evenDecided)
            try #require(evenDecided(), "the even shards are not decided")
            let told = swarm.peers[0].custody.withLock { custodian in
                Dictionary(uniqueKeysWithValues: even.compactMap { ref in custodian.ledgers[ref].map { (ref, ShardLedger.failureCount($0.ownFailures())) } })
                    .filter { $0.value > 0 }
            }
            let failedAt = Set(even.flatMap { swarm.peers[0].custodian.ledgers[$0]?.ownFailures()[sleeper] ?? [] })
            let before = swarm.peers[0...1].reduce(0) { $0 + $1.failureGatherCounts.hintsSent }
            for index in 2...3 {
                #expect(swarm.peers[index].custodian.jobShards.isEmpty)
                #expect(swarm.peers[index].failureGatherCounts.gathered == 0)
                swarm.peers[index].failureGathers.withLock { $0.refusesHints = false }
            }
            func known(at peer: ColonyPeer) -> [ShardRef: Int] {
                peer.custody.withLock { custodian in Dictionary(uniqueKeysWithValues: told.keys.compactMap { ref in custodian.knownFailureCount(ref).map { (ref, $0) } }) }
            }
            func learned(_ peer: ColonyPeer) -> Bool { told.allSatisfy { ref, count in (known(at: peer)[ref] ?? 0) >= count } }
            deadline = Date() + 60
            wait { swarm.peers[2...3].allSatisfy(learned) }
            let after = swarm.peers[0...1].reduce(0) { $0 + $1.failureGatherCounts.hintsSent }
            print("failures in even shards \(told.sorted { $0.key < $1.key }.map(\.value)); hints sent before \(before), after \(after - before); "
                + "known at peers 2, 3: \(known(at: swarm.peers[2]).values.sorted()), \(known(at: swarm.peers[3]).values.sorted())")
            for index in 2...3 {
                #expect(learned(swarm.peers[index]), "peer \(index) knows \(known(at: swarm.peers[index])) of \(told)")
                for ref in odd where swarm.peers[index].custodian.ledgers[ref] != nil {
                    let foreign = Set(swarm.peers[index].custodian.ledgers[ref]?.foreignFailures[sleeper] ?? [])
                    #expect(failedAt.isSubset(of: foreign), "peer \(index), shard \(ref.shard): \(foreign.sorted()) of \(failedAt.sorted())")
                }
            }
            #expect(after > before)
            // The odd shards' custodians voided what the sleeper ran alone there, and had it computed again.
            let progress = swarm.waitUntilDecided(job, timeout: 120)
            #expect(progress?.validated == 512, "progress: \(String(describing: progress))")
            // Killed and started again: the failures come back from the journal, not from a gather.
            let gathered = swarm.peers[2].custodian.jobShards.mapValues(\.failures)
            swarm.crash(2)
            var configuration = ColonyPeer.Configuration()
            configuration.syncInterval = nil
            configuration.registry = swarm.options.registry
            let restarted = try ColonyPeer(
                dataDirectory: swarm.options.folder.appendingPathComponent("peer-2"), host: LocalSwarm.host(of: 2), configuration: configuration)
            try restarted.start()
            defer { restarted.crash() }
            #expect(restarted.custodian.jobShards.mapValues(\.failures) == gathered)
            #expect(restarted.failureGatherCounts.gathered == 0)
            #expect(!gathered.isEmpty)
            for ref in odd where restarted.custodian.ledgers[ref] != nil {
                let foreign = Set(restarted.custodian.ledgers[ref]?.foreignFailures[sleeper] ?? [])
                #expect(failedAt.isSubset(of: foreign), "shard \(ref.shard) after the restart: \(foreign.sorted()) of \(failedAt.sorted())")
            }
        }
    }
}
