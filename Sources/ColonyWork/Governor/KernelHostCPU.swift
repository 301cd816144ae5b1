import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The CPU time this process's kernel hosts have used, live and ended, so that `MachineMonitor` can tell
/// Colony's CPU use from everyone else's. Every `KernelHostProcess` reports its host here as it starts and ends.
public final class KernelHostCPU: Sendable {
    /// The registry of this process's hosts.
    public static let shared = KernelHostCPU()

    private struct State {
        /// Live hosts: when each started (`/proc/PID/stat` field 22, to tell it from a later process given the same
        /// pid) and the CPU seconds last read (kept for a host whose `/proc` entry is gone before its end is
        /// reported, so its time never drops out of the sum).
        var live: [pid_t: (started: UInt64?, seconds: Double)] = [:]
        /// CPU seconds of hosts that have ended, from `wait4`.
        var ended = 0.0
    }

    private let state = Mutex(State())

    /// Notes a host that has just been started.
    func started(_ pid: pid_t) {
        let started = ProcessCPU.read(pid)?.started
        state.withLock { $0.live[pid] = (started, 0) }
    }

    /// Notes a host that has been reaped after using `seconds` of CPU.
    func ended(_ pid: pid_t, seconds: Double) {
        state.withLock {
            $0.live[pid] = nil
            $0.ended += seconds
        }
    }

    /// CPU seconds all hosts of this process have used, live ones read from `/proc/PID/stat`.
    public func seconds() -> Double {
        let pids = state.withLock { Array($0.live.keys) }
        var read: [pid_t: (started: UInt64, seconds: Double)] = [:]
        for pid in pids { read[pid] = ProcessCPU.read(pid) }
        return state.withLock { state in
            // A reading counts only for the process that was started: a pid reused by another is skipped.
            for (pid, reading) in read {
                guard let host = state.live[pid], host.started == nil || host.started == reading.started else { continue }
                state.live[pid] = (reading.started, reading.seconds)
            }
            return state.ended + state.live.values.reduce(0) { $0 + $1.seconds }
        }
    }
}

/// CPU times from `/proc` (Linux) and `getrusage`.
public enum ProcessCPU {
    /// Clock ticks per second, the unit of `/proc/stat` and `/proc/PID/stat`.
    static let ticksPerSecond = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))

    /// User and system CPU seconds of the process `pid`, or nil when it cannot be read.
    public static func seconds(of pid: pid_t) -> Double? { read(pid)?.seconds }

    /// When the process `pid` started (clock ticks after boot) and its user and system CPU seconds.
    static func read(_ pid: pid_t) -> (started: UInt64, seconds: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm)": state is field 3, utime 14, stime 15, starttime 22; comm may hold spaces, so count
        // from ')'.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let user = Double(fields[11]), let system = Double(fields[12]),
            let started = UInt64(fields[19])
        else { return nil }
        return (started, (user + system) / ticksPerSecond)
    }

    /// User and system CPU seconds of this process, all its threads.
    public static func ownSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// The machine's busy and total CPU seconds summed over cores since boot, from the first line of
    /// `/proc/stat` (busy: user, nice, system, irq, softirq, steal; idle and iowait are not); nil off Linux.
    public static func machine(statText: String? = try? String(contentsOfFile: "/proc/stat", encoding: .utf8))
        -> (busy: Double, total: Double)?
    {
        guard let line = statText?.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let values = line.split(separator: " ").dropFirst().prefix(8).compactMap { Double($0) }
        guard values.count >= 8 else { return nil }
        let idle = values[3] + values[4]
        let total = values.reduce(0, +)
        return ((total - idle) / ticksPerSecond, total / ticksPerSecond)
    }
}
