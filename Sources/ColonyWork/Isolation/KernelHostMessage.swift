import Foundation

/// What the worker and a kernel host say to each other over their pipes, one message per frame.
///
/// The worker sends `run` and `stop`; the host answers with `progress` and `checkpoint` while the unit runs and
/// ends it with exactly one of `output`, `failed` or `interrupted`. The host is a process of the worker's own
/// binary, but what it sends is still checked like any other input: a kernel that scribbles over memory must
/// not be able to crash the worker through the pipe.
public enum KernelHostMessage: Sendable, Equatable {
    /// Compute one unit.
    case run(UnitAssignment)
    /// Save a checkpoint and stop the running unit.
    case stop
    /// The fraction of the running unit done (0…1).
    case progress(Double)
    /// A checkpoint of the running unit, to be stored durably before the next one.
    case checkpoint(Data)
    /// The unit's output.
    case output(Data)
    /// The kernel threw; the reason in words.
    case failed(String)
    /// The unit stopped after `stop`; its last checkpoint was sent before this.
    case interrupted

    private enum Tag: UInt8 {
        case run = 1, stop, progress, checkpoint, output, failed, interrupted
    }

    /// The bytes of the message, without the frame's length prefix.
    public func encoded() -> Data {
        var writer = MessageWriter()
        switch self {
        case .run(let assignment):
            writer.byte(Tag.run.rawValue)
            assignment.encode(into: &writer)
        case .stop: writer.byte(Tag.stop.rawValue)
        case .progress(let fraction):
            writer.byte(Tag.progress.rawValue)
            writer.integer(fraction.bitPattern)
        case .checkpoint(let data):
            writer.byte(Tag.checkpoint.rawValue)
            writer.bytes(data)
        case .output(let data):
            writer.byte(Tag.output.rawValue)
            writer.bytes(data)
        case .failed(let reason):
            writer.byte(Tag.failed.rawValue)
            writer.bytes(Data(reason.utf8))
        case .interrupted: writer.byte(Tag.interrupted.rawValue)
        }
        return writer.data
    }

    /// Reads a message; throws `KernelHostProtocolError` naming what is wrong with the bytes.
    public init(decoding data: Data) throws(KernelHostProtocolError) {
        var reader = MessageReader(data)
        let byte = try reader.byte("message type")
        guard let tag = Tag(rawValue: byte) else { throw KernelHostProtocolError("unknown message type \(byte)") }
        switch tag {
        case .run: self = .run(try UnitAssignment(from: &reader))
        case .stop: self = .stop
        case .progress: self = .progress(Double(bitPattern: try reader.integer("progress")))
        case .checkpoint: self = .checkpoint(try reader.bytes("checkpoint"))
        case .output: self = .output(try reader.bytes("output"))
        case .failed: self = .failed(String(decoding: try reader.bytes("reason"), as: UTF8.self))
        case .interrupted: self = .interrupted
        }
        guard reader.isAtEnd else {
            throw KernelHostProtocolError("\(reader.remaining) stray bytes after a \(tag) message")
        }
    }
}

/// One unit for a kernel host: which kernel, the unit's input and checkpoint, and how to pace it.
public struct UnitAssignment: Sendable, Equatable {
    /// The kernel's name; the host refuses a name or version it was not built with.
    public var kernel: String
    /// The kernel's version, as the worker knows it.
    public var version: Int
    /// The unit's index.
    public var unit: Int
    /// The unit's input.
    public var input: Data
    /// The checkpoint to resume from, if any.
    public var checkpoint: Data?
    /// Nanoseconds between checkpoints.
    public var checkpointIntervalNanos: UInt64
    /// The CPU share in percent (100: no duty cycle).
    public var cpuLimit: Int
    /// Nanoseconds of one duty cycle.
    public var dutyCycleWindowNanos: UInt64

