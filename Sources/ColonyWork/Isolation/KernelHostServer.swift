import CProcess
import ColonyKernel
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The child's side of isolation: the worker's own binary started as `kernel-host`, computing the units the
/// worker sends it one at a time, until its pipe closes or its parent dies.
///
/// It reads frames on standard input and writes them on what was standard output; standard output itself is
/// pointed at standard error first, so a kernel that prints cannot corrupt the stream.
public enum KernelHostServer {
    /// Serves units for the kernels in `registry` with the settings in `arguments` (what `KernelHostLaunch`
    /// passes after the command name); returns an exit status only for bad arguments or a broken pipe.
    public static func serve(arguments: [String], registry: KernelRegistry) -> Int32 {
        let settings: KernelHostSettings
        do {
            settings = try KernelHostSettings(arguments: arguments)
        } catch {
            FileHandle.standardError.write(Data("kernel-host: \(error)\n".utf8))
            return 2
        }
        #if os(Linux)
        // Die with the worker: a kernel host with no worker would compute for nobody.
        _ = colony_die_with_parent()
        #endif
        if let parent = settings.parent, getppid() != parent { return 1 }
        // Ctrl-C on a terminal reaches the whole process group, hosts included, and a service manager may signal
        // every process of the worker: the worker decides when its units stop (it sends `stop`, and the host saves
        // a checkpoint), so the host must not die first and turn an orderly stop into a failed unit.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        if let limit = settings.memoryLimitBytes {
            // RLIMIT_DATA counts the heap and private anonymous mappings (Linux 4.7 and later), not shared code,
            // so the limit is what the kernel allocates plus the runtime's own few tens of MiB.
            var bound = rlimit(rlim_cur: rlim_t(limit), rlim_max: rlim_t(limit))
            #if os(Linux)
            let resource = __rlimit_resource_t(RLIMIT_DATA.rawValue)
            #else
            let resource = RLIMIT_DATA
            #endif
            if setrlimit(resource, &bound) != 0 {
                FileHandle.standardError.write(Data("kernel-host: cannot set the memory limit: errno \(errno)\n".utf8))
                return 1
            }
        }
        if settings.lowPriority {
            #if os(Linux)
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
            #endif
        }
        let input = dup(0)
        let output = dup(1)
        guard input >= 0, output >= 0, dup2(2, 1) >= 0 else { return 1 }
        let pipe = KernelHostPipe(read: input, write: output, maxFrameBytes: settings.maxFrameBytes)
        let mailbox = HostMailbox()
        let reader = Thread {
            while true {
                do {
                    switch try pipe.receive(timeoutMilliseconds: -1) {
                    case .run(let assignment)?: mailbox.post(assignment)
                    case .stop?: mailbox.stopping.store(true, ordering: .relaxed)
                    case nil: continue
                    case let other?:
                        FileHandle.standardError.write(Data("kernel-host: unexpected message \(other)\n".utf8))
                        _exit(3)
                    }
                } catch let error as KernelHostPipeError {
                    // The worker closed the pipe (it is done with this host, or gone): nothing left to do.
                    if case .closed = error { _exit(0) }
                    FileHandle.standardError.write(Data("kernel-host: \(error)\n".utf8))
                    _exit(3)
                } catch {
                    _exit(3)
                }
            }
        }
        reader.start()
        while true {
            let assignment = mailbox.next()
            let reply = compute(assignment, registry: registry, pipe: pipe, stopping: mailbox)
            do {
                try pipe.send(reply)
            } catch {
                return 0
            }
        }
    }

    /// Runs one unit; the message that ends it.
    private static func compute(
        _ assignment: UnitAssignment, registry: KernelRegistry, pipe: KernelHostPipe, stopping: HostMailbox
    ) -> KernelHostMessage {
        guard let type = registry.kernelType(named: assignment.kernel), type.version == assignment.version else {
            return .failed("kernel \(assignment.kernel) v\(assignment.version) is not compiled into the kernel host")
        }
        let forwarder = ProgressForwarder(pipe: pipe)
        let isStopping: @Sendable () -> Bool = { stopping.stopping.load(ordering: .relaxed) }
        var pace: @Sendable () -> Void = { forwarder.forward() }
        if assignment.cpuLimit < 100 {
            let cycle = DutyCycle(
                percent: assignment.cpuLimit, window: .nanoseconds(Int64(clamping: assignment.dutyCycleWindowNanos)),
                isStopping: isStopping)
            pace = {
                cycle.pace()
                forwarder.forward()
            }
        }
        let hooks = KernelContextHooks(
            checkpointInterval: .nanoseconds(Int64(clamping: assignment.checkpointIntervalNanos)),
            isStopping: isStopping,
            saveCheckpoint: { data in try pipe.send(.checkpoint(data)) },
            pace: pace)
        let context = KernelContext(unit: assignment.unit, checkpoint: assignment.checkpoint, hooks: hooks)
        forwarder.context = context
        do {
            return .output(try type.init().run(assignment.input, context: context))
        } catch is KernelInterruption {
            return .interrupted
        } catch {
            return .failed("\(error)")
        }
    }
}

