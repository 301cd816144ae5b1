import Foundation
import Testing

@testable import ColonyWork

#if canImport(Glibc)
import Glibc
#endif

/// The kernel host protocol: every message survives a round trip, and bytes that break it are refused with an
/// error instead of a crash or an allocation the size a frame claims.
@Suite struct KernelHostMessageTests {
    static let assignment = UnitAssignment(
        kernel: "mersenne", version: 2, unit: 41, input: Data([1, 2, 3]), checkpoint: Data([9]),
        checkpointIntervalNanos: 30_000_000_000, cpuLimit: 50, dutyCycleWindowNanos: 100_000_000)

    static let messages: [KernelHostMessage] = [
        .run(assignment),
        .run(
            UnitAssignment(
                kernel: "x", version: 1, unit: 0, input: Data(), checkpoint: nil, checkpointIntervalNanos: 1,
                cpuLimit: 100,
                dutyCycleWindowNanos: 1)),
        .stop, .progress(0.25), .checkpoint(Data([0, 255])), .output(Data(repeating: 7, count: 1000)), .failed("boom"),
        .interrupted,
    ]

    @Test(arguments: messages) func roundTrips(_ message: KernelHostMessage) throws {
        #expect(try KernelHostMessage(decoding: message.encoded()) == message)
    }

    @Test func everyTruncationIsRefused() {
        let bytes = KernelHostMessage.run(Self.assignment).encoded()
        for length in 0..<bytes.count {
            #expect(throws: KernelHostProtocolError.self) { try KernelHostMessage(decoding: bytes.prefix(length)) }
        }
    }

    @Test func strayBytesUnknownTypesAndBadFieldsAreRefused() {
        #expect(throws: KernelHostProtocolError.self) {
            try KernelHostMessage(decoding: KernelHostMessage.stop.encoded() + [0])
        }
        #expect(throws: KernelHostProtocolError.self) { try KernelHostMessage(decoding: Data([200])) }
        // An output claiming 2^63 bytes is refused before anything is copied.
        #expect(throws: KernelHostProtocolError.self) {
            try KernelHostMessage(decoding: Data([5, 0x80, 0, 0, 0, 0, 0, 0, 0]))
        }
        var zeroCPU = Self.assignment
        zeroCPU.cpuLimit = 0
        #expect(throws: KernelHostProtocolError.self) {
            try KernelHostMessage(decoding: KernelHostMessage.run(zeroCPU).encoded())
        }
    }

    @Test func aFrameOverTheLimitIsRefusedFromItsLengthAlone() throws {
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        let reader = KernelHostPipe(read: fds[0], write: fds[1], maxFrameBytes: 1024)
        // A length prefix of 4 GiB - 1 with no body: the reader must refuse it without waiting for or allocating it.
        _ = [UInt8](repeating: 0xff, count: 4).withUnsafeBytes { write(fds[1], $0.baseAddress, 4) }
        #expect {
            _ = try reader.receive(timeoutMilliseconds: 1000)
        } throws: { error in
            if case .tooLarge(let size, let limit)? = error as? KernelHostPipeError {
                size == 0xffff_ffff && limit == 1024
            } else {
                false
            }
        }
        // And a writer refuses to send a frame the other side would refuse.
        #expect(throws: KernelHostPipeError.self) { try reader.send(.output(Data(count: 2000))) }
    }

    @Test func framesArriveWholeThroughAPipe() throws {
        var fds: [Int32] = [-1, -1]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let pipe = KernelHostPipe(read: fds[0], write: fds[1], maxFrameBytes: 1 << 20)
        for message in Self.messages { try pipe.send(message) }
        close(fds[1])
        var received: [KernelHostMessage] = []
        while true {
            do {
                if let message = try pipe.receive(timeoutMilliseconds: 1000) { received.append(message) }
            } catch {
                guard case .closed = error else { throw error }
                break
            }
        }
        #expect(received == Self.messages)
    }
}
