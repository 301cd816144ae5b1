import Foundation
import Testing

@testable import Colony

/// How often a worker asks its custodians, scaled to how long its units take: the waits at a shard's end that
/// `bench adaptive` (mersenne-10k, trusted) showed, and the bounds that keep short units from asking without end.
struct WorkerPacingTests {
    @Test func anIdleWorkerAsksAgainWithinATenthOfAUnitOfLongUnitsBoundedBy100And500Milliseconds() {
        // Units of 0.3 s: every ask 0.1 s apart (a flat doubling to 0.5 s left a worker idle a third of a unit).
        #expect(SwarmWorker.idleWait(after: nil, unitSeconds: 0.3) == 0.1)
        #expect(SwarmWorker.idleWait(after: 0.1, unitSeconds: 0.3) == 0.1)
        // Units of 2 s: doubling to 0.2 s.
        #expect(SwarmWorker.idleWait(after: 0.1, unitSeconds: 2) == 0.2)
        #expect(SwarmWorker.idleWait(after: 0.2, unitSeconds: 2) == 0.2)
        // Long units, or none yet: doubling to 0.5 s, as before.
        var wait: TimeInterval?
        var waits: [TimeInterval] = []
        for _ in 0..<5 {
            wait = SwarmWorker.idleWait(after: wait, unitSeconds: nil)
            waits.append(wait!)
        }
        #expect(waits == [0.1, 0.2, 0.4, 0.5, 0.5])
        #expect(SwarmWorker.idleWait(after: 0.4, unitSeconds: 600) == 0.5)
        // Tiny units (tally): never below 0.1 s, since an answer of none costs the custodian the shard's verdicts.
        #expect(SwarmWorker.idleWait(after: nil, unitSeconds: 0.000_01) == 0.1)
    }

    @Test func aWorkerIdleLongerAsksAgainWithinATenthOfTheTimeItHasWaitedUpTo5Seconds() {
        // Tally units, none for 30 s (a vanished worker holds the rest): doubling past 0.1 s, to 3 s.
        #expect(SwarmWorker.idleWait(after: 0.1, unitSeconds: 0.000_01, idleFor: 30) == 0.2)
        #expect(SwarmWorker.idleWait(after: 2.4, unitSeconds: 0.000_01, idleFor: 30) == 3)
        // Never more than 5 s, however long the wait.
        #expect(SwarmWorker.idleWait(after: 4, unitSeconds: 0.000_01, idleFor: 3_600) == 5)
        // A short wait keeps the unit's bound: units of 0.3 s idle for half a second ask every 0.1 s.
        #expect(SwarmWorker.idleWait(after: 0.1, unitSeconds: 0.3, idleFor: 0.5) == 0.1)
        // Asks of a tally worker idle for a 60 s lease period, each waiting what the last allows.
        var wait: TimeInterval?
        var idle = 0.0
        var asks = 0
        while idle < 60 {
            wait = SwarmWorker.idleWait(after: wait, unitSeconds: 0.000_01, idleFor: idle)
            idle += wait!
            asks += 1
        }
        #expect((40...70).contains(asks), "\(asks) asks in 60 s (600 at a flat 0.1 s)")
    }

    @Test func aWorkerQueuesAUnitBehindBusySlotsOnlyWhileAskingCostsMoreThanAFiftiethOfAUnit() {
        // Nothing known yet: it leases ahead, as before.
        #expect(SwarmWorker.prefetches(unitSeconds: nil, leaseSeconds: nil))
        #expect(SwarmWorker.prefetches(unitSeconds: 0.3, leaseSeconds: nil))
        #expect(SwarmWorker.prefetches(unitSeconds: nil, leaseSeconds: 0.002))
        // Units of 0.3 s from a custodian on loopback (2 ms): a slot asks when it is free.
        #expect(!SwarmWorker.prefetches(unitSeconds: 0.3, leaseSeconds: 0.002))
        // A far custodian (100 ms) or short units: leasing ahead hides the wait.
        #expect(SwarmWorker.prefetches(unitSeconds: 0.3, leaseSeconds: 0.1))
        #expect(SwarmWorker.prefetches(unitSeconds: 0.000_5, leaseSeconds: 0.002))
    }

    @Test func aSealAsksForItsPartnersWithinATenthOfAUnitNoOftenerThanTheControlThreadLooks() {
        #expect(SwarmWorker.partnerWait(unitSeconds: 0.3, pollInterval: 0.05) == 0.05)
        #expect(SwarmWorker.partnerWait(unitSeconds: 1, pollInterval: 0.05) == 0.1)
        #expect(SwarmWorker.partnerWait(unitSeconds: 60, pollInterval: 0.1) == 0.25)
        #expect(SwarmWorker.partnerWait(unitSeconds: nil, pollInterval: 0.1) == 0.25)
        #expect(SwarmWorker.partnerWait(unitSeconds: 0.000_01, pollInterval: 0.1) == 0.1)
    }
}
