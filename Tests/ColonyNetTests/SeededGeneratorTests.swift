import ColonyNet
import Testing

@Suite struct SeededGeneratorTests {
    @Test func sameSeedSameSequence() {
        var a = SeededGenerator(seed: 1)
        var b = SeededGenerator(seed: 1)
        var c = SeededGenerator(seed: 2)
        let first = (0..<100).map { _ in a.next() }
        #expect(first == (0..<100).map { _ in b.next() })
        #expect(first != (0..<100).map { _ in c.next() })
        #expect(Set(first).count == 100)
    }

    @Test func unitDoublesAreUniform() {
        var generator = SeededGenerator(seed: 0)
        var buckets = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 {
            let value = generator.nextUnitDouble()
            #expect(value >= 0 && value < 1)
            buckets[Int(value * 10)] += 1
        }
        // Each bucket expects 10,000 with a standard deviation of 95.
        #expect(buckets.allSatisfy { abs($0 - 10_000) < 600 }, "\(buckets)")
    }
}
