import CollatzKernel
import ColonyCore
import ColonyKernel
import Foundation
import MandelbrotKernel
import MersenneKernel
import MonteCarloPiKernel
import PrimesKernel
import Testing

/// Cheap verification and work units (issue 14, Credit and Cheap verification): a right output verifies, a
/// tampered one does not; work is read from the output.
@Suite struct KernelVerifyTests {
    static func run(_ kernel: some ComputeKernel, _ input: Data) throws -> Data {
        try kernel.run(input, context: KernelContext(unit: 0))
    }

    static func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func data(_ object: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: object) }

    @Test func collatzReWalksTheClaimedLongestTrajectory() throws {
        let kernel = CollatzKernel()
        let input = try #require(try kernel.units(for: KernelParameters(["from": 1000, "to": 5000, "valuesPerUnit": 4000])).first)
        let output = try Self.run(kernel, input)
        #expect(kernel.verify(input: input, output: output) == true)
        #expect(kernel.work(input: input, output: output) == 4000)
        #expect(CollatzKernel.workUnit == "starting values")
        var best = try Self.json(output)
        best["steps"] = (best["steps"] as? Int ?? 0) + 1
        #expect(kernel.verify(input: input, output: try Self.data(best)) == false)
        best = try Self.json(output)
        best["value"] = 1001   // not the record holder: its trajectory is shorter than claimed
        #expect(kernel.verify(input: input, output: try Self.data(best)) == false)
        best = try Self.json(output)
        best["to"] = 9000   // another range than the unit's
        #expect(kernel.verify(input: input, output: try Self.data(best)) == false)
        #expect(kernel.verify(input: input, output: Data("junk".utf8)) == false)
    }

    @Test func mandelbrotRecomputesASampleOfPixels() throws {
        let kernel = MandelbrotKernel()
        let parameters = KernelParameters(["width": 256, "height": 64, "rowsPerUnit": 64, "maxIterations": 200])
        let input = try #require(try kernel.units(for: parameters).first)
        let output = try Self.run(kernel, input)
        #expect(kernel.verify(input: input, output: output) == true)
        #expect(kernel.work(input: input, output: output) == 256 * 64)
        // A tenth of the pixels changed: the band no longer verifies.
        var band = try Self.json(output)
        let raw = try Inflate.decompress(Data(base64Encoded: try #require(band["counts"] as? String))!, limit: 1 << 20)
        var counts = [UInt8](raw)
        for pixel in stride(from: 0, to: counts.count / 2, by: 10) { counts[2 * pixel] ^= 0x5A }
        band["counts"] = try Deflate.compress(Data(counts)).base64EncodedString()
        #expect(kernel.verify(input: input, output: try Self.data(band)) == false)
        // Another band's output for this input does not verify either.
        let other = try #require(try kernel.units(for: KernelParameters(["width": 256, "height": 128, "rowsPerUnit": 64, "maxIterations": 200])).last)
        #expect(kernel.verify(input: input, output: try Self.run(kernel, other)) == false)
    }

    @Test func mandelbrotsSampleIsFixedByTheSeed() throws {
        // Custodians and re-verifiers all check a result run alone: the same seed must give the same answer on every
        // machine. A band with a few wrong pixels passes some samples and fails others; per seed, always the same.
        let kernel = MandelbrotKernel()
        let parameters = KernelParameters(["width": 256, "height": 64, "rowsPerUnit": 64, "maxIterations": 200])
        let input = try #require(try kernel.units(for: parameters).first)
        let output = try Self.run(kernel, input)
        var band = try Self.json(output)
        let raw = try Inflate.decompress(Data(base64Encoded: try #require(band["counts"] as? String))!, limit: 1 << 20)
        var counts = [UInt8](raw)
        // 1 pixel in 400 wrong: a sample of 256 meets about 0.64 of them, and one difference is allowed.
        for pixel in stride(from: 0, to: counts.count / 2, by: 400) { counts[2 * pixel] ^= 0x5A }
        band["counts"] = try Deflate.compress(Data(counts)).base64EncodedString()
        let tampered = try Self.data(band)
        let answers = (0..<64 as Range<UInt64>).map { kernel.verify(input: input, output: tampered, seed: $0) }
        #expect(answers == (0..<64 as Range<UInt64>).map { kernel.verify(input: input, output: tampered, seed: $0) })
        #expect(answers.contains(true) && answers.contains(false), "\(answers)")
        // The right band passes under every seed.
        #expect((0..<16 as Range<UInt64>).allSatisfy { kernel.verify(input: input, output: output, seed: $0) == true })
    }

    @Test func workIsReadFromTheOutput() throws {
        let primes = PrimesKernel()
        let primesInput = try #require(try primes.units(for: KernelParameters(["to": 2_000_000, "numbersPerUnit": 1_000_000])).first)
        #expect(primes.work(input: primesInput, output: try Self.run(primes, primesInput)) == 999_990)   // boundaries fall on multiples of 30
        let mersenne = MersenneKernel()
        let mersenneInput = try #require(try mersenne.units(for: KernelParameters(["from": 100, "below": 130, "exponentsPerUnit": 10])).first)
        let mersenneOutput = try Self.run(mersenne, mersenneInput)
        // Exponents 101, 103, 107, 109, 113, 127: each settled by Lucas–Lehmer counts p − 2, by a factor nothing.
        let work = mersenne.work(input: mersenneInput, output: mersenneOutput)
        #expect(work > 0 && work <= Double(101 + 103 + 107 + 109 + 113 + 127 - 12))
        #expect(mersenne.work(input: mersenneInput, output: Data("junk".utf8)) == 0)
        // A quorum that lists an exponent twice, or one the unit did not ask for, is credited nothing more.
        var padded = try Self.json(mersenneOutput)
        var results = try #require(padded["results"] as? [[String: Any]])
        results += results + [["exponent": 9_999_991, "prime": false, "residue": "0000000000000000"]]
        padded["results"] = results
        #expect(mersenne.work(input: mersenneInput, output: try Self.data(padded)) == work)
        // A kernel without a check says so.
        #expect(primes.verify(input: primesInput, output: Data()) == nil)
    }
}
