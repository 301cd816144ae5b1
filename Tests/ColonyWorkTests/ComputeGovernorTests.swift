import Foundation
import Synchronization
import Testing

@testable import ColonyWork

@Suite("Compute governor") struct ComputeGovernorTests {
    /// A calendar in UTC, so windows read the same wherever the tests run.
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// 2026-11-30 is a Monday; `day` 0 is that Monday.
    static func date(day: Int, _ hour: Int, _ minute: Int = 0) -> Date {
        utc.date(from: DateComponents(year: 2026, month: 11, day: 30 + day, hour: hour, minute: minute))!
    }

    static func governor(_ change: (inout DonorPreferences) -> Void, cores: Int = 4) -> ComputeGovernor {
        var preferences = DonorPreferences()
        change(&preferences)
        return ComputeGovernor(preferences: preferences, machineCores: cores, calendar: utc)
    }

    static func cpu(_ percent: Double?) -> MachineSample { MachineSample(nonColonyCPUPercent: percent) }

    @Test("busy suspends above the threshold and resumes only under threshold − hysteresis")
    func hysteresis() {
        let governor = Self.governor {
            $0.suspendAboveNonColonyCPU = 50
            $0.suspendHysteresis = 10
        }
        let trace: [(Double?, Bool)] = [
            (nil, false), (30, false), (50, false), (51, true), (45, true), (40.1, true), (49, true), (40, false),
            (45, false), (50, false), (80, true), (nil, true), (10, false),
        ]
        for (used, suspended) in trace {
            let allowance = governor.allowance(for: Self.cpu(used))
            #expect(allowance.isSuspended == suspended, "at \(used.map { "\($0)%" } ?? "no sample")")
            #expect(allowance.mayLease == !suspended)
            if suspended { #expect(allowance.suspensions.map(\.code) == ["busy"]) }
        }
    }

    @Test("a hysteresis at or above the threshold is refused, naming the field that was set")
    func hysteresisBelowThreshold() {
        #expect(throws: PreferenceError.self) {
            try EffectivePreferences(file: ["suspendAboveNonColonyCPU": .int(10)], environment: [:])
        }
        do {
            _ = try EffectivePreferences(
                file: ["suspendAboveNonColonyCPU": .int(50)], environment: ["COLONY_SUSPEND_HYSTERESIS": "60"])
            Issue.record("accepted a hysteresis above the threshold")
        } catch {
            #expect(error.source == "COLONY_SUSPEND_HYSTERESIS" && error.field == "suspendHysteresis")
        }
        #expect(
            (try? EffectivePreferences(
                file: ["suspendAboveNonColonyCPU": .int(50), "suspendHysteresis": .int(49)], environment: [:])) != nil)
        // A library caller that sets them anyway still gets kernels back once the load is gone.
        let governor = Self.governor {
            $0.suspendAboveNonColonyCPU = 10
            $0.suspendHysteresis = 10
        }
        #expect(governor.allowance(for: Self.cpu(50)).isSuspended)
        #expect(!governor.allowance(for: Self.cpu(0)).isSuspended)
    }

    @Test("without a threshold no load suspends, and clearing it lets suspended kernels go on")
    func noThreshold() {
        let governor = Self.governor { $0.suspendAboveNonColonyCPU = 20 }
        #expect(governor.allowance(for: Self.cpu(100)).isSuspended)
        var preferences = governor.preferences
        preferences.suspendAboveNonColonyCPU = nil
        governor.update(preferences)
        #expect(!governor.allowance(for: Self.cpu(100)).isSuspended)
    }

    @Test("in use, the in-use cores and CPU % apply; idle, or with no input device, the others")
    func inUseLimits() {
        let governor = Self.governor(
            {
                $0.cores = 3
                $0.cpuPercent = 90
                $0.inUseCores = 1
                $0.inUseCPUPercent = 25
                $0.idleAfterMinutes = 5
            }, cores: 4)
        let busy = governor.allowance(for: MachineSample(idleSeconds: 60))
        #expect(busy.inUse && busy.cores == 1 && busy.cpuPercent == 25 && !busy.isSuspended)
        let idle = governor.allowance(for: MachineSample(idleSeconds: 301))
        #expect(!idle.inUse && idle.cores == 3 && idle.cpuPercent == 90)
        let server = governor.allowance(for: MachineSample(idleSeconds: nil))
        #expect(!server.inUse && server.cores == 3)
    }

    @Test("inUseCores 0 suspends while the computer is in use")
    func noCoresInUse() {
        let governor = Self.governor { $0.inUseCores = 0 }
        let allowance = governor.allowance(for: MachineSample(idleSeconds: 1))
        #expect(allowance.suspensions.map(\.code) == ["in-use"])
        #expect(!allowance.mayLease)
        #expect(!governor.allowance(for: MachineSample(idleSeconds: 3600)).isSuspended)
    }

    @Test("cores never exceed the worker's slots")
    func coresCapped() {
        #expect(Self.governor({ $0.cores = 64 }, cores: 2).allowance(for: MachineSample()).cores == 2)
        #expect(Self.governor({ $0.cores = nil }, cores: 2).allowance(for: MachineSample()).cores == 2)
    }

    @Test("outside every time window kernels are suspended; a window may cross midnight")
    func timeWindows() {
        let governor = Self.governor {
            $0.timeWindows = [TimeWindow(days: "mon-fri", from: "18:00", to: "08:00")!]
        }
        let cases: [(Date, Bool)] = [
            (Self.date(day: 0, 17, 59), false),  // Monday afternoon
            (Self.date(day: 0, 18), true),  // Monday evening
            (Self.date(day: 1, 7, 59), true),  // Tuesday morning, in Monday's night
            (Self.date(day: 1, 8), false),
            (Self.date(day: 5, 7), true),  // Saturday morning: Friday's night
            (Self.date(day: 5, 20), false),  // Saturday evening
            (Self.date(day: 0, 7), false),  // Monday morning: Sunday had no window
        ]
        for (date, inside) in cases {
            let allowance = governor.allowance(for: MachineSample(date: date))
            #expect(allowance.isSuspended == !inside, "at \(date)")
            if !inside { #expect(allowance.suspensions.map(\.code) == ["time-window"]) }
        }
    }

    @Test("a window with from equal to to is the whole of its days")
    func wholeDays() {
        let weekend = TimeWindow(days: "sat,sun", from: "00:00", to: "00:00")!
        #expect(weekend.contains(weekday: 5, minute: 0) && weekend.contains(weekday: 6, minute: 1439))
        #expect(!weekend.contains(weekday: 0, minute: 600))
    }

    @Test("past the disk quota or the daily network cap no unit is leased, but nothing is suspended")
    func leaseHolds() {
        let governor = Self.governor {
            $0.diskQuotaGB = 1
            $0.dailyNetworkMB = 100
        }
        #expect(governor.allowance(for: MachineSample(networkBytesToday: 99_000_000, diskBytes: 999_999_999)).mayLease)
        let full = governor.allowance(for: MachineSample(networkBytesToday: 100_000_000, diskBytes: 1_000_000_000))
        #expect(full.leaseHolds.map(\.code) == ["disk-quota", "network-cap"])
        #expect(!full.isSuspended && !full.mayLease)
        // Unmeasured disk holds nothing.
        #expect(governor.allowance(for: MachineSample(diskBytes: nil)).mayLease)
    }
}