    /// An assignment with these fields.
    public init(
        kernel: String, version: Int, unit: Int, input: Data, checkpoint: Data?, checkpointIntervalNanos: UInt64,
        cpuLimit: Int, dutyCycleWindowNanos: UInt64
    ) {
        self.kernel = kernel
        self.version = version
        self.unit = unit
        self.input = input
        self.checkpoint = checkpoint
        self.checkpointIntervalNanos = checkpointIntervalNanos
        self.cpuLimit = cpuLimit
        self.dutyCycleWindowNanos = dutyCycleWindowNanos
    }

    fileprivate func encode(into writer: inout MessageWriter) {
        writer.bytes(Data(kernel.utf8))
        writer.integer(UInt64(bitPattern: Int64(version)))
        writer.integer(UInt64(bitPattern: Int64(unit)))
        writer.bytes(input)
        writer.byte(checkpoint == nil ? 0 : 1)
        if let checkpoint { writer.bytes(checkpoint) }
        writer.integer(checkpointIntervalNanos)
        writer.integer(UInt64(bitPattern: Int64(cpuLimit)))
        writer.integer(dutyCycleWindowNanos)
    }

    fileprivate init(from reader: inout MessageReader) throws(KernelHostProtocolError) {
        kernel = String(decoding: try reader.bytes("kernel name"), as: UTF8.self)
        version = Int(Int64(bitPattern: try reader.integer("kernel version")))
        unit = Int(Int64(bitPattern: try reader.integer("unit")))
        input = try reader.bytes("input")
        checkpoint = try reader.byte("checkpoint flag") == 0 ? nil : try reader.bytes("checkpoint")
        checkpointIntervalNanos = try reader.integer("checkpoint interval")
        cpuLimit = Int(Int64(bitPattern: try reader.integer("CPU limit")))
        dutyCycleWindowNanos = try reader.integer("duty cycle window")
        guard (1...100).contains(cpuLimit) else {
            throw KernelHostProtocolError("CPU limit \(cpuLimit) is not 1 to 100")
        }
        guard checkpointIntervalNanos > 0, dutyCycleWindowNanos > 0 else {
            throw KernelHostProtocolError("a checkpoint interval or duty cycle of zero")
        }
    }
}

/// Bytes on a kernel host's pipe that break the protocol.
public struct KernelHostProtocolError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What was wrong.
    public var reason: String

    init(_ reason: String) { self.reason = reason }

    public var description: String { "bad kernel host message: \(reason)" }
}

/// Big-endian fields: bytes are a 64-bit length and the bytes.
private struct MessageWriter {
    var data = Data()

    mutating func byte(_ value: UInt8) { data.append(value) }

    mutating func integer(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { data.append(contentsOf: $0) }
    }

    mutating func bytes(_ value: Data) {
        integer(UInt64(value.count))
        data.append(value)
    }
}

/// Reads what `MessageWriter` wrote, checking every length against what is left before copying.
private struct MessageReader {
    private let data: Data
    private var offset: Int

    init(_ data: Data) {
        self.data = data
        self.offset = data.startIndex
    }

    var remaining: Int { data.endIndex - offset }
    var isAtEnd: Bool { remaining == 0 }

    mutating func byte(_ field: String) throws(KernelHostProtocolError) -> UInt8 {
        guard remaining >= 1 else { throw KernelHostProtocolError("the message ends before its \(field)") }
        defer { offset += 1 }
        return data[offset]
    }

    mutating func integer(_ field: String) throws(KernelHostProtocolError) -> UInt64 {
        guard remaining >= 8 else { throw KernelHostProtocolError("the message ends inside its \(field)") }
        var value: UInt64 = 0
        for index in offset..<(offset + 8) { value = value << 8 | UInt64(data[index]) }
        offset += 8
        return value
    }

    mutating func bytes(_ field: String) throws(KernelHostProtocolError) -> Data {
        let length = try integer("length of its \(field)")
        guard length <= UInt64(remaining) else {
            throw KernelHostProtocolError("its \(field) claims \(length) bytes but \(remaining) are left")
        }
        defer { offset += Int(length) }
        return data.subdata(in: offset..<(offset + Int(length)))
    }
}
