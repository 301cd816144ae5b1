import ColonyCore

// MARK: Rechecking cold quorums (issue 14)
//
// A cold quorum is a unit validated by a quorum none of whose workers was trusted when leased (each lease claims
// less than `trustAfter`). Before anyone in a shard is trusted, the pairing rule cannot keep two colluders among
// new keys apart (`ShardLedger.pairing`): they validate their agreed wrong output on the up to `maxSharedUntrusted`
// units they share (bench adaptive, colluders: 4 to 16 wrong outputs in 20,000 at 20 peers). A colluder that returns
// wrong outputs is outvoted whenever it meets an honest worker, though, and the pairing rule makes it meet them.
//
// - A cold quorum is in doubt when a worker of it failed a check in the shard (outvoted by a quorum it was sealed
//   alongside, before the quorum or after) and every other worker of it failed one too or never agreed with
//   anyone outside the quorum: nothing vouches for it then. In doubt, its workers' results no longer count, and the
//   unit takes a fresh quorum from other workers, under the same rules as any other (independent custodians and
//   networks, the pairing rule, seals made after a result was out never pairing with it). The fresh quorum
//   decides; a member whose result differs from it is outvoted, one whose result matches agrees.
// - While the fresh quorum is not in, the unit is open, and its members have no fact on it.
// - A worker counts as trusted in a quorum when its lease claimed trust and the records bear the claim out (its
//   standing at the lease, counting failures decided since), not on the claim alone.
// - Deterministic, a pure function of the records: the failures that put quorums in doubt are those of the quorums'
//   own verdicts (failures a recheck finds put no further quorum in doubt: colluders that always cheat failed
//   there already); the walk is then made again with the verdicts of the units in doubt, and again while that
//   finds more: a colluder whose first passes were with its fellow stood trusted on them, partnered its fellow as a
//   trusted worker, and that quorum counted as warm until those passes were taken away (bench adaptive, 8 peers).
// - Not one failure alone: a sleeper's cold quorums from its honest days were with honest workers, who never fail
//   and agree with others too, and stand (doubting them cost their replicas again, and took the trust its partners
//   earned with it away until they were in). An honest swarm pays nothing: honest workers are outvoted only by
//   colluders.
// - What it does not stop: a colluder that cheats only on units it knows a fellow holds (colluders can tell each
//   other out of band) is never outvoted, and its cold quorums stand; the pairing rule's cap bounds them
//   (SECURITY.md). What makes a quorum cold is its leases' claims: the custodians' word, as for the leasing rules.

extension ShardLedger {
    /// The reason a cold quorum's worker is outvoted by the fresh quorum that rechecked it.
    public static let outvotedOnRecheck = "disagrees with the fresh quorum that rechecked its cold quorum"

    /// The cold quorums in doubt in `state`'s walk: unit → the quorum's workers. A cold quorum is in doubt when a
    /// worker of it failed a check and every other one either failed too or never agreed with anyone outside it.
    /// Two colluders who met no honest worker but each other pass each other's results all along: the one never
    /// outvoted had no witness but its fellow (bench adaptive, trusted-colluders: 20 wrong outputs in one shard,
    /// where the two had shared 20 units before anyone else came).
    ///
    /// The failures that count are results outvoted by a quorum they were sealed alongside (before the quorum's
    /// first reveal). A result sealed after a quorum was out is no witness against it: the replicas that recheck a
    /// cold quorum are outvoted by it in this walk, and counting that put their own cold quorums in doubt in turn.
    /// Nor is a failed closing check: one cheater drawn as the closing replica of two honest workers could make both
    /// "failed" and their quorums doubted (suspected in AdaptiveSwarmTests' sleeper run that stalled under CI load
    /// at 1,190 of 1,200).
    func coldQuorumsInDoubt(_ state: AdaptiveState) -> [Int: [Who]] {
        var failed: Set<Who> = []
        for case let base? in validated {
            let records = perUnit[base.unit - units.lowerBound]
            let members = base.agreeing.map(Who.init)
            let firstReveal = records.reveals.filter { members.contains($0.worker) }.map(\.time).min() ?? .max
            for entry in base.invalid where entry.reason != Self.sealedLate {
                let worker = Who(entry.worker)
                if let seal = records.seal(of: worker), seal.time < firstReveal { failed.insert(worker) }
            }
        }
        guard !failed.isEmpty else { return [:] }
        // Each worker's partners in the quorums' own verdicts: a member who never agreed with anyone outside a
        // quorum has nobody to vouch for it there. (Counting only quorums not in doubt yet, honest workers lost
        // partners with every walk and their quorums came into doubt in turn: AdaptiveSwarmTests, new colluders,
        // 2,996 attempts for 600 units under load.)
        var partners: [Who: Set<Who>] = [:]
        for case let base? in validated {
            let members = base.agreeing.map(Who.init)
            for member in members { partners[member, default: []].formUnion(members.filter { $0 != member }) }
        }
        var doubted: [Int: [Who]] = [:]
        for case let base? in validated {
            let members = base.agreeing.map(Who.init)
            guard members.contains(where: failed.contains),
                members.allSatisfy({ failed.contains($0) || partners[$0, default: []].isSubset(of: members) })
            else { continue }
            let records = perUnit[base.unit - units.lowerBound]
            guard members.allSatisfy({ !isWarm($0, records, state) }) else { continue }
            doubted[base.unit] = members
        }
        return doubted
    }

    /// True when `worker`'s lease of a unit trusted it and the records bear the claim out: its standing at the
    /// lease (failures decided since included) reaches the claim, as for a result accepted alone. A claim made while
    /// the worker's failures were still undecided is the custodian's word only: colluders that passed each other's
    /// results while their outvoted ones waited for third replicas claimed 14 and more, partnered as trusted
    /// workers, and their quorums counted as warm (bench adaptive, 8 peers, colluders: 8 to 12 wrong in 1 run of 4).
    func isWarm(_ worker: Who, _ records: UnitRecords, _ state: AdaptiveState) -> Bool {
        guard let lease = records.vouching(worker), lease.claim >= policy.trustAfter else { return false }
        let facts = state.facts[worker] ?? []
        return Self.standing(facts, at: lease.time) + prior(lease, worker, unbroken: Self.unbroken(facts, at: lease.time)) >= lease.claim
    }

    /// The verdict of `unit`, a cold quorum of `members` in doubt: that of the other workers' results; once
    /// validated, each member agrees or is outvoted by its output.
    func recheck(_ unit: Int, members: [Who], now: Int64?) -> UnitVerdict {
        var verdict = computeVerdict(unit: unit, now: now, equivalent: equivalence, excluding: members)
        guard verdict.state == .validated, let output = verdict.output else { return verdict }
        let records = perUnit[unit - units.lowerBound]
        for member in members {
            guard let reveal = records.reveals.first(where: { $0.worker == member }), let lease = records.vouching(member) else { continue }
            if equivalence(reveal.output, output) {
                verdict.agreeing.append(name(member))
                verdict.custodians.append(name(lease.custodian))
                verdict.networks.append(lease.networkBytes)
            } else {
                verdict.invalid.append((name(member), Self.outvotedOnRecheck))
            }
        }
        return verdict
    }

    /// The workers whose results no longer count on `unit` (a cold quorum in doubt); empty for any other unit.
    func setAside(_ unit: Int) -> [Who] {
        guard policy.isAdaptive else { return [] }
        return adaptive.rechecked[unit] ?? []
    }
}
