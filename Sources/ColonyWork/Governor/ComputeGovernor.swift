import Foundation
import Synchronization

/// What a worker may do now, as the donor's preferences and the machine's state decide (`ComputeGovernor`).
public struct ComputeAllowance: Sendable, Equatable {
    /// Why the worker may do less than everything now.
    public struct Reason: Sendable, Hashable, CustomStringConvertible {
        /// A short code for the API and metrics: `busy`, `in-use`, `time-window`, `disk-quota`, `network-cap`.
        public let code: String
        /// What the donor reads.
        public let text: String

        public var description: String { text }

        /// Every code a governor gives, in the order it checks them.
        public static let codes = ["in-use", "busy", "time-window", "disk-quota", "network-cap"]
    }

    /// Reasons running kernels are stopped where they are (SIGSTOP) and nothing new starts; empty lets them run.
    public var suspensions: [Reason] = []
    /// Reasons no new unit is leased, though running ones go on; empty lets the worker lease.
    public var leaseHolds: [Reason] = []
    /// Cores kernels may run on now (0 when the machine is in use and the donor lets none run then).
    public var cores: Int
    /// Percent of each core's time kernels may use now.
    public var cpuPercent: Int
    /// Whether someone is using the machine (input within `idleAfterMinutes`).
    public var inUse: Bool

    /// Whether kernels must stop where they are.
    public var isSuspended: Bool { !suspensions.isEmpty }
    /// Whether the worker may lease new units.
    public var mayLease: Bool { suspensions.isEmpty && leaseHolds.isEmpty && cores > 0 }
}

/// What the machine is doing, as `MachineMonitor` samples it.
public struct MachineSample: Sendable, Equatable {
    /// When it was taken.
    public var date: Date
    /// Percent of the machine's CPU time (all cores) used by programs other than this Colony process and its kernel
    /// hosts since the previous sample; nil before there is a previous one.
    public var nonColonyCPUPercent: Double?
    /// Seconds since the last keyboard, mouse or terminal input; nil when no input device can be read (a server),
    /// which counts as idle.
    public var idleSeconds: Double?
    /// Bytes this peer sent and received today (local time).
    public var networkBytesToday: UInt64 = 0
    /// Bytes the data directory's blobs, custody records and checkpoints take; nil when not measured.
    public var diskBytes: UInt64?

    public init(
        date: Date = Date(), nonColonyCPUPercent: Double? = nil, idleSeconds: Double? = nil,
        networkBytesToday: UInt64 = 0, diskBytes: UInt64? = nil
    ) {
        self.date = date
        self.nonColonyCPUPercent = nonColonyCPUPercent
        self.idleSeconds = idleSeconds
        self.networkBytesToday = networkBytesToday
        self.diskBytes = diskBytes
    }
}

/// Turns the donor's preferences and a sample of the machine into what the worker may do (issue 13, Donor
/// preferences), as BOINC's client does with its global preferences:
///
/// - non-Colony CPU use above `suspendAboveNonColonyCPU` suspends kernels; they resume only once it falls
///   `suspendHysteresis` points below, so a load hovering at the threshold does not start and stop them;
/// - input within `idleAfterMinutes` makes the machine in use: `inUseCores` and `inUseCPUPercent` then apply
///   instead of `cores` and `cpuPercent`;
/// - outside every `timeWindows` entry kernels are suspended;
/// - past `diskQuotaGB` or `dailyNetworkMB` no new unit is leased (running units finish and report).
///
/// The preferences can change while the worker runs (`update`). Thread-safe.
public final class ComputeGovernor: Sendable {
    private struct State {
        var preferences: DonorPreferences
        /// Whether the busy suspension is on: set above the threshold, cleared below threshold − hysteresis.
        var busy = false
    }

    /// Cores the worker has slots for.
    public let machineCores: Int
    private let calendar: Calendar
    private let state: Mutex<State>

    /// A governor for a worker with `machineCores` slots; `calendar` reads time windows (local time by default).
    public init(preferences: DonorPreferences, machineCores: Int, calendar: Calendar = .current) {
        self.machineCores = max(1, machineCores)
        self.calendar = calendar
        self.state = Mutex(State(preferences: preferences))
    }

    /// The preferences in force.
    public var preferences: DonorPreferences { state.withLock { $0.preferences } }

    /// Replaces the preferences; the next `allowance` uses them.
    public func update(_ preferences: DonorPreferences) {
        state.withLock {
            $0.preferences = preferences
            if preferences.suspendAboveNonColonyCPU == nil { $0.busy = false }
        }
    }

    /// What the worker may do given `sample`. Call it once per sample: it moves the busy latch.
    public func allowance(for sample: MachineSample) -> ComputeAllowance {
        state.withLock { state in
            let preferences = state.preferences
            let inUse = sample.idleSeconds.map { $0 < Double(preferences.idleAfterMinutes) * 60 } ?? false
            var allowance = ComputeAllowance(
                cores: min(machineCores, preferences.cores ?? machineCores), cpuPercent: preferences.cpuPercent,
                inUse: inUse)
            if inUse {
                if let cores = preferences.inUseCores { allowance.cores = min(allowance.cores, cores) }
                if let percent = preferences.inUseCPUPercent { allowance.cpuPercent = percent }
                if allowance.cores == 0 {
                    allowance.suspensions.append(
                        .init(code: "in-use", text: "the computer is in use and inUseCores is 0"))
                }
            }
            if let threshold = preferences.suspendAboveNonColonyCPU, let used = sample.nonColonyCPUPercent {
                if state.busy {
                    // At or under the resume point, which is never below 0% (preferences refuse a hysteresis that
                    // would put it there; this holds whatever a library caller sets).
                    if used <= Double(max(0, threshold - preferences.suspendHysteresis)) { state.busy = false }
                } else if used > Double(threshold) {
                    state.busy = true
                }
            }
            if state.busy {
                allowance.suspensions.append(
                    .init(
                        code: "busy",
                        text: "other programs use more than \(preferences.suspendAboveNonColonyCPU ?? 0)% of the CPU"))
            }
            if !preferences.timeWindows.isEmpty,
                !preferences.timeWindows.contains(where: { $0.contains(sample.date, calendar: calendar) })
            {
                allowance.suspensions.append(.init(code: "time-window", text: "outside the donor's time windows"))
            }
            if let quota = preferences.diskQuotaGB, let used = sample.diskBytes, Double(used) >= quota * 1e9 {
                allowance.leaseHolds.append(
                    .init(code: "disk-quota", text: "the data directory has reached its \(quota) GB quota"))
            }
            if let cap = preferences.dailyNetworkMB, Double(sample.networkBytesToday) >= cap * 1e6 {
                allowance.leaseHolds.append(
                    .init(code: "network-cap", text: "today's network use has reached its \(cap) MB cap"))
            }
            return allowance
        }
    }
}
