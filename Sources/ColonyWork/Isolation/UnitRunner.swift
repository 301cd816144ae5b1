import ColonyKernel
import Foundation

/// One slot's way of running units: on the slot's own thread, or in a kernel host process of its own.
///
/// The engine and the swarm worker give each slot one runner and call it from that slot's thread only. In a
/// host, a unit's crash, memory exhaustion or overrun ends that host alone and comes back as `.failed`; on the
/// thread, only a thrown error does, and a time limit cannot be enforced.
public final class UnitRunner {
    private let host: KernelHostProcess?
    private let cpuLimit: Int
    private let dutyCycleWindow: Duration

    /// A runner isolating units as `isolation` says, or running them in-process when it is nil.
    public init(isolation: KernelIsolation?, lowPriority: Bool, cpuLimit: Int, dutyCycleWindow: Duration) {
        self.host = isolation.map { KernelHostProcess(isolation: $0, lowPriority: lowPriority) }
        self.cpuLimit = cpuLimit
        self.dutyCycleWindow = dutyCycleWindow
    }

    /// Whether units run in a separate process.
    public var isIsolated: Bool { host != nil }

    /// Runs one unit of `kernel`. `hooks` store its checkpoints and say when to stop (and, in-process, pace it);
    /// `context` is the one whose progress displays read; `deadline` ends an isolated unit that overruns; `hold`
    /// stops an isolated unit's host while it says so (in-process, `hooks.pace` is where a unit is held).
    public func run(
        kernel: any ComputeKernel, input: Data, context: KernelContext, hooks: KernelContextHooks,
        deadline: ContinuousClock.Instant? = nil, hold: UnitHold? = nil
    ) -> UnitOutcome {
        guard let host else {
            do {
                return .output(try kernel.run(input, context: context))
            } catch is KernelInterruption {
                return .interrupted
            } catch {
                return .failed("\(error)")
            }
        }
        let kernelType = type(of: kernel)
        let assignment = UnitAssignment(
            kernel: kernelType.name, version: kernelType.version, unit: context.unit, input: input,
            checkpoint: context.checkpoint, checkpointIntervalNanos: Self.nanoseconds(hooks.checkpointInterval),
            cpuLimit: hold?.cpuPercent == nil ? cpuLimit : 100, dutyCycleWindowNanos: Self.nanoseconds(dutyCycleWindow))
        return host.run(assignment, context: context, hooks: hooks, deadline: deadline, hold: hold)
    }

    /// Ends the slot's kernel host, if any.
    public func close() { host?.terminate() }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, attoseconds / 1_000_000_000))
    }
}
