import Foundation
import Synchronization

/// Keeps one thread's CPU use to a share of wall time: after running for `share × window` it rests in
/// proportion to what it ran. BOINC's client throttles the same way, by suspending and resuming its tasks.
///
/// One instance per engine slot; the kernel's `context.step` calls `pace()` on the slot's thread. The clock and
/// the sleep are injected so tests drive them without waiting.
public final class DutyCycle: Sendable {
    /// Rests are cut into slices so that Ctrl-C is honoured within ~20 ms even at a 1% limit.
    static let restSlice: UInt64 = 20_000_000

    private let runNanos: UInt64
    private let rate: Double
    private let isStopping: @Sendable () -> Bool
    private let now: @Sendable () -> UInt64
    private let sleep: @Sendable (UInt64) -> Void
    /// When the current run phase began. Only the slot's thread touches it; the lock is uncontended.
    private let phaseStart: Mutex<UInt64>

    /// A cycle of `window` in which the thread runs `percent`% of the time; rests end early when stopping.
    public init(
        percent: Int, window: Duration, isStopping: @escaping @Sendable () -> Bool,
        now: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
        sleep: @escaping @Sendable (UInt64) -> Void = DutyCycle.sleep
    ) {
        let (seconds, attoseconds) = window.components
        let windowNanos = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
        self.rate = Double(percent) / 100
        self.runNanos = UInt64(windowNanos * rate)
        self.isStopping = isStopping
        self.now = now
        self.sleep = sleep
        self.phaseStart = Mutex(now())
    }

    /// Rests if this run phase has used its share; returns at once otherwise.
    public func pace() {
        let ran = now() &- phaseStart.withLock { $0 }
        guard ran >= runNanos else { return }
        // Rest in proportion to what was actually run, so a long step between two calls is paid back in full.
        var remaining = UInt64(Double(ran) * (1 - rate) / rate)
        while remaining > 0, !isStopping() {
            let nap = min(remaining, Self.restSlice)
            sleep(nap)
            remaining -= nap
        }
        let restart = now()
        phaseStart.withLock { $0 = restart }
    }

    /// Sleeps the calling thread for `nanoseconds`; the rest phase of the duty cycle is the one place where
    /// the engine sleeps on purpose.
    @Sendable public static func sleep(_ nanoseconds: UInt64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var unslept = timespec()
        while nanosleep(&request, &unslept) != 0, errno == EINTR { request = unslept }
    }
}
