import ColonyCore
import ColonyWork
import Foundation

/// The donor's preferences at work (issue 13, Donor preferences): every `governInterval` the control thread
/// samples the machine, asks the `ComputeGovernor` what is allowed, and applies it. A suspension stops running
/// kernels where they are as a pause does (SIGSTOP to kernel hosts, a wait in `context.step` in-process) and gives
/// back unstarted units; fewer cores in use hold the kernels of the slots past them; a lease hold (disk quota,
/// network cap) only stops new leases. `apply` changes the preferences while the worker runs.
extension SwarmWorker {
    /// The preferences the worker follows.
    public var preferences: DonorPreferences { governor.preferences }

    /// Samples of the machine the governor thread has taken.
    public var governSamples: Int { condition.withLock { samplesTaken } }

    /// What the worker may do now, as last decided.
    public var allowance: ComputeAllowance { condition.withLock { allowed } }

    /// Follows `preferences` from now on: the admission lists at the next look for jobs (jobs they now refuse are
    /// dropped, and jobs they no longer refuse are looked at again), the limits and suspensions at once.
    public func apply(_ preferences: DonorPreferences) {
        governor.update(preferences)
        let admission = preferences.admission
        condition.withLock {
            self.admission = admission
            ignored.subtract(declined.elements)
            declined.removeAll()
            for (id, job) in jobs
            where admission.refusal(kernel: job.manifest.kernel, publisherHex: job.manifest.publisher.hex) != nil {
                // Units already leased finish and report; no new ones are leased.
                jobs[id] = nil
            }
            nextDiscovery = .distantPast
        }
        // The last sample again: a second sample so soon after would measure the CPU over a few milliseconds.
        govern(sample: condition.withLock { lastSample })
    }

    /// Samples the machine (on the governor thread only) and applies what the governor allows.
    func govern() {
        let sample = configuration.machineSample?() ?? MachineSample()
        condition.withLock {
            lastSample = sample
            samplesTaken += 1
        }
        govern(sample: sample)
    }

    private func govern(sample: MachineSample) {
        deciding.lock()
        defer { deciding.unlock() }
        let allowance = governor.allowance(for: sample)
        let (before, changed) = condition.withLock { () -> (ComputeAllowance, Bool) in
            let before = allowed
            allowed = allowance
            applyAllowance(allowance)
            return (before, before != allowance)
        }
        signalChange()
        guard changed else { return }
        condition.broadcast()
        wake.signal()
        if before.suspensions != allowance.suspensions {
            log(
                allowance.isSuspended
                    ? "suspended: " + allowance.suspensions.map(\.text).joined(separator: "; ")
                    : "resumed: nothing suspends the kernels now")
        }
        if before.leaseHolds != allowance.leaseHolds, !allowance.leaseHolds.isEmpty {
            log("leasing no new units: " + allowance.leaseHolds.map(\.text).joined(separator: "; "))
        }
    }

    /// Sets the flags the slots read and gives back unstarted units when suspended (called under the lock, or
    /// before the worker starts).
    func applyAllowance(_ allowance: ComputeAllowance) {
        activeCores.store(allowance.cores, ordering: .relaxed)
        cpuPercentNow.store(allowance.cpuPercent, ordering: .relaxed)
        refreshPausedFlag()
        if allowance.isSuspended { giveBackBuffered() }
    }

    /// Whether `slot` may start a unit now (called under the lock).
    func mayStart(slot: Int) -> Bool {
        activity == .running && !allowed.isSuspended && slot < allowed.cores
    }

    /// Whether the kernel on `slot` should be held now: paused, suspended, or past the cores in use.
    func isHeld(slot: Int) -> Bool {
        pausedFlag.load(ordering: .relaxed) || slot >= activeCores.load(ordering: .relaxed)
    }
}
