import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT and SIGTERM into a graceful stop: the first calls `onInterrupt` (the engine saves checkpoints
/// and returns), a second one exits at once with status 130, for a user who does not want to wait.
///
/// The signal is caught from the moment `init` returns. (The handler used to ignore the signal and then make a
/// dispatch source, which takes the signal up later on another thread: a SIGTERM in between was dropped, and a
/// worker stopped just as it started ran on for an hour.) A C handler, installed at once by `sigaction`, writes
/// the signal's number to a pipe (`SignalPipe`), which a dispatch source reads.
final class InterruptHandler {
    private let listener: Int

    init(onInterrupt: @escaping @Sendable () -> Void, console: Console, signals: [Int32] = [SIGINT, SIGTERM]) {
        let count = Counter()
        listener = SignalPipe.listen(to: signals) {
            if count.increment() == 1 {
                onInterrupt()
            } else {
                console.note("\nStopped at once; units keep their last periodic checkpoint.")
                exit(130)
            }
        }
    }

    /// Stops handling signals; a signal no other handler listens to gets its default action again.
    func remove() {
        SignalPipe.stopListening(listener)
    }

    private final class Counter: @unchecked Sendable {
        // Touched only on the signal pipe's serial queue.
        private var value = 0
        func increment() -> Int {
            value += 1
            return value
        }
    }
}

/// The process's signal pipe: the C handler writes each signal's number to it (`write` is safe in a signal
/// handler), and a dispatch source on one serial queue calls the listeners of that signal.
private enum SignalPipe {
    struct Listener {
        let signals: Set<Int32>
        let action: @Sendable () -> Void
    }

    struct State {
        var listeners: [Int: Listener] = [:]
        var next = 0

        /// Whether any listener takes `number`: the C handler is installed for a signal while one does.
        func listened(_ number: Int32) -> Bool { listeners.values.contains { $0.signals.contains(number) } }
    }

    static let state = Mutex(State())
    static let queue = DispatchQueue(label: "colony.signals")
    /// The pipe, made (and its reading source started) once, before any handler is installed.
    static let opened: Void = {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { fatalError("cannot make the signal pipe: \(String(cString: strerror(errno)))") }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        writeEnd.store(fds[1], ordering: .releasing)
        let source = DispatchSource.makeReadSource(fileDescriptor: fds[0], queue: queue)
        source.setEventHandler { deliver(from: fds[0]) }
        source.resume()
        readSource = source
    }()
    /// Read by the C handler, which must not run lazy initialization.
    static let writeEnd = Atomic<Int32>(-1)
    /// Kept for the life of the process; set once, in `opened`.
    nonisolated(unsafe) private static var readSource: (any DispatchSourceRead)?

    static func listen(to signals: [Int32], _ action: @escaping @Sendable () -> Void) -> Int {
        opened
        let signals = Set(signals)
        return state.withLock { state in
            let id = state.next
            state.next += 1
            for number in signals where !state.listened(number) { install(number, handler: caught) }
            state.listeners[id] = Listener(signals: signals, action: action)
            // A process started by a thread that blocks these signals (a dispatch worker thread blocks nearly all,
            // and a child keeps its parent's mask) would never run the handler: a SIGTERM stayed pending and the
            // worker ran on. Unblocked here, on the thread that waits for the stop (the main thread in `colony`), a
            // signal that came before is handled now.
            var mask = sigset_t()
            sigemptyset(&mask)
            for number in signals { sigaddset(&mask, number) }
            pthread_sigmask(SIG_UNBLOCK, &mask, nil)
            return id
        }
    }

    static func stopListening(_ id: Int) {
        state.withLock { state in
            guard let listener = state.listeners.removeValue(forKey: id) else { return }
            for number in listener.signals where !state.listened(number) { install(number, handler: SIG_DFL) }
        }
    }

    private static func install(_ number: Int32, handler: (@convention(c) (Int32) -> Void)?) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_RESTART
        sigaction(number, &action, nil)
    }

    /// The C handler: the signal's number, one byte, into the pipe (dropped only if 64 KiB of signals wait unread).
    private static let caught: @convention(c) (Int32) -> Void = { number in
        let saved = errno
        var byte = UInt8(truncatingIfNeeded: number)
        _ = write(writeEnd.load(ordering: .acquiring), &byte, 1)
        errno = saved
    }

    private static func deliver(from fd: Int32) {
        var bytes = [UInt8](repeating: 0, count: 64)
        while true {
            let count = read(fd, &bytes, bytes.count)
            guard count > 0 else { return }
            for byte in bytes.prefix(count) {
                let actions = state.withLock { state in
                    state.listeners.sorted { $0.key < $1.key }.filter { $0.value.signals.contains(Int32(byte)) }.map(\.value.action)
                }
                for action in actions { action() }
            }
        }
    }
}