/// The settings a kernel host is started with, as command-line words.
public struct KernelHostSettings: Sendable, Equatable {
    /// The worker's process ID; a host whose parent is already another process exits at once.
    public var parent: Int32?
    /// The unit's memory limit (RLIMIT_DATA), if any.
    public var memoryLimitBytes: Int?
    /// The largest frame either side accepts.
    public var maxFrameBytes: Int = 256 << 20
    /// Whether the host lowers itself to nice 19.
    public var lowPriority = false

    /// Defaults: no parent check, no memory limit, 256 MiB frames, normal priority.
    public init() {}

    /// The words `KernelHostServer.serve` reads.
    public var arguments: [String] {
        var words: [String] = []
        if let parent { words += ["--parent", "\(parent)"] }
        if let memoryLimitBytes { words += ["--memory-limit", "\(memoryLimitBytes)"] }
        words += ["--max-frame", "\(maxFrameBytes)"]
        if lowPriority { words.append("--low-priority") }
        return words
    }

    /// Reads `arguments`; throws naming the word it cannot use.
    public init(arguments: [String]) throws(KernelHostProtocolError) {
        var words = arguments[...]
        func number(after flag: String) throws(KernelHostProtocolError) -> Int {
            guard let word = words.popFirst(), let value = Int(word), value > 0 else {
                throw KernelHostProtocolError("\(flag) needs a positive integer")
            }
            return value
        }
        while let word = words.popFirst() {
            switch word {
            case "--parent": parent = Int32(clamping: try number(after: word))
            case "--memory-limit": memoryLimitBytes = try number(after: word)
            case "--max-frame": maxFrameBytes = try number(after: word)
            case "--low-priority": lowPriority = true
            default: throw KernelHostProtocolError("unknown argument '\(word)'")
            }
        }
    }
}

/// The next assignment, handed from the host's reader thread to its main thread, and the stop flag of the unit
/// being computed (cleared by the reader when the next `run` arrives, so a late `stop` never leaks into it).
private final class HostMailbox: Sendable {
    let stopping = Atomic<Bool>(false)
    private let queue = Mutex<[UnitAssignment]>([])
    private let available = DispatchSemaphore(value: 0)

    func post(_ assignment: UnitAssignment) {
        stopping.store(false, ordering: .relaxed)
        queue.withLock { $0.append(assignment) }
        available.signal()
    }

    func next() -> UnitAssignment {
        available.wait()
        return queue.withLock { $0.removeFirst() }
    }
}

/// Sends the running unit's progress to the worker, at most every 100 ms (a frame per `step` would cost more than
/// the step).
private final class ProgressForwarder: @unchecked Sendable {
    // Unchecked: touched only by the host's main thread, which runs the kernel.
    let pipe: KernelHostPipe
    var context: KernelContext?
    private var lastSent: UInt64 = 0

    init(pipe: KernelHostPipe) { self.pipe = pipe }

    func forward() {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now &- lastSent >= 100_000_000, let context else { return }
        lastSent = now
        try? pipe.send(.progress(context.progress))
    }
}
