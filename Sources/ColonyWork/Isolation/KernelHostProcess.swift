import CProcess
import ColonyKernel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The worker's side of one slot's kernel host: starts it, hands it units, relays what it sends, and ends it
/// with SIGKILL when its unit runs past its time or the host breaks the protocol. A host that dies (a trap, an
/// abort, memory exhausted) takes only its unit with it; the next unit starts a new host.
///
/// One slot thread drives an instance; nothing in it is shared.
final class KernelHostProcess {
    /// How often a running unit's stop flag is looked at while waiting on its host.
    static let stopPollMilliseconds: Int32 = 50

    private let isolation: KernelIsolation
    private let settings: KernelHostSettings
    private var child: (pid: pid_t, pipe: KernelHostPipe, toChild: Int32, fromChild: Int32)?

    init(isolation: KernelIsolation, lowPriority: Bool) {
        self.isolation = isolation
        var settings = KernelHostSettings()
        settings.parent = getpid()
        settings.memoryLimitBytes = isolation.memoryLimitBytes
        settings.maxFrameBytes = isolation.maxFrameBytes
        settings.lowPriority = lowPriority
        self.settings = settings
        // A host that dies while the worker writes to it must give EPIPE, not a SIGPIPE that ends the worker.
        signal(SIGPIPE, SIG_IGN)
    }

    deinit { terminate() }

    /// Runs `assignment` in the host; `deadline`, when given, ends it with SIGKILL. Checkpoints go to `hooks`,
    /// progress to `context`.
    func run(
        _ assignment: UnitAssignment, context: KernelContext, hooks: KernelContextHooks,
        deadline: ContinuousClock.Instant?, hold: UnitHold? = nil
    ) -> UnitOutcome {
        let clock = ContinuousClock()
        if child == nil {
            do {
                try spawn()
            } catch {
                return .failed("cannot start a kernel host: \(error)")
            }
        }
        guard let current = child else { return .failed("cannot start a kernel host") }
        do {
            try current.pipe.send(.run(assignment))
        } catch {
            return .failed(reap(reason: "the kernel host took no unit (\(error))"))
        }
        var stopDeadline: ContinuousClock.Instant?
        // Whether this loop stopped the host (held, or resting in its duty cycle), and whether `hold` was told it
        // is held; a host is never left stopped when the unit ends.
        var stopped = false
        var held = false
        // The duty cycle's current window began here (`hold.cpuPercent`).
        var windowStart = clock.now
        defer {
            if stopped, child?.pid == current.pid {
                // Only a host still ours: a reaped one's pid may already name another process.
                kill(current.pid, SIGCONT)
            }
            if held { hold?.held(false) }
        }
        while true {
            let now = clock.now
            if let deadline, now >= deadline {
                return .failed(reap(reason: "the unit ran past its time limit and its kernel host was killed"))
            }
            if stopDeadline == nil, hooks.isStopping() {
                stopDeadline = now + isolation.stopGrace
                try? current.pipe.send(.stop)
            }
            if let stopDeadline, now >= stopDeadline {
                _ = reap(reason: "")
                return .interrupted
            }
            var milliseconds = Self.stopPollMilliseconds
            if let hold {
                // A stopping worker continues a held host, so that it can take its checkpoint and end.
                let holding = hold.isPaused() && stopDeadline == nil
                // Limited to a share of the CPU, the host runs that share of each window and is stopped for the
                // rest, as BOINC throttles its tasks: it holds whether or not the kernel calls `context.step`.
                var resting = false
                let percent = min(100, max(1, hold.cpuPercent?() ?? 100))
                if percent < 100, !holding, stopDeadline == nil {
                    if now - windowStart >= Self.throttleWindow { windowStart = now }
                    let runEnd = windowStart + Self.throttleWindow * percent / 100
                    resting = now >= runEnd
                    let next = resting ? windowStart + Self.throttleWindow : runEnd
                    milliseconds = min(milliseconds, Self.milliseconds(until: next, from: now))
                } else {
                    windowStart = now
                }
                if (holding || resting) != stopped {
                    stopped.toggle()
                    kill(current.pid, stopped ? SIGSTOP : SIGCONT)
                }
                if holding != held {
                    held = holding
                    hold.held(held)
                }
            }
            if let deadline { milliseconds = min(milliseconds, Self.milliseconds(until: deadline, from: now)) }
            let message: KernelHostMessage?
            do {
                message = try current.pipe.receive(timeoutMilliseconds: milliseconds)
            } catch {
                if case .closed = error { return .failed(reap(reason: "its kernel host died")) }
                return .failed(reap(reason: "its kernel host broke the protocol (\(error)) and was killed"))
            }
            switch message {
            case nil: continue
            case .progress(let fraction): context.report(progress: fraction)
            case .checkpoint(let data):
                do {
                    try hooks.saveCheckpoint(data)
                } catch {
                    return .failed(reap(reason: "its checkpoint could not be stored (\(error))"))
                }
            case .output(let data): return .output(data)
            case .failed(let reason): return .failed(reason)
            case .interrupted: return .interrupted
            case .run?, .stop?:
                return .failed(reap(reason: "its kernel host sent a worker's message and was killed"))
            }
        }
    }

