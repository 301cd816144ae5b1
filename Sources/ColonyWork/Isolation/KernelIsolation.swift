import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How units are kept apart from the worker: the program started as a kernel host, and the limits a unit gets.
///
/// The program is the worker's own binary (every binary built on ColonyCLI answers the hidden `kernel-host`
/// command), so a custom worker's kernels are isolated without anything more from their author.
public struct KernelIsolation: Sendable, Equatable {
    /// The executable started for each slot.
    public var executable: String
    /// The words before the host's settings: the hidden command's name.
    public var command: [String] = ["kernel-host"]
    /// The address-space budget of one unit's host (RLIMIT_DATA), or nil for none.
    public var memoryLimitBytes: Int?
    /// The largest frame either side accepts: bounds unit inputs, outputs and checkpoints.
    public var maxFrameBytes: Int = 256 << 20
    /// How long a unit asked to stop may take to save its checkpoint before its host is killed.
    public var stopGrace: Duration = .seconds(10)

    /// Units run by `executable` started with `command`.
    public init(executable: String, command: [String] = ["kernel-host"]) {
        self.executable = executable
        self.command = command
    }

    /// Isolation by the running program itself (`/proc/self/exe`), or nil when its path cannot be found.
    public static func currentExecutable() -> KernelIsolation? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        buffer[count] = 0
        return KernelIsolation(executable: String(cString: buffer))
    }

    /// A unit's share of the machine's memory when it runs on one of `cores` slots.
    public static func defaultMemoryLimit(cores: Int) -> Int {
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        return max(256 << 20, physical / max(1, cores))
    }

    /// Throws naming the first field out of range.
    public func validate() throws(EngineConfigurationError) {
        guard !executable.isEmpty else {
            throw EngineConfigurationError(field: "isolation.executable", value: "''", expected: "a program path")
        }
        if let memoryLimitBytes, memoryLimitBytes < 64 << 20 {
            throw EngineConfigurationError(
                field: "isolation.memoryLimitBytes", value: "\(memoryLimitBytes)",
                expected: "at least 64 MiB (the runtime alone needs a few tens)")
        }
        guard (1024...(1 << 30)).contains(maxFrameBytes) else {
            throw EngineConfigurationError(
                field: "isolation.maxFrameBytes", value: "\(maxFrameBytes)", expected: "1 KiB to 1 GiB")
        }
    }
}
