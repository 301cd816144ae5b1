import ColonyCore
import Foundation

/// What a shard's records say about one unit.
public struct UnitVerdict: Sendable, Equatable {
    public enum State: String, Sendable {
        case open, validated, failed
    }

    public var unit: Int
    public var state: State
    /// The output agreed on, when validated.
    public var output: [UInt8]?
    /// The workers whose outputs agreed, when validated.
    public var agreeing: [Ed25519PublicKey]
    /// Leases handed out for the unit (attempts).
    public var attempts: Int
    /// Leases not yet ended by a reveal, an error or their expiry (only when a time is given).
    public var liveLeases: Int
    /// Seals committed.
    public var commits: Int
    /// Results that did not count: reveals that disagree with the validated output or do not match their seal.
    public var invalid: [(worker: Ed25519PublicKey, reason: String)]
    /// Leases a custodian may still hand out now.
    public var openSlots: Int
    /// When validated: for each replica that counted toward the quorum, the custodian that leased it and the
    /// worker's network (DESIGN.md, Trust: independent quorum).
    public var custodians: [Ed25519PublicKey] = []
    public var networks: [[UInt8]] = []

    public static func == (a: UnitVerdict, b: UnitVerdict) -> Bool {
        a.unit == b.unit && a.state == b.state && a.output == b.output && a.agreeing == b.agreeing
            && a.attempts == b.attempts && a.liveLeases == b.liveLeases && a.commits == b.commits
            && a.invalid.map(\.worker) == b.invalid.map(\.worker) && a.openSlots == b.openSlots
            && a.custodians == b.custodians && a.networks == b.networks
    }
}

/// Counts over verdicts: units by state, leases used and results that did not count.
public struct VerdictTally: Sendable, Equatable {
    public var units = 0
    public var validated = 0
    public var failed = 0
    /// Open units with a live lease.
    public var inProgress = 0
    public var attempts = 0
    public var invalid = 0

    public init() {}

    public init(_ verdicts: some Sequence<UnitVerdict>) {
        for verdict in verdicts {
            units += 1
            switch verdict.state {
            case .validated: validated += 1
            case .failed: failed += 1
            case .open: if verdict.liveLeases > 0 { inProgress += 1 }
            }
            attempts += verdict.attempts
            invalid += verdict.invalid.count
        }
    }

    /// Units validated or failed.
    public var decided: Int { validated + failed }

    public static func + (a: VerdictTally, b: VerdictTally) -> VerdictTally {
        var sum = a
        sum.units += b.units
        sum.validated += b.validated
        sum.failed += b.failed
        sum.inProgress += b.inProgress
        sum.attempts += b.attempts
        sum.invalid += b.invalid
        return sum
    }
}

