import ColonyKernel
import Foundation
import Synchronization
import Testing

@Suite struct KernelContextTests {
    /// Hooks that stop after `stopAfter` checks and record what was saved.
    final class Recorder: Sendable {
        let checks = Atomic<Int>(0)
        let saved = Mutex<[Data]>([])
        let stopAfter: Int

        init(stopAfter: Int) { self.stopAfter = stopAfter }

        var hooks: KernelContextHooks {
            KernelContextHooks(
                checkpointInterval: .seconds(3600),
                isStopping: { self.checks.add(1, ordering: .relaxed).newValue > self.stopAfter },
                saveCheckpoint: { data in self.saved.withLock { $0.append(data) } })
        }
    }

    struct Counter: Codable, Equatable { var next: Int }

    @Test func stepSavesTheCheckpointThenThrowsWhenStopping() throws {
        let recorder = Recorder(stopAfter: 3)
        let context = KernelContext(unit: 4, hooks: recorder.hooks)
        var evaluated = 0
        for index in 0..<3 {
            try context.step(progress: Double(index) / 10) {
                evaluated += 1
                return Counter(next: index)
            }
        }
        #expect(evaluated == 0, "no checkpoint is taken before one is due")
        let interruption = #expect(throws: KernelInterruption.self) {
            try context.step(progress: 0.3) { Counter(next: 3) }
        }
        #expect(interruption?.unit == 4)
        let saved = recorder.saved.withLock { $0 }
        #expect(saved.count == 1)
        #expect(try JSONDecoder().decode(Counter.self, from: saved[0]) == Counter(next: 3))
        #expect(context.progress == 0.3)
    }

    @Test func dueCheckpointsAreTakenWhileRunning() throws {
        let saved = Mutex<Int>(0)
        let hooks = KernelContextHooks(
            checkpointInterval: .nanoseconds(1), isStopping: { false },
            saveCheckpoint: { _ in saved.withLock { $0 += 1 } })
        let context = KernelContext(unit: 0, hooks: hooks)
        for index in 0..<5 { try context.step(progress: 0) { Counter(next: index) } }
        #expect(saved.withLock { $0 } >= 1)
    }

    @Test func restoreDecodesOrGivesNil() {
        let good = KernelContext(unit: 0, checkpoint: Data(#"{"next":42}"#.utf8))
        #expect(good.restore(Counter.self) == Counter(next: 42))
        let corrupt = KernelContext(unit: 0, checkpoint: Data("not json".utf8))
        #expect(corrupt.restore(Counter.self) == nil)
        #expect(KernelContext(unit: 0).restore(Counter.self) == nil)
    }

    @Test func progressIsClamped() {
        let context = KernelContext(unit: 0)
        context.report(progress: 7)
        #expect(context.progress == 1)
        context.report(progress: .nan)
        #expect(context.progress == 0)
    }

    @Test func paceIsCalledAtEveryStep() throws {
        let paced = Atomic<Int>(0)
        let hooks = KernelContextHooks(
            isStopping: { false }, saveCheckpoint: { _ in }, pace: { paced.add(1, ordering: .relaxed) })
        let context = KernelContext(unit: 0, hooks: hooks)
        for index in 0..<7 { try context.step(progress: 0) { Counter(next: index) } }
        #expect(paced.load(ordering: .relaxed) == 7)
    }
}
