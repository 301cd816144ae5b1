import ColonyCore
import Testing

@testable import ColonyNet

@Suite struct TCPFrameTests {
    @Test func encodesBothLengthsBigEndianThenHeaderThenPayload() {
        let frame = Frame(header: ["m": "chunk"], payload: [1, 2, 3])
        let header = Array("d1:m5:chunke".utf8)
        #expect(frame.encoded() == [0, 0, 0, UInt8(header.count), 0, 0, 0, 3] + header + [1, 2, 3])
    }

    @Test func encodesAnEmptyPayloadAsLengthZero() {
        let frame = Frame(header: [:])
        #expect(frame.encoded() == [0, 0, 0, 2, 0, 0, 0, 0] + Array("de".utf8))
    }

    @Test func encodesLengthsAboveOneByte() {
        let frame = Frame(
            header: ["k": .bytes([UInt8](repeating: 9, count: 300))], payload: [UInt8](repeating: 0, count: 70_000))
        let bytes = frame.encoded()
        let headerLength = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        let payloadLength = Int(bytes[4]) << 24 | Int(bytes[5]) << 16 | Int(bytes[6]) << 8 | Int(bytes[7])
        #expect(headerLength == BencodeValue.dictionary(frame.header).encodedCount)
        #expect(payloadLength == 70_000)
        #expect(bytes.count == 8 + headerLength + payloadLength)
    }

    @Test func defaultLimitsAre64KiBOfHeaderAnd17MiBOfPayload() throws {
        let limits = FrameLimits()
        #expect(limits.maxHeader == 65_536)
        #expect(limits.maxPayload == 17 * 1_048_576)
        try limits.validate()
    }

    @Test(arguments: [
        (FrameLimits(maxHeader: 1, maxPayload: 10), "maxHeader"),
        (FrameLimits(maxHeader: 32 << 20, maxPayload: 10), "maxHeader"),
        (FrameLimits(maxHeader: 100, maxPayload: -1), "maxPayload"),
        (FrameLimits(maxHeader: 100, maxPayload: 1 << 33), "maxPayload"),
    ])
    func limitsOutOfRangeNameTheField(limits: FrameLimits, field: String) {
        #expect {
            try limits.validate()
        } throws: { error in
            let error = error as? FrameTransportError
            return error?.code == .invalidConfiguration && error?.description.contains(field) == true
        }
    }

    @Test func headerDecodingNeverAllowsMoreThanMaxHeader() {
        let limits = FrameLimits(maxHeader: 1000, maxPayload: 0)
        #expect(limits.headerDecoding.maxInputSize == 1000)
        #expect(limits.headerDecoding.maxStringLength <= 1000)
        #expect(limits.headerDecoding.maxDepth <= BencodeLimits.frame.maxDepth)
    }
}
