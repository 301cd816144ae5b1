import ColonyWork
import Foundation

/// The live progress line of a run on a terminal: units done of total, rate, time left, what is running.
///
///     mersenne v1  [##########··········]  16/31 units  1.9 units/s  ETA 0:08  2 running
///
/// Redrawn four times a second on standard error, from the engine's snapshot; cleared when the run ends.
final class ProgressDisplay {
    private let timer: any DispatchSourceTimer
    private let console: Console
    private let label: String

    init(label: String, engine: WorkerEngine, console: Console) {
        self.console = console
        self.label = label
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "colony.progress"))
        timer.schedule(deadline: .now() + .milliseconds(250), repeating: .milliseconds(250))
        timer.setEventHandler { [console, label] in
            guard let snapshot = engine.snapshot else { return }
            let stopping = engine.isStopping ? "  stopping: saving checkpoints…" : ""
            console.writeError("\r\u{1B}[2K" + Self.line(label: label, snapshot: snapshot) + stopping)
        }
        timer.resume()
    }

    /// Stops redrawing and erases the line.
    func finish() {
        timer.cancel()
        console.writeError("\r\u{1B}[2K")
    }

    static func line(label: String, snapshot: EngineSnapshot) -> String {
        let fraction = snapshot.total == 0 ? 1 : (Double(snapshot.total) - snapshot.remainingWork) / Double(snapshot.total)
        var line = "\(label)  \(Format.bar(fraction))  \(snapshot.finished)/\(snapshot.total) units"
        let seconds = snapshot.elapsed.seconds
        if seconds > 1, snapshot.workDone > 0 {
            let rate = snapshot.workDone / seconds
            line += "  " + Format.rate(rate) + " units/s"
            line += "  ETA " + Format.clock(snapshot.remainingWork / rate)
        }
        line += "  \(snapshot.running.count) running"
        return line
    }
}
