import ColonyCore
import ColonyWork
import Foundation

/// The adversaries of SECURITY.md, each as an attack `colony demo --attack NAME` runs against a live swarm in this
/// process over real sockets.
public enum Attack: String, CaseIterable, Sendable {
    case forge, sybil, copycat, collude, custodian, poison, flood

    /// What the adversary is and does, one line.
    public var summary: String {
        switch self {
        case .forge: "a forger with fresh keys sends forged leases, results and custodian sets, forged and replayed requests"
        case .sybil: "4 extra worker keys on one network return one agreed wrong output"
        case .copycat: "2 workers seal results they never computed and read every record anyone serves to copy them"
        case .collude: "a fifth of the workers, on distinct networks, return one agreed wrong output"
        case .custodian: "one custodian of each shard leases to invented friends who agree on a wrong output, and withholds records"
        case .poison: "the publisher adds a job whose unit inputs are built to crash, hang or exhaust the kernels"
        case .flood: "a flooder opens connections, sends junk and oversized frames, replica and announce floods"
        }
    }

    /// Colluders `collude` adds to a swarm of `peers` honest peers: a fifth of the whole, at least 2.
    public static func colluders(joining peers: Int) -> Int { max(2, peers / 4) }

    /// Peers the attack adds to the swarm, with their misbehaviour.
    public func configure(_ options: inout LocalSwarm.Options) {
        switch self {
        case .sybil:
            options.sybils += 4
            options.peers += 4
        case .copycat:
            options.copycats += 2
            options.peers += 2
        case .collude:
            let colluders = Self.colluders(joining: options.peers)
            options.colluders += colluders
            options.peers += colluders
        default:
            break
        }
    }
}

/// What an attack did, and what came of it.
public struct AttackReport: Sendable {
    public var attack: Attack
    /// What the adversary tried, by kind.
    public var tried: [String: Int] = [:]
    /// Refusals the honest peers counted during the attack, by reason (custody, TCP, blobs, DHT).
    public var refused: [String: Int] = [:]
    /// Validated units whose output is not what the kernel computes.
    public var wrongValidated = 0
    /// Units whose validated output changed after it was first seen validated.
    public var validatedChanged = 0
    /// What else was observed, by name.
    public var observed: [String: Int] = [:]

    public init(attack: Attack) { self.attack = attack }
}
