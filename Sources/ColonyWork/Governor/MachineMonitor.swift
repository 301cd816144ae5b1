import ColonyCore
import Foundation
import Synchronization

/// Samples what the machine is doing for the `ComputeGovernor`: CPU used by programs other than Colony, time since
/// the last input, network bytes today and the data directory's size (issue 13, Donor preferences).
///
/// - CPU: the machine's busy time from `/proc/stat`, less this process's own time (`getrusage`: the worker, its
///   network threads and in-process kernels) and its kernel hosts' (`KernelHostCPU`), over the time since the
///   previous sample, as a percent of all cores.
/// - Input: the latest access time of keyboards and mice (`/dev/input`) and terminals (`/dev/tty*`, `/dev/pts`),
///   as BOINC's client reads it on Linux. None readable (a server) counts as idle.
/// - Network: bytes the peer counted, by local day, kept in a file so that a restart does not reset the day.
/// - Disk: the bytes of files under the given folders, measured at most every `diskInterval` seconds (walking a
///   large blob store is not free).
///
/// One thread samples; the lock only makes the type Sendable.
public final class MachineMonitor: Sendable {
    /// Where the monitor reads what it cannot read from `/proc`.
    public struct Sources: Sendable {
        /// Bytes sent and received since the process started, by every socket of the peer.
        public var networkBytes: @Sendable () -> UInt64 = { 0 }
        /// Folders whose files count against the disk quota.
        public var diskFolders: [URL] = []
        /// A file keeping today's network bytes across restarts; nil keeps them in memory only.
        public var networkFile: URL?
        /// Device files whose access time is the last input.
        public var inputDevices: @Sendable () -> [String] = MachineMonitor.inputDevices
        /// The machine's busy and total CPU seconds (`/proc/stat`).
        public var machineCPU: @Sendable () -> (busy: Double, total: Double)? = { ProcessCPU.machine() }
        /// CPU seconds of this process and its kernel hosts.
        public var colonyCPU: @Sendable () -> Double = { ProcessCPU.ownSeconds() + KernelHostCPU.shared.seconds() }

        public init() {}
    }

    private struct State {
        var machine: (busy: Double, total: Double)?
        var colony = 0.0
        var day = ""
        var networkToday: UInt64 = 0
        var networkSeen: UInt64 = 0
        var networkSaved = Date.distantPast
        var diskBytes: UInt64?
        var diskMeasured = Date.distantPast
    }

    /// Seconds between walks of the disk folders.
    public let diskInterval: Double
    private let sources: Sources
    private let calendar: Calendar
    private let state: Mutex<State>

    /// A monitor reading `sources`; days of the network count are local days in `calendar`.
    public init(sources: Sources, diskInterval: Double = 30, calendar: Calendar = .current) {
        self.sources = sources
        self.diskInterval = diskInterval
        self.calendar = calendar
        var initial = State()
        initial.networkSeen = sources.networkBytes()
        if let file = sources.networkFile, let data = try? AtomicFile.read(file),
            let saved = try? JSONDecoder().decode(SavedDay.self, from: data)
        {
            initial.day = saved.day
            initial.networkToday = saved.bytes
        }
        self.state = Mutex(initial)
    }

    private struct SavedDay: Codable {
        var day: String
        var bytes: UInt64
    }

    /// A sample of the machine now.
    public func sample(now: Date = Date()) -> MachineSample {
        let machine = sources.machineCPU()
        let colony = sources.colonyCPU()
        let network = sources.networkBytes()
        let idle = Self.idleSeconds(devices: sources.inputDevices(), now: now)
        let measureDisk = state.withLock { now.timeIntervalSince($0.diskMeasured) >= diskInterval }
        let disk = measureDisk && !sources.diskFolders.isEmpty ? Self.bytes(under: sources.diskFolders) : nil
        let parts = calendar.dateComponents([.year, .month, .day], from: now)
        let day = String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
        var save: SavedDay?
        let sample = state.withLock { state -> MachineSample in
            var sample = MachineSample(date: now, idleSeconds: idle)
            if let machine, let last = state.machine, machine.total > last.total {
                let busy = machine.busy - last.busy
                let ours = colony - state.colony
                sample.nonColonyCPUPercent = max(0, min(100, (busy - ours) / (machine.total - last.total) * 100))
            }
            state.machine = machine
            state.colony = colony
            if state.day != day {
                state.day = day
                state.networkToday = 0
            }
            state.networkToday += network >= state.networkSeen ? network - state.networkSeen : network
            state.networkSeen = network
            sample.networkBytesToday = state.networkToday
            if now.timeIntervalSince(state.networkSaved) >= 30 {
                state.networkSaved = now
                save = SavedDay(day: day, bytes: state.networkToday)
            }
            if measureDisk {
                state.diskMeasured = now
                state.diskBytes = disk
            }
            sample.diskBytes = state.diskBytes
            return sample
        }
        if let save, let file = sources.networkFile, let data = try? JSONEncoder().encode(save) {
            // Losing the last 30 s of the count on a crash is acceptable; a failed write only loses the count.
            try? AtomicFile.createFolder(file.deletingLastPathComponent(), mode: 0o700)
            try? AtomicFile.write(data, to: file)
        }
        return sample
    }

    /// Keyboards, mice and terminals on this machine.
    @Sendable public static func inputDevices() -> [String] {
        var paths: [String] = []
        let manager = FileManager.default
        for folder in ["/dev/input", "/dev/pts"] {
            for name in (try? manager.contentsOfDirectory(atPath: folder)) ?? []
            where folder == "/dev/pts" ? name != "ptmx" : (name.hasPrefix("event") || name == "mice") {
                paths.append(folder + "/" + name)
            }
        }
        for name in (try? manager.contentsOfDirectory(atPath: "/dev")) ?? []
        where name.hasPrefix("tty") && name.dropFirst(3).allSatisfy(\.isNumber) && name.count > 3 {
            paths.append("/dev/" + name)
        }
        return paths
    }

    /// Seconds since the latest access of any of `devices`; nil when none can be read.
    static func idleSeconds(devices: [String], now: Date) -> Double? {
        var latest: Double?
        for path in devices {
            var info = stat()
            guard stat(path, &info) == 0 else { continue }
            let accessed = Double(info.st_atim.tv_sec) + Double(info.st_atim.tv_nsec) / 1e9
            latest = max(latest ?? accessed, accessed)
        }
        return latest.map { max(0, now.timeIntervalSince1970 - $0) }
    }

    /// Bytes of the regular files under `folders`.
    public static func bytes(under folders: [URL]) -> UInt64 {
        var total: UInt64 = 0
        for folder in folders {
            guard
                let files = FileManager.default.enumerator(
                    at: folder, includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey])
            else { continue }
            for case let file as URL in files {
                guard let values = try? file.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey]),
                    values.isRegularFile == true
                else { continue }
                total += UInt64(values.fileSize ?? 0)
            }
        }
        return total
    }
}
