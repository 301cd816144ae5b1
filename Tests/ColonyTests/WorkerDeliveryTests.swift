import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Synchronization
import Testing

@testable import Colony

/// What a worker does when no custodian answers the records it hands in (a custodian overloaded, a NAT refusing
/// connections, a reply lost on the way back).
@Suite(.serialized) struct WorkerDeliveryTests {
    /// Runs `body` with a custodian node and a worker's host peer for tally jobs, in a folder of its own.
    static func withNodeAndHost(_ name: String, _ body: (ColonyPeer, ColonyPeer, KernelRegistry) throws -> Void) throws {
        let folder = SwarmTestSupport.folder(name)
        defer { try? FileManager.default.removeItem(at: folder) }
        let registry = KernelRegistry([TallyKernel.self])
        let (node, host) = try SwarmTestSupport.nodeAndHost(in: folder, registry: registry, hostTimeout: 0.5)
        defer {
            host.stop(handOff: false)
            node.stop(handOff: false)
        }
        try body(node, host, registry)
    }

    /// Publishes a job of `units` tally units, one replica each, kept by `node` alone, and starts a worker on `host`.
    static func publishAndWork(
        units: Int, lease: Int, node: ColonyPeer, host: ColonyPeer, registry: KernelRegistry
    ) throws -> (JobID, SwarmWorker) {
        let manifest = try SwarmTestSupport.manifest(
            units: units, replicas: 1, quorum: 1, lease: lease, custodians: [SwarmTestSupport.member(node)])
        let job = try node.publish(manifest).job
        let worker = SwarmWorker(peer: host, configuration: SwarmTestSupport.workerConfiguration(registry)) { _ in }
        worker.start()
        return (job, worker)
    }

    /// The first 6 records of `kind` the worker hands in, the only custodian does not answer in time: more than the
    /// 4 tries of one `send`, so the worker must come back after a back-off. `handled`: the custodian handles each all the same (its answer
    /// is what is lost), or never sees it. The worker keeps its results and hands them in again after a back-off,
    /// so every unit is validated under its first lease.
    /// (Before, a commit no custodian answered was dropped: the custodian held the seal, the worker never
    /// revealed, and the unit waited a lease and a lease period more for an output that would never come
    /// (netlab nat-only, 30 of 31 units validated). A reveal no custodian answered was counted as made.)
    @Test(arguments: [(CustodyRecord.Kind.commit, true), (.reveal, false)])
    func resultsNoCustodianAnswersAreHandedInAgain(kind: CustodyRecord.Kind, handled: Bool) throws {
        try Self.withNodeAndHost("delivery") { node, host, registry in
            let seen = Atomic<Int>(0)
            let lost = Atomic<Int>(0)
            node.answerFault = { frame in
                guard CustodyWire.op(frame) == "co_submit", let payload = try? CustodyWire.payload(frame),
                    (try? CustodyRecord(payload))?.kind == kind
                else { return nil }
                // Counted, not timed: the custodian fails the first 6 and answers the rest.
                guard seen.add(1, ordering: .relaxed).newValue <= 6 else { return nil }
                lost.add(1, ordering: .relaxed)
                return handled ? .late(1) : .lost(1)
            }
            let units = 4
            let manifest = try SwarmTestSupport.manifest(
                units: units, replicas: 1, quorum: 1, lease: 30, custodians: [SwarmTestSupport.member(node)])
            let job = try node.publish(manifest).job

            let workerConfiguration = SwarmTestSupport.workerConfiguration(registry)
            let lines = Mutex<[String]>([])
            let worker = SwarmWorker(peer: host, configuration: workerConfiguration) { line in
                lines.withLock { $0.append(line) }
            }
            worker.start()
            defer { worker.stop() }
            // Within the lease: a dropped seal would leave the unit waiting until a lease period after it ends.
            let settled = worker.wait(until: { $0.snapshot.statistics.validated >= units }, timeout: 45)
            let verdicts = node.custodian.verdicts(ShardRef(job: job, shard: 0), now: CustodyClock.now()) ?? []
            #expect(settled, "validated \(worker.snapshot.statistics.validated) of \(units)")
            #expect(verdicts.count == units && verdicts.allSatisfy { $0.state == .validated && $0.attempts == 1 })
            #expect(worker.snapshot.statistics.computed == units)
            // More answers were lost than one `send` tries custodians (4), so the worker had to come back.
            #expect(lost.load(ordering: .relaxed) > 4)
            let what = kind == .commit ? "the seals of" : "the outputs of"
            #expect(lines.withLock { $0.contains { $0.hasPrefix("no custodian answered with \(what)") } })
        }
    }

