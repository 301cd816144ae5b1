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

    private let windowNanos: Double
    private let percent: @Sendable () -> Int
    private let isStopping: @Sendable () -> Bool
    private let now: @Sendable () -> UInt64
    private let sleep: @Sendable (UInt64) -> Void
    /// When the current run phase began. Only the slot's thread touches it; the lock is uncontended.
    private let phaseStart: Mutex<UInt64>
    /// Whether the last `pace` found no limit.
    private let unlimited = Atomic<Bool>(false)

    /// A cycle of `window` in which the thread runs `percent`% of the time; rests end early when stopping.
    public convenience init(
        percent: Int, window: Duration, isStopping: @escaping @Sendable () -> Bool,
        now: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
        sleep: @escaping @Sendable (UInt64) -> Void = DutyCycle.sleep
    ) {
        self.init(percent: { percent }, window: window, isStopping: isStopping, now: now, sleep: sleep)
    }

    /// A cycle whose share is read from `percent` at each phase, so that the donor's limit can change while a
    /// unit runs (the in-use limit taking over, say); 100 or more never rests.
    public init(
        percent: @escaping @Sendable () -> Int, window: Duration, isStopping: @escaping @Sendable () -> Bool,
        now: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds },
        sleep: @escaping @Sendable (UInt64) -> Void = DutyCycle.sleep
    ) {
        let (seconds, attoseconds) = window.components
        self.windowNanos = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
        self.percent = percent
        self.isStopping = isStopping
        self.now = now
        self.sleep = sleep
        self.phaseStart = Mutex(now())
    }

    /// Rests if this run phase has used its share; returns at once otherwise.
    public func pace() {
        let rate = Double(min(100, max(1, percent()))) / 100
        // Unlimited, a step costs one read of the limit (kernels step often). When a limit comes, its first run
        // phase starts then, so the time before it is not owed.
        guard rate < 1 else {
            unlimited.store(true, ordering: .relaxed)
            return
        }
        if unlimited.exchange(false, ordering: .relaxed) {
            restart()
            return
        }
        let ran = now() &- phaseStart.withLock { $0 }
        guard ran >= UInt64(windowNanos * rate) else { return }
        // Rest in proportion to what was actually run, so a long step between two calls is paid back in full.
        var remaining = UInt64(Double(ran) * (1 - rate) / rate)
        // The limit is read again at every slice: raised to 100 (the donor's edit), the rest ends there.
        while remaining > 0, !isStopping(), percent() < 100 {
            let nap = min(remaining, Self.restSlice)
            sleep(nap)
            remaining -= nap
        }
        restart()
    }

    /// Starts a fresh run phase: call it when a unit starts and after the thread was held, so that time the slot
    /// spent idle or held is not taken for time it ran (and paid back with a rest).
    public func restart() {
        let start = now()
        phaseStart.withLock { $0 = start }
    }

    /// Sleeps the calling thread for `nanoseconds`; the rest phase of the duty cycle is the one place where
    /// the engine sleeps on purpose.
    @Sendable public static func sleep(_ nanoseconds: UInt64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var unslept = timespec()
        while nanosleep(&request, &unslept) != 0, errno == EINTR { request = unslept }
    }
}
