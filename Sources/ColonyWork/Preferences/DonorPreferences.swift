import ColonyKernel
import Foundation

/// What a donor allows Colony to do with their machine, as kept in `DATA/preferences.json`.
///
/// Names and defaults follow BOINC's global preferences where one fits (`max_ncpus`, `cpu_usage_limit`,
/// `ram_max_used_idle_pct`, `disk_max_used_gb`, `daily_xfer_limit_mb`, `start_hour`/`end_hour`); a nil limit is
/// no limit. Values are checked as they are set (`PreferenceField.fields`), so a value of this type is valid.
public struct DonorPreferences: Sendable, Equatable {
    /// Cores to compute on; nil uses every core (BOINC `max_ncpus`).
    public var cores: Int?
    /// Percent of each core's time kernels may use, by duty cycle (BOINC `cpu_usage_limit`).
    public var cpuPercent = 100
    /// Suspend kernels while programs other than Colony use more than this percent of the CPU; nil never does.
    public var suspendAboveNonColonyCPU: Int?
    /// Percentage points below `suspendAboveNonColonyCPU` that non-Colony use must fall to before kernels resume,
    /// so that a load hovering at the threshold does not start and stop them every second (BOINC #6483).
    public var suspendHysteresis = 10
    /// Minutes without keyboard, mouse or terminal input after which the computer counts as idle (BOINC
    /// `idle_time_to_run`); until then it is in use, and the `inUse` limits apply.
    public var idleAfterMinutes = 3
    /// Cores to compute on while the computer is in use; nil is `cores`, 0 suspends kernels while it is.
    public var inUseCores: Int?
    /// Percent of each core's time while the computer is in use; nil is `cpuPercent`.
    public var inUseCPUPercent: Int?
    /// Fraction of the machine's RAM all units together may use; each unit gets this share of RAM / cores.
    /// 0.9 is BOINC's `ram_max_used_idle_pct`.
    public var memoryFraction = 0.9
    /// Gigabytes blobs, custody records and checkpoints may take; nil is no quota (BOINC `disk_max_used_gb`).
    public var diskQuotaGB: Double?
    /// Megabytes sent and received per day; nil is no cap (BOINC `daily_xfer_limit_mb`).
    public var dailyNetworkMB: Double?
    /// When kernels may run; empty is always.
    public var timeWindows: [TimeWindow] = []
    /// Publisher keys (hex Ed25519) whose jobs are worked on; empty allows every publisher not blocked.
    public var allowedPublishers: [String] = []
    /// Publisher keys (hex Ed25519) whose jobs are never worked on.
    public var blockedPublishers: [String] = []
    /// Kernels that are run; empty allows every compiled-in kernel not blocked.
    public var allowedKernels: [String] = []
    /// Kernels that are never run.
    public var blockedKernels: [String] = []

    /// The defaults.
    public init() {}

    /// Which jobs these preferences let a worker take.
    public var admission: JobAdmission {
        JobAdmission(
            allowedPublishers: Set(allowedPublishers), blockedPublishers: Set(blockedPublishers),
            allowedKernels: Set(allowedKernels), blockedKernels: Set(blockedKernels))
    }

    /// The memory one unit may use on a machine with `physicalMemory` bytes running `cores` units at once:
    /// `memoryFraction` of RAM shared among the cores, at least 256 MiB.
    public func unitMemoryLimit(physicalMemory: UInt64, cores: Int) -> Int {
        let share = Double(physicalMemory) * memoryFraction / Double(max(1, cores))
        return max(256 << 20, Int(share))
    }
}
