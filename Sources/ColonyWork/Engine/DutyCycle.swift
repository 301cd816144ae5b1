import Foundation
import Synchronization

/// Keeps one thread's CPU use to a share of wall time: after running for `share × window` it rests for the
/// rest of the window. BOINC's client throttles the same way, by suspending and resuming its tasks.
///
/// One instance per engine slot; the kernel's `context.step` calls `pace()` on the slot's thread.
final class DutyCycle: Sendable {
    private let runNanos: UInt64
    private let rate: Double
    private let isStopping: @Sendable () -> Bool
    /// When the current run phase began (uptime nanoseconds). Only the slot's thread touches it; the lock is
    /// uncontended and makes that safe to state.
    private let phaseStart: Mutex<UInt64>

    /// A cycle of `window` in which the thread runs `percent`% of the time; rests end early when stopping.
    init(percent: Int, window: Duration, isStopping: @escaping @Sendable () -> Bool) {
        let (seconds, attoseconds) = window.components
        let windowNanos = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
        self.rate = Double(percent) / 100
        self.runNanos = UInt64(windowNanos * rate)
        self.isStopping = isStopping
        self.phaseStart = Mutex(DispatchTime.now().uptimeNanoseconds)
    }

    /// Rests if this run phase has used its share; returns at once otherwise.
    func pace() {
        let now = DispatchTime.now().uptimeNanoseconds
        let ran = phaseStart.withLock { now &- $0 }
        guard ran >= runNanos else { return }
        // Rest in proportion to what was actually run, so a long step between two calls is paid back in full.
        var remaining = UInt64(Double(ran) * (1 - rate) / rate)
        // Rests are cut into slices so that Ctrl-C is honoured within ~20 ms even at a 1% limit.
        let slice: UInt64 = 20_000_000
        while remaining > 0, !isStopping() {
            let nap = min(remaining, slice)
            var request = timespec(tv_sec: Int(nap / 1_000_000_000), tv_nsec: Int(nap % 1_000_000_000))
            var unslept = timespec()
            while nanosleep(&request, &unslept) != 0, errno == EINTR { request = unslept }
            remaining -= nap
        }
        phaseStart.withLock { $0 = DispatchTime.now().uptimeNanoseconds }
    }
}
