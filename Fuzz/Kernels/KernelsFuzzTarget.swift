import Foundation
import Synchronization

// libFuzzer entry for the example kernels' `run`. .ci/fuzz-kernels compiles it as one module with ColonyKernel, the
// zlib and PNG parts of ColonyCore, every example kernel and the tally kernel (imports stripped), so the kernels'
// internal unit types are visible here.
//
// The first byte picks the kernel and the mode:
// - '0' mersenne, '1' primes, '2' mandelbrot, '3' collatz, '4' montecarlo-pi, '5' squares, '6' tally (other bytes
//   below 0x80 wrap round): the rest is the unit input as it comes off the network, JSON (tally: 8 bytes).
// - 0x80 + the same index: the rest is the unit's fields as little-endian 64-bit integers (doubles by bit pattern),
//   encoded as the kernel's own unit type. Field values are where the range checks live, and libFuzzer's comparison
//   tracing steers raw integers to the values those checks compare against far better than it edits JSON digits.
// - 0x40 + the same index (below 0x80): the kernel's cheap check, which custodians run on a worker's output of a unit
//   run alone: two bytes (little-endian) give the unit input's length, then the input, then the output; the seed is
//   the next 8 bytes of the output's end, or 0. Outputs come from workers and are hostile.
// A thrown error is a refusal and fine; a trap is a crash, and a unit that runs too long is a libFuzzer timeout.

/// The kernels, in the order the first byte picks them.
private let kernels: [any ComputeKernel] = [
    MersenneKernel(), PrimesKernel(), MandelbrotKernel(), CollatzKernel(), MonteCarloPiKernel(), SquaresKernel(),
    TallyKernel(),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func kernelsFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size > 0 else { return 0 }
    let rest = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let index: Int
    let input: Data
    if (0x40..<0x80).contains(data[0]) {
        let kernel = kernels[Int(data[0] - 0x40) % kernels.count]
        let length = rest.count >= 2 ? Int(rest[0]) | Int(rest[1]) << 8 : 0
        let body = rest.count >= 2 ? Array(rest[2...]) : []
        let input = Data(body.prefix(length))
        let output = Data(body.dropFirst(length))
        let seed = output.suffix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        _ = kernel.verify(input: input, output: output, seed: seed)
        return 0
    }
    if data[0] >= 0x80 {
        index = Int(data[0] & 0x7F) % kernels.count
        input = unitInput(kernel: index, fields: FieldReader(rest))
    } else {
        index = Int(data[0] &- UInt8(ascii: "0")) % kernels.count
        input = Data(rest)
    }
    let kernel = kernels[index]
    // Stopped at its first step, then resumed from the checkpoint it saved there and stopped again: two steps of
    // work, milliseconds each for every kernel (ComputeKernel's contract), plus what a kernel does before its first
    // step, which its per-unit limits bound. All of it must fit in libFuzzer's -timeout.
    guard let checkpoint = runUntilFirstStep(kernel, input, resuming: nil) else { return 0 }
    _ = runUntilFirstStep(kernel, input, resuming: checkpoint)
    return 0
}

/// The unit input of kernel `index` made of the fields in `fields`.
private func unitInput(kernel index: Int, fields: FieldReader) -> Data {
    var fields = fields
    switch index {
    case 0:
        let bits = fields.int()
        var exponents: [Int] = []
        while !fields.isAtEnd && exponents.count < 64 { exponents.append(fields.int()) }
        // Int.min stands for "no trialFactorBits": the kernel's default depth.
        return KernelCoding.encode(MersenneUnitInput(exponents: exponents, trialFactorBits: bits == .min ? nil : bits))
    case 1:
        return KernelCoding.encode(PrimesKernel.Unit(from: fields.int(), to: fields.int()))
    case 2:
        let firstRow = fields.int()
        let rows = fields.int()
        let view = MandelbrotKernel.View(
            width: fields.int(), height: fields.int(), centerX: fields.double(), centerY: fields.double(),
            span: fields.double(), maxIterations: fields.int())
        return KernelCoding.encode(MandelbrotKernel.Unit(view: view, firstRow: firstRow, rows: rows))
    case 3:
        return KernelCoding.encode(CollatzKernel.Unit(from: fields.int(), to: fields.int()))
    case 4:
        let unit = MonteCarloPiKernel.Unit(seed: fields.int(), index: fields.int(), samples: fields.int())
        return KernelCoding.encode(unit)
    case 5:
        return KernelCoding.encode(SquaresKernel.Unit(from: fields.int(), to: fields.int()))
    default:
        return Data(fields.remaining)
    }
}

/// Reads fields from fuzzer bytes: 8 bytes each, little-endian, zero-padded past the end.
private struct FieldReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var offset = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    var remaining: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: bytes[min(offset, bytes.count)...]) }

    mutating func bits() -> UInt64 {
        var value: UInt64 = 0
        for shift in 0..<8 where offset + shift < bytes.count {
            value |= UInt64(bytes[offset + shift]) << (8 * UInt64(shift))
        }
        offset += 8
        return value
    }

    mutating func int() -> Int { Int(truncatingIfNeeded: Int64(bitPattern: bits())) }

    /// A finite double: JSON has no NaN or infinity (the kernels' JSON decoding refuses them on its own).
    mutating func double() -> Double {
        let value = Double(bitPattern: bits())
        return value.isFinite ? value : 0
    }
}

/// Runs `input` until the kernel's first step; returns the checkpoint saved there, or nil when the kernel refused
/// the input or finished.
private func runUntilFirstStep(_ kernel: any ComputeKernel, _ input: Data, resuming checkpoint: Data?) -> Data? {
    let started = Atomic<Bool>(false)
    let saved = Mutex<Data?>(nil)
    let hooks = KernelContextHooks(
        isStopping: {
            started.store(true, ordering: .relaxed)
            return true
        },
        saveCheckpoint: { data in saved.withLock { $0 = data } })
    do {
        _ = try kernel.run(input, context: KernelContext(unit: 0, checkpoint: checkpoint, hooks: hooks))
        return nil
    } catch is KernelInterruption {
        return saved.withLock { $0 }
    } catch let error as KernelDataError {
        // Kernels check the whole unit before any work: a refusal after the first step means a check came late.
        if started.load(ordering: .relaxed) {
            fatalError("kernels fuzz: \(type(of: kernel).name) refused its input only after starting: \(error)")
        }
        return nil
    } catch {
        return nil
    }
}