    /// The custodian refuses the worker's first seals as too late for a decided unit, and its status then says the
    /// unit is open: its view changed in between (adaptive replication: a cheater's results voided, then cleared by
    /// a pass that came in). The worker hands the seals in again and the units are validated under their first
    /// lease. (Before, it gave up without giving the lease back, and the units waited out the lease: bench
    /// adaptive, 1,200 units, 4 peers, sleeper, 62 s.)
    @Test func sealsRefusedByAViewThatChangedAreHandedInAgain() throws {
        try Self.withNodeAndHost("delivery-refused") { node, host, registry in
            let refused = Atomic<Int>(0)
            node.answerFault = { frame in
                guard CustodyWire.op(frame) == "co_submit", let payload = try? CustodyWire.payload(frame),
                    (try? CustodyRecord(payload))?.kind == .commit, refused.add(1, ordering: .relaxed).newValue <= 1
                else { return nil }
                return .refused(CustodyError("unit closed", "unit 0 is already decided"))
            }
            let units = 2
            let (job, worker) = try Self.publishAndWork(units: units, lease: 60, node: node, host: host, registry: registry)
            defer { worker.stop() }
            // A third of the lease: a lease given up without a release holds its units until it ends.
            let settled = worker.wait(until: { $0.snapshot.statistics.validated >= units }, timeout: 20)
            let verdicts = node.custodian.verdicts(ShardRef(job: job, shard: 0), now: CustodyClock.now()) ?? []
            #expect(settled, "validated \(worker.snapshot.statistics.validated) of \(units)")
            #expect(refused.load(ordering: .relaxed) >= 1)
            #expect(verdicts.count == units && verdicts.allSatisfy { $0.state == .validated && $0.attempts == 1 }, "\(verdicts)")
            // Handed in again, not computed again under the same lease handed over a second time: with several
            // custodians a worker asks another first, which has nothing for it, and never gets that lease back.
            let statistics = worker.snapshot.statistics
            #expect(statistics.computed == units, "\(statistics)")
        }
    }

    /// The custodian refuses a commit of several units as too late for one of them, decided, and its status says so
    /// of that one alone; the unit is open again by the time the worker hears (in adaptive replication, a result
    /// run alone and then voided by a failed check of its worker). The worker commits the rest and gives the
    /// decided one back, so the lease does not hold it: every unit is validated well within the lease. (Before, the
    /// decided one was dropped without a release; the lease held it to its end: bench adaptive, careful-sleeper,
    /// 62 s instead of 20.)
    @Test func aUnitRefusedAsDecidedIsGivenBackWhenTheRestIsCommitted() throws {
        try Self.withNodeAndHost("delivery-given-back") { node, host, registry in
            // The unit refused as decided, and whether the status after the refusal has been answered.
            let fault = Mutex<(unit: Int?, answered: Bool)>((nil, false))
            node.answerFault = { frame in
                switch CustodyWire.op(frame) {
                case "co_submit":
                    guard let payload = try? CustodyWire.payload(frame), let record = try? CustodyRecord(payload),
                        record.kind == .commit, record.entries.count > 1
                    else { return nil }
                    let unit = record.entries[0].unit
                    let first = fault.withLock { state in
                        defer { state.unit = state.unit ?? unit }
                        return state.unit == nil
                    }
                    return first ? .refused(CustodyError("unit closed", "unit \(unit) is already decided")) : nil
                case "co_status":
                    // The status asked right after the refusal: that unit decided, the others open.
                    guard let unit = fault.withLock({ state -> Int? in
                        guard let unit = state.unit, !state.answered else { return nil }
                        state.answered = true
                        return unit
                    }), let asked = frame.header["units"]?.list?.compactMap(\.integer)
                    else { return nil }
                    let rows = asked.map { Self.statusRow(unit: Int($0), state: Int($0) == unit ? 1 : 0) }
                    return .answered(CustodyWire.frame("status", payload: .list(rows)))
                default: return nil
                }
            }
            let units = 6
            let (job, worker) = try Self.publishAndWork(units: units, lease: 60, node: node, host: host, registry: registry)
            defer { worker.stop() }
            // A third of the lease: a unit neither sealed nor given back is held until the lease ends.
            let settled = worker.wait(until: { $0.snapshot.statistics.validated >= units }, timeout: 20)
            let ref = ShardRef(job: job, shard: 0)
            let verdicts = node.custodian.verdicts(ref, now: CustodyClock.now()) ?? []
            let refusedUnit = try #require(fault.withLock { $0.unit }, "no commit of several units was refused")
            #expect(settled, "validated \(worker.snapshot.statistics.validated) of \(units)")
            #expect(verdicts.count == units && verdicts.allSatisfy { $0.state == .validated }, "\(verdicts)")
            let released = node.custodian.ledgers[ref]?.records.values.contains { record in
                record.kind == .error && record.worker == host.identity.publicKey && record.entries.contains { $0.unit == refusedUnit }
            }
            #expect(released == true, "no release of unit \(refusedUnit)")
        }
    }

