import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT and SIGTERM into a graceful stop: the first calls `onInterrupt` (the engine saves checkpoints
/// and returns), a second one exits at once with status 130, for a user who does not want to wait.
final class InterruptHandler {
    private let sources: [any DispatchSourceSignal]

    init(onInterrupt: @escaping @Sendable () -> Void, console: Console) {
        let queue = DispatchQueue(label: "colony.signals")
        let count = Counter()
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if count.increment() == 1 {
                    onInterrupt()
                } else {
                    console.note("\nStopped at once; units keep their last periodic checkpoint.")
                    exit(130)
                }
            }
            source.resume()
            return source
        }
    }

    /// Stops handling signals and restores their default action.
    func remove() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    private final class Counter: @unchecked Sendable {
        // Touched only on the serial signal queue.
        private var value = 0
        func increment() -> Int {
            value += 1
            return value
        }
    }
}
