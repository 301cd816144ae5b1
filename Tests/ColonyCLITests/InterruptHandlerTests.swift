import Foundation
import Testing

@testable import ColonyCLI

#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C and SIGTERM stop a command gracefully, whenever they come.
@Suite(.serialized) struct InterruptHandlerTests {
    /// A signal that comes the moment the handler is made is handled, not dropped. (The handler ignored the signal,
    /// then made a dispatch source, which takes it up on another thread: a SIGTERM in between was lost, and a
    /// worker a test stopped as soon as it started ran on for an hour.) SIGUSR2, which nothing else in the test
    /// process handles, stands for SIGINT and SIGTERM.
    @Test func aSignalTheMomentTheHandlerIsMadeIsNotLost() {
        let quiet = Console(writeOutput: { _ in }, writeError: { _ in }, errorIsTerminal: false)
        var lost = 0
        for _ in 0..<200 {
            let stopped = DispatchSemaphore(value: 0)
            let handler = InterruptHandler(onInterrupt: { stopped.signal() }, console: quiet, signals: [SIGUSR2])
            kill(getpid(), SIGUSR2)
            if stopped.wait(timeout: .now() + 5) == .timedOut { lost += 1 }
            handler.remove()
            if lost > 0 { break }
        }
        #expect(lost == 0)
    }
}
