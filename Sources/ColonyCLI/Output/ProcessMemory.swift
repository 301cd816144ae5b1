import Foundation

/// This process's memory as the kernel reports it in /proc/self/status (Linux), in MiB; 0 where unavailable.
enum ProcessMemory {
    /// Resident memory now (VmRSS).
    static var residentMiB: Double { field("VmRSS:") }

    /// The highest resident memory since start or the last `resetPeak` (VmHWM).
    static var peakMiB: Double { field("VmHWM:") }

    /// Resets the kernel's peak mark to the current resident memory.
    static func resetPeak() {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    private static func field(_ key: String) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            return (Double(line.filter(\.isNumber)) ?? 0) / 1024
        }
        return 0
    }
}
