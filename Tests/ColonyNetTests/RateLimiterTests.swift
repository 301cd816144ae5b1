import ColonyNet
import Testing

@Suite struct RateLimiterTests {
    @Test func burstThenRefill() {
        var limiter = RateLimiter(limit: RateLimit(datagramsPerSecond: 10, burst: 3))
        let start = Instant.seconds(100)
        let first = (0..<5).map { _ in limiter.allow(1, now: start) }
        #expect(first == [true, true, true, false, false])
        // 0.1 s later one token is back, and only one.
        let later = start.adding(seconds: 0.1)
        let refilled = [limiter.allow(1, now: later), limiter.allow(1, now: later)]
        #expect(refilled == [true, false])
        // A long pause refills to the burst, not beyond.
        let much = later.adding(seconds: 1000)
        let capped = (0..<4).map { _ in limiter.allow(1, now: much) }
        #expect(capped == [true, true, true, false])
    }

    @Test func addressesHaveTheirOwnBuckets() {
        var limiter = RateLimiter(limit: RateLimit(datagramsPerSecond: 1, burst: 1))
        let results = [limiter.allow(1, now: .zero), limiter.allow(1, now: .zero), limiter.allow(2, now: .zero)]
        #expect(results == [true, false, true])
    }

    @Test func tableStaysBoundedUnderAFloodOfAddresses() {
        var limiter = RateLimiter(limit: RateLimit(datagramsPerSecond: 1, burst: 1, trackedAddresses: 64))
        for address in UInt32(0)..<10_000 {
            let allowed = limiter.allow(address, now: .zero)
            #expect(allowed)
            #expect(limiter.trackedCount <= 64)
        }
        // The 64 most recent addresses are still tracked, with empty buckets.
        for address in UInt32(10_000 - 64)..<10_000 {
            let allowed = limiter.allow(address, now: .zero)
            #expect(!allowed)
        }
        #expect(limiter.trackedCount == 64)
    }
}
