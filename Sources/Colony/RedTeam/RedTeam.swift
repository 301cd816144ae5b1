import ColonyBlobs
import ColonyCore
import ColonyDHT
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Synchronization

/// Runs one attack against a `LocalSwarm` computing a job: the adversary's own peer and thread, started once the job
/// is published and stopped when it is decided. Peers the attack adds (Sybils, copycats, colluders) are configured
/// before the swarm starts (`Attack.configure`).
public final class RedTeam: @unchecked Sendable {
    public let attack: Attack
    let swarm: LocalSwarm
    let log: @Sendable (String) -> Void
    let tried = Mutex<[String: Int]>([:])
    let observed = Mutex<[String: Int]>([:])
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchGroup()
    /// The adversary's own peer (forger, eavesdropper, flooder), on a network of its own.
    var attacker: ColonyPeer?
    /// Refusals the honest peers had counted before the attack.
    private var refusalsBefore: [String: Int] = [:]
    /// The second job a hostile publisher published (`poison`).
    public internal(set) var poisonedJob: JobID?

    public init(attack: Attack, swarm: LocalSwarm, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.attack = attack
        self.swarm = swarm
        self.log = log
    }

    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    func count(_ what: String, _ n: Int = 1) { tried.withLock { $0[what, default: 0] += n } }
    func observe(_ what: String, _ n: Int = 1) { observed.withLock { $0[what, default: 0] += n } }

    /// Starts the attack on `manifest`'s job.
    public func begin(_ manifest: JobManifest) throws {
        refusalsBefore = refusals()
        switch attack {
        case .sybil, .collude:
            return  // their peers are already working
        case .poison:
            try publishPoison(like: manifest)
            return
        case .forge, .copycat, .flood:
            attacker = try adversaryPeer()
        case .custodian:
            break
        }
        done.enter()
        let thread = Thread { [self] in
            defer { done.leave() }
            var round = 0
            while !isStopping {
                switch attack {
                case .forge: forgeRound(manifest, round: round)
                case .copycat: eavesdropRound(manifest)
                case .custodian: corruptCustodianRound(manifest, round: round)
                case .flood: floodRound(manifest, round: round)
                default: return
                }
                round += 1
                // The adversary acts in rounds; between them the swarm works (a rest, not a wait on anything).
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
        thread.name = "colony.redteam"
        thread.start()
    }

    /// Stops the attack and reports; `verdicts` are the job's re-verified verdicts, `firstValidated` each unit's
    /// output when first seen validated during the run.
    public func end(
        manifest: JobManifest, verdicts: [UnitVerdict], firstValidated: [Int: [UInt8]], registry: KernelRegistry
    ) -> AttackReport {
        stopping.store(true, ordering: .relaxed)
        done.wait()
        attacker?.stop(handOff: false)
        // What the misbehaving workers the attack added did, and how their results were judged.
        for (index, worker) in swarm.workers.enumerated() where !swarm.crashed.contains(index) {
            let behaviour = swarm.behaviour(of: index)
            guard behaviour != .honest else { continue }
            let name = swarm.isSybil(index) ? "Sybil" : behaviour.rawValue
            let statistics = worker.snapshot.statistics
            count("\(name) workers")
            count("units leased to \(name)s", statistics.unitsLeased)
            observe("\(name) results that agreed with a validated quorum", statistics.validated)
            observe("\(name) results counted invalid", statistics.invalid)
        }
        if let poisoned = poisonedJob {
            let tally = swarm.progress(of: poisoned)?.tally ?? VerdictTally()
            observe("hostile units failed", tally.failed)
            observe("hostile units validated", tally.validated)
            observe("kernel errors recorded", swarm.workers.reduce(0) { $0 + $1.snapshot.statistics.kernelErrors })
        }
        var report = AttackReport(attack: attack)
        report.tried = tried.withLock { $0 }
        report.observed = observed.withLock { $0 }
        let after = refusals()
        for (reason, count) in after where count > refusalsBefore[reason] ?? 0 {
            report.refused[reason] = count - (refusalsBefore[reason] ?? 0)
        }
        report.wrongValidated = Self.wrongValidated(manifest: manifest, verdicts: verdicts, registry: registry)
        report.validatedChanged = verdicts.filter { verdict in
            guard let first = firstValidated[verdict.unit] else { return false }
            return verdict.output != first
        }.count
        return report
    }

    /// Validated units whose output is not equivalent to what the kernel computes here.
    public static func wrongValidated(manifest: JobManifest, verdicts: [UnitVerdict], registry: KernelRegistry) -> Int {
        guard let kernel = registry.kernel(named: manifest.kernel) else { return 0 }
        let equivalent = registry.outputEquivalence(manifest.kernel)
        let validated = verdicts.filter { $0.state == .validated }
        let wrong = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: validated.count) { index in
            let verdict = validated[index]
            guard case .inline(let input) = manifest.units[verdict.unit], let output = verdict.output,
                let honest = try? kernel.run(Data(input), context: KernelContext(unit: verdict.unit))
            else { return }
            if !equivalent([UInt8](honest), output) { wrong.withLock { $0 += 1 } }
        }
        return wrong.withLock { $0 }
    }

    /// Refusals counted by every live honest peer: custody, TCP frames, blobs and the DHT.
    func refusals() -> [String: Int] {
        var total = swarm.refusals
        for (index, peer) in swarm.peers.enumerated() where !swarm.crashed.contains(index) {
            for (reason, count) in peer.transportRefusals { total[reason, default: 0] += count }
        }
        return total
    }

    /// A peer for the adversary, joined to the swarm, on a network of its own; it keeps no custody.
    func adversaryPeer() throws -> ColonyPeer {
        var configuration = ColonyPeer.Configuration()
        configuration.blobs.rateLimit = nil
        configuration.blobs.acceptsReplicas = false
        configuration.registry = swarm.options.registry
        configuration.syncInterval = nil
        configuration.oneShot = true
        let peer = try ColonyPeer(
            dataDirectory: swarm.options.folder.appendingPathComponent("adversary"), host: "127.201.0.1",
            configuration: configuration)
        try peer.start()
        peer.join([swarm.peers[0].endpoint], timeout: 10)
        return peer
    }

    /// The job's shards with their current custodians, as the adversary learns them (the manifest is public).
    func shards(_ manifest: JobManifest) -> [(ShardRef, [CustodianMember])] {
        (0..<manifest.shardCount).map { shard in
            let ref = ShardRef(job: manifest.id, shard: shard)
            return (ref, swarm.peers[0].members(of: ref))
        }
    }
}