@Suite("Machine monitor") struct MachineMonitorTests {
    final class Feed: Sendable {
        let machine = Mutex<(busy: Double, total: Double)?>(nil)
        let colony = Mutex(0.0)
        let network = Mutex<UInt64>(0)
    }

    static func monitor(_ feed: Feed, file: URL? = nil, devices: [String] = []) -> MachineMonitor {
        var sources = MachineMonitor.Sources()
        sources.machineCPU = { feed.machine.withLock { $0 } }
        sources.colonyCPU = { feed.colony.withLock { $0 } }
        sources.networkBytes = { feed.network.withLock { $0 } }
        sources.networkFile = file
        sources.inputDevices = { devices }
        return MachineMonitor(sources: sources, calendar: ComputeGovernorTests.utc)
    }

    @Test("non-Colony CPU is the machine's busy time less Colony's, over the time since the last sample")
    func nonColonyCPU() {
        let feed = Feed()
        let monitor = Self.monitor(feed)
        feed.machine.withLock { $0 = (busy: 100, total: 400) }
        #expect(monitor.sample().nonColonyCPUPercent == nil)   // nothing to compare with yet
        // 2 cores × 1 s: 2 s of CPU time, of which 1.5 s busy and Colony used 1 s.
        feed.machine.withLock { $0 = (busy: 101.5, total: 402) }
        feed.colony.withLock { $0 = 1 }
        #expect(monitor.sample().nonColonyCPUPercent == 25)
        // Colony's own kernels at full load: nothing of it is another program's.
        feed.machine.withLock { $0 = (busy: 103.5, total: 404) }
        feed.colony.withLock { $0 = 3 }
        #expect(monitor.sample().nonColonyCPUPercent == 0)
    }

