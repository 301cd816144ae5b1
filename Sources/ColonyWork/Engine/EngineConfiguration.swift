import Foundation

/// How the engine uses the machine: how many cores, how much of each, at what priority.
public struct EngineConfiguration: Sendable, Equatable {
    /// Kernels that may run at once; one per donated core.
    public var cores: Int = ProcessInfo.processInfo.activeProcessorCount
    /// The share of each core's time the kernels may use, in percent, enforced by duty cycle.
    public var cpuLimit: Int = 100
    /// Whether kernel threads run at the lowest scheduling priority (nice 19), so the donor's own work comes first.
    public var lowPriority: Bool = true
    /// How often a running unit saves a checkpoint.
    public var checkpointInterval: Duration = .seconds(30)
    /// The length of one duty cycle (run, then rest) when `cpuLimit` is below 100.
    public var dutyCycleWindow: Duration = .milliseconds(100)
    /// Where units run: in kernel host processes (a crash, memory exhaustion or overrun ends only its unit), or
    /// nil for threads of this process, as tests and benchmarks may ask for.
    public var isolation: KernelIsolation?
    /// How long one isolated unit may run before its host is killed and the unit counted as failed; nil for no
    /// limit. In-process units cannot be killed, so this needs `isolation`.
    public var unitTimeLimit: Duration?
    /// Whether the first failed unit stops the run (`colony run`: its result could never be assembled), or the
    /// run records each failure and goes on with the other units.
    public var stopAtFirstFailure = true

    /// The accepted values of `cpuLimit`.
    public static let cpuLimitRange = 1...100
    /// The accepted values of `cores`.
    public static let coreRange = 1...1024

    /// The defaults: every core, no CPU limit, low priority, a checkpoint every 30 seconds.
    public init() {}

    /// Throws naming the first field that is out of range.
    public func validate() throws(EngineConfigurationError) {
        guard Self.coreRange.contains(cores) else {
            throw EngineConfigurationError(field: "cores", value: "\(cores)", expected: "an integer from 1 to 1024")
        }
        guard Self.cpuLimitRange.contains(cpuLimit) else {
            throw EngineConfigurationError(
                field: "cpuLimit", value: "\(cpuLimit)", expected: "a percentage from 1 to 100")
        }
        guard checkpointInterval > .zero else {
            throw EngineConfigurationError(
                field: "checkpointInterval", value: "\(checkpointInterval)", expected: "a positive duration")
        }
        guard dutyCycleWindow > .zero else {
            throw EngineConfigurationError(
                field: "dutyCycleWindow", value: "\(dutyCycleWindow)", expected: "a positive duration")
        }
        try isolation?.validate()
        if let unitTimeLimit {
            guard unitTimeLimit > .zero else {
                throw EngineConfigurationError(
                    field: "unitTimeLimit", value: "\(unitTimeLimit)", expected: "a positive duration")
            }
            guard isolation != nil else {
                throw EngineConfigurationError(
                    field: "unitTimeLimit", value: "\(unitTimeLimit)", expected: "no limit when units run in-process")
            }
        }
    }
}

/// An engine setting out of range.
public struct EngineConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The setting.
    public var field: String
    /// Its value.
    public var value: String
    /// What would be accepted.
    public var expected: String

    public var description: String { "\(field) is \(value); expected \(expected)" }
}
