import ColonyWork
import Testing

@testable import ColonyCLI

@Suite struct ProgressDisplayTests {
    @Test func showsUnitsRateETAAndRunning() {
        let snapshot = EngineSnapshot(
            total: 40, finished: 10, computed: 10, running: [(unit: 10, progress: 0.5), (unit: 11, progress: 0.5)],
            elapsed: .seconds(11))
        // 11 units of work in 11 s: 1 unit/s, 29 units left.
        #expect(
            ProgressDisplay.line(label: "mersenne v1", snapshot: snapshot)
                == "mersenne v1  [#####···············]  10/40 units  1.00 units/s  ETA 0:29  2 running")
    }

    @Test func omitsTheRateUntilThereIsOne() {
        let snapshot = EngineSnapshot(total: 4, finished: 0, computed: 0, running: [], elapsed: .milliseconds(300))
        #expect(ProgressDisplay.line(label: "k v1", snapshot: snapshot) == "k v1  [····················]  0/4 units  0 running")
    }

    @Test func clockFormats() {
        #expect(Format.clock(8) == "0:08")
        #expect(Format.clock(754) == "12:34")
        #expect(Format.clock(3723) == "1:02:03")
        #expect(Format.clock(.infinity) == "--:--")
    }
}
