import Foundation

/// What a watcher of the worker waits on: a signal at every change of what `snapshot`, `state` and `allowance`
/// show — a unit started or ended, a kernel held or let go, the donor's pause or resume, each decision of the
/// governor — and at the end of every pass of the control thread (at least every `revealPollInterval`), which is
/// where leases, reveals and verdicts are counted.
extension SwarmWorker {
    /// Waits until `predicate` holds of the worker, looking again at each change it signals; false when `timeout`
    /// seconds pass first. `predicate` runs on the caller's thread and may read `snapshot` and the rest.
    public func wait(until predicate: (SwarmWorker) -> Bool, timeout: Double) -> Bool {
        let deadline = Date() + timeout
        while true {
            // The count is read before the predicate, so a change between the two is not missed.
            let seen = changes.withLock { changeCount }
            if predicate(self) { return true }
            changes.lock()
            while changeCount == seen, changes.wait(until: deadline) {}
            let timedOut = changeCount == seen
            changes.unlock()
            if timedOut { return predicate(self) }
        }
    }

    /// Tells watchers something may have changed.
    func signalChange() {
        changes.lock()
        changeCount &+= 1
        changes.broadcast()
        changes.unlock()
    }
}