    /// A row of a custodian's status answer, as `co_status` sends it: unit, state (0 open, 1 validated), partners.
    static func statusRow(unit: Int, state: Int) -> BencodeValue {
        .list([.integer(Int64(unit)), .integer(Int64(state)), .integer(0)])
    }

    /// Two workers on two networks, one's clock 2 s ahead of the other's or behind it. A seal counts with a quorum
    /// only when stamped no later than its first reveal, and each stamps its own records: the worker told its
    /// quorum is complete stamps its reveal no earlier than its partner's seal (the status answer carries it).
    /// (Before, the one whose clock ran behind revealed "before" its partner sealed, the pair never counted, and
    /// with no third network every unit waited for good.)
    @Test(arguments: [Int64(2_000), -2_000])
    func workersWhoseClocksDisagreeStillPair(offset: Int64) throws {
        let folder = SwarmTestSupport.folder("skew")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = LocalSwarm.Options(folder: folder)
        options.peers = 2
        options.registry = KernelRegistry([TallyKernel.self])
        options.clockOffsets = [1: offset]
        let swarm = LocalSwarm(options: options)
        try swarm.start()
        defer { swarm.stop() }
        let units = 40
        let spec = SwarmTestSupport.spec(units: units, lease: 10)
        let job = try swarm.publish(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters), shardSize: 64)
        // Wakes on every change of custody; the timeout only matters when the test is already failing.
        let progress = swarm.waitUntilDecided(job, timeout: 60)
        #expect(progress?.validated == units, "progress: \(String(describing: progress))")
    }

    /// The only custodian of a finished job loses the first request for its records, as a custodian too loaded to
    /// answer in time would. The collector asks it again, and every unit is validated in what it collects.
    /// (Before, one lost reply left the collection without that custodian's records: the red team's corrupt
    /// custodian run once collected 32 of 48 validated units after progress had said done.)
    @Test func aCollectorAsksACustodianWhoseReplyWasLostAgain() throws {
        let folder = SwarmTestSupport.folder("collect-again")
        defer { try? FileManager.default.removeItem(at: folder) }
        let registry = KernelRegistry([TallyKernel.self])
        let (node, host) = try SwarmTestSupport.nodeAndHost(in: folder, registry: registry)
        defer {
            host.stop(handOff: false)
            node.stop(handOff: false)
        }
        let units = 4
        let (job, worker) = try Self.publishAndWork(units: units, lease: 30, node: node, host: host, registry: registry)
        defer { worker.stop() }
        #expect(worker.wait(until: { $0.snapshot.statistics.validated >= units }, timeout: 45))
        worker.stop()

        let lost = Atomic<Int>(0)
        node.answerFault = { frame in
            guard CustodyWire.op(frame) == "co_records" else { return nil }
            // Counted, not timed: the first request is lost, the next answered.
            return lost.add(1, ordering: .relaxed).newValue == 1 ? .lost(0) : nil
        }
        let report = try JobCollector.collect(job, via: host, registry: registry, timeout: 5)
        #expect(lost.load(ordering: .relaxed) == 2)
        #expect(report.unreachableShards.isEmpty)
        #expect(report.validated == units, "\(report.tally)")
    }
}
