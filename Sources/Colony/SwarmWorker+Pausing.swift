import ColonyWork
import Foundation

/// Pause, resume, and "finish current units then pause", for the donor's page (issue 13, A window for donors).
///
/// Paused, the worker leases no new units, gives back the leased units no slot has started (so other workers take
/// them at once rather than when their leases expire), and stops every running kernel where it is until resumed:
/// an isolated unit's kernel host gets SIGSTOP (and SIGCONT on resume, `UnitHold`); a unit run in-process is held
/// at its next `context.step`, its thread waiting (a kernel that never calls `step` then runs to the end). Either
/// way it uses no CPU and keeps its state in memory. Finishing, the worker leases nothing new and
/// gives back unstarted units too, but lets running units finish and reports them; once none runs it is paused.
/// Held units keep their leases until 5 s (or a tenth of the lease) before they end; a unit still held then is
/// stopped at a checkpoint and given back (`runSlot`), so its lease is released rather than left to expire against
/// the worker, and leased again later it resumes from the checkpoint on disk.
extension SwarmWorker {
    /// What the worker is doing with its slots.
    public struct Activity: Hashable, Sendable, CustomStringConvertible {
        /// The word the page and the API show: "running", "paused" or "finishing".
        public let name: String

        /// Leasing units and running them.
        public static let running = Activity(name: "running")
        /// Leasing nothing; running kernels stopped where they are.
        public static let paused = Activity(name: "paused")
        /// Leasing nothing; running units finish, then the worker is paused.
        public static let finishing = Activity(name: "finishing")

        public var description: String { name }
    }

    /// Running, paused, or finishing its units and then pausing.
    public var state: Activity { condition.withLock { activity } }

    /// Stops leasing, gives back unstarted units and stops running kernels where they are (SIGSTOP to an isolated
    /// unit's host; in-process, a wait at the kernel's next `context.step`).
    public func pause() {
        setActivity(.paused)
    }

    /// Undoes `pause` or `finishThenPause`: stopped kernels go on and the worker leases again.
    public func resume() {
        setActivity(.running)
    }

    /// Stops leasing and gives back unstarted units; running units finish, then the worker is paused.
    public func finishThenPause() {
        condition.withLock {
            guard activity == .running else { return }
            activity = running.isEmpty ? .paused : .finishing
            refreshPausedFlag()
            giveBackBuffered()
        }
        condition.broadcast()
        wake.signal()
        signalChange()
    }

    private func setActivity(_ new: Activity) {
        condition.withLock {
            activity = new
            refreshPausedFlag()
            if new != .running { giveBackBuffered() }
        }
        condition.broadcast()
        wake.signal()
        signalChange()
    }

    /// The kernel's `step` calls this through its pace hook: while paused, the slot's thread waits here (a stop
    /// ends the wait, and the step then checkpoints and interrupts the kernel as on any stop).
    /// Returns whether it held the thread. It lets go at `giveUpAt` too: the unit's `isStopping` then says so, and
    /// the kernel checkpoints at this step and the unit is given back.
    @discardableResult
    func holdWhilePaused(slot: Int, giveUpAt: GiveUpTime) -> Bool {
        guard isHeld(slot: slot) else { return false }
        condition.lock()
        heldSlots.insert(slot)
        signalChange()
        while (activity == .paused || allowed.isSuspended || slot >= allowed.cores) && !isStopping && !giveUpAt.passed {
            _ = condition.wait(until: min(giveUpAt.date ?? .distantFuture, Date() + 60))
        }
        heldSlots.remove(slot)
        condition.unlock()
        signalChange()
        return true
    }

    /// Marks a slot whose kernel host a pause stopped (or let go on).
    func setHeld(slot: Int, _ held: Bool) {
        condition.withLock {
            if held {
                heldSlots.insert(slot)
            } else {
                heldSlots.remove(slot)
            }
        }
        signalChange()
    }

    /// Called under the lock when a slot ends a unit: a finishing worker with nothing left running is paused.
    func pauseIfFinished() {
        guard activity == .finishing, running.isEmpty else { return }
        activity = .paused
        refreshPausedFlag()
    }

    /// Sets the flag kernel steps read without the lock from what it is derived from (called under the lock).
    func refreshPausedFlag() {
        pausedFlag.store(activity == .paused || allowed.isSuspended, ordering: .relaxed)
    }

    /// Hands a leased unit to the slots (called under the lock); while paused or finishing it is given back instead.
    func enqueue(_ task: Task) {
        if activity == .running {
            tasks.append(task)
        } else {
            giveBack(task)
        }
    }

    /// Gives back the units no slot has started (called under the lock).
    func giveBackBuffered() {
        guard !tasks.isEmpty else { return }
        tasks.forEach(giveBack)
        tasks.removeAll()
    }

    /// Ends a unit in a release naming its lease, which the control loop sends with the ticket's other results (as
    /// for a unit whose input could not be fetched): the custodian reopens its slot at once, not counting an attempt.
    private func giveBack(_ task: Task) {
        task.ticket.failures[task.unit] = String(
            decoding: CustodyRecord.releaseReason(of: task.ticket.lease.id), as: UTF8.self)
        wake.signal()
    }
}
