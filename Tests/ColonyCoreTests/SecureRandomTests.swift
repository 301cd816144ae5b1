import ColonyCore
import Foundation
import Testing

@Suite("SecureRandom")
struct SecureRandomTests {
    @Test func lengths() {
        #expect(SecureRandom.bytes(count: 0).isEmpty)
        #expect(SecureRandom.bytes(count: 1).count == 1)
        #expect(SecureRandom.data(count: 4097).count == 4097)
    }

    /// 64 random bytes repeating, or coming out all zero, would mean the generator is not wired up: the chance of
    /// either by luck is 2^-512.
    @Test func outputsDiffer() {
        let first = SecureRandom.bytes(count: 64)
        let second = SecureRandom.bytes(count: 64)
        #expect(first != second)
        #expect(first.contains { $0 != 0 })
        #expect(SecureRandom.data(count: 64) != SecureRandom.data(count: 64))
    }

    /// Every byte value shows up in 64 KiB: a stuck bit or a narrow range would leave some out.
    @Test func coversAllByteValues() {
        let bytes = SecureRandom.bytes(count: 65_536)
        #expect(Set(bytes).count == 256)
        var counts = [Int](repeating: 0, count: 256)
        for byte in bytes { counts[Int(byte)] += 1 }
        // The expected count is 256 with a standard deviation of about 16; 100 and 420 are ten deviations out.
        #expect(counts.min()! > 100 && counts.max()! < 420)
    }

    @Test func generator() {
        var generator = SecureRandomNumberGenerator()
        let values = (0..<8).map { _ in generator.next() }
        #expect(Set(values).count == 8)
        let shuffled = Array(0..<100).shuffled(using: &generator)
        #expect(Set(shuffled) == Set(0..<100))
        let roll = Int.random(in: 1...6, using: &generator)
        #expect((1...6).contains(roll))
    }
}