    @Test("network bytes count by day and survive a restart through the file")
    func networkDays() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-monitor-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("network-today.json")
        let feed = Feed()
        feed.network.withLock { $0 = 5_000 }   // before the monitor: not today's worker's
        let monitor = Self.monitor(feed, file: file)
        let monday = ComputeGovernorTests.date(day: 0, 10)
        feed.network.withLock { $0 = 8_000 }
        #expect(monitor.sample(now: monday).networkBytesToday == 3_000)
        // A restart the same day starts from what the file kept.
        let feed2 = Feed()
        let restarted = Self.monitor(feed2, file: file)
        feed2.network.withLock { $0 = 500 }
        #expect(restarted.sample(now: monday + 60).networkBytesToday == 3_500)
        // The next day starts from zero.
        feed2.network.withLock { $0 = 700 }
        #expect(restarted.sample(now: ComputeGovernorTests.date(day: 1, 0, 1)).networkBytesToday == 200)
    }

    @Test("idle time is the time since the latest access of an input device; none readable is unknown")
    func idleTime() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-input-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let device = folder.appendingPathComponent("event0")
        try Data().write(to: device)
        // Accessed 120 s ago.
        let then = Date().timeIntervalSince1970 - 120
        var times = [
            timespec(tv_sec: Int(then), tv_nsec: 0), timespec(tv_sec: Int(then), tv_nsec: 0),
        ]
        #expect(utimensat(AT_FDCWD, device.path, &times, 0) == 0)
        let idle = try #require(MachineMonitor.idleSeconds(devices: [device.path, "/nonexistent"], now: Date()))
        #expect(idle >= 119 && idle < 600)
        #expect(MachineMonitor.idleSeconds(devices: ["/nonexistent"], now: Date()) == nil)
    }

    @Test("disk use is the bytes of the files under the folders")
    func diskBytes() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-disk-\(UUID())")
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("a/b"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(count: 1000).write(to: folder.appendingPathComponent("a/one"))
        try Data(count: 234).write(to: folder.appendingPathComponent("a/b/two"))
        #expect(MachineMonitor.bytes(under: [folder, folder.appendingPathComponent("missing")]) == 1234)
    }

    @Test("/proc/stat's first line gives busy and total CPU seconds")
    func procStat() throws {
        let text = "cpu  100 20 30 800 50 5 5 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
        let read = try #require(ProcessCPU.machine(statText: text))
        let ticks = ProcessCPU.ticksPerSecond
        #expect(read.busy == 160 / ticks && read.total == 1010 / ticks)
        #expect(ProcessCPU.machine(statText: "garbage") == nil)
    }
}