    /// The window of the duty cycle that throttles a host: it runs `cpuPercent`% of each second.
    static let throttleWindow = Duration.seconds(1)

    /// Whole milliseconds from `now` until `instant`, rounded up; 0 when it has passed.
    private static func milliseconds(until instant: ContinuousClock.Instant, from now: ContinuousClock.Instant) -> Int32 {
        let (seconds, attoseconds) = (instant - now).components
        let left = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return Int32(max(0, min(Double(Int32.max), left.rounded(.up))))
    }

    /// Ends the host, if one is running, and waits for it.
    func terminate() {
        guard child != nil else { return }
        _ = reap(reason: "")
    }

    private func spawn() throws(KernelHostSpawnError) {
        var toChild: [Int32] = [-1, -1]
        var fromChild: [Int32] = [-1, -1]
        guard colony_pipe_cloexec(&toChild) == 0 else { throw KernelHostSpawnError(action: "pipe", code: errno) }
        guard colony_pipe_cloexec(&fromChild) == 0 else {
            let code = errno
            close(toChild[0])
            close(toChild[1])
            throw KernelHostSpawnError(action: "pipe", code: code)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on the copies, so the host gets exactly these two ends as 0 and 1.
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        let words = [isolation.executable] + isolation.command + settings.arguments
        var environment = ProcessInfo.processInfo.environment
        // A crashing kernel is expected here; the runtime's backtracer would spend seconds on each one.
        if environment["SWIFT_BACKTRACE"] == nil { environment["SWIFT_BACKTRACE"] = "enable=no" }
        let argv = words.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, isolation.executable, &actions, nil, argv, envp)
        close(toChild[0])
        close(fromChild[1])
        guard status == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw KernelHostSpawnError(action: "posix_spawn \(isolation.executable)", code: status)
        }
        let pipe = KernelHostPipe(read: fromChild[0], write: toChild[1], maxFrameBytes: isolation.maxFrameBytes)
        child = (pid, pipe, toChild[1], fromChild[0])
        KernelHostCPU.shared.started(pid)
    }

    /// Kills the host, waits for it, closes its pipes, and describes how it ended after `reason`. A host whose pipe
    /// closed is killed too: it has most likely exited already (SIGKILL leaves its status alone), and one that only
    /// closed its end must not keep the slot waiting.
    private func reap(reason: String) -> String {
        guard let current = child else { return reason }
        child = nil
        kill(current.pid, SIGKILL)
        close(current.toChild)
        close(current.fromChild)
        var status: Int32 = 0
        var usage = rusage()
        while wait4(current.pid, &status, 0, &usage) < 0, errno == EINTR {}
        KernelHostCPU.shared.ended(
            current.pid,
            seconds: Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
                + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6)
        var ending: String
        let signalNumber = status & 0x7f
        if signalNumber == 0 {
            ending = "exit status \((status >> 8) & 0xff)"
        } else {
            let name = strsignal(signalNumber).map { String(cString: $0) } ?? "signal"
            ending = "signal \(signalNumber), \(name)"
        }
        // ru_maxrss is in KiB on Linux.
        let peak = usage.ru_maxrss / 1024
        ending += "; peak memory \(peak) MiB"
        if let limit = isolation.memoryLimitBytes { ending += " of a \(limit >> 20) MiB limit" }
        return "\(reason): \(ending)"
    }
}

/// A kernel host that could not be started.
struct KernelHostSpawnError: Error, CustomStringConvertible {
    var action: String
    var code: Int32

    var description: String { "\(action) failed: \(String(cString: strerror(code)))" }
}
