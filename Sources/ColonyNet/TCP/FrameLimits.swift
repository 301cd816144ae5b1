import ColonyCore

/// The largest frame a connection accepts (and sends): both lengths are checked against these before anything is
/// allocated for the frame.
public struct FrameLimits: Sendable, Hashable {
    /// The longest bencoded header, in bytes.
    public var maxHeader: Int = 64 << 10
    /// The longest payload, in bytes: a 16 MiB blob chunk plus slack for whatever a later version adds around it.
    public var maxPayload: Int = 17 << 20

    /// Limits with the defaults: 64 KiB of header and 17 MiB of payload.
    public init() {}

    /// Limits with the given bounds.
    public init(maxHeader: Int, maxPayload: Int) {
        self.maxHeader = maxHeader
        self.maxPayload = maxPayload
    }

    /// Checks the fields; the error names the bad one.
    public func validate() throws(FrameTransportError) {
        // The header is decoded with BencodeLimits.frame narrowed to maxHeader, so it may not exceed that input size.
        let headerCeiling = BencodeLimits.frame.maxInputSize
        guard maxHeader >= 2, maxHeader <= headerCeiling else {
            throw .invalidConfiguration(
                "FrameLimits.maxHeader is \(maxHeader); set it between 2 (the empty dictionary \"de\") and \(headerCeiling)"
            )
        }
        guard maxPayload >= 0, maxPayload <= Int(UInt32.max) else {
            throw .invalidConfiguration(
                "FrameLimits.maxPayload is \(maxPayload); set it between 0 and \(UInt32.max) (a 32-bit length)")
        }
    }

    /// The bencode limits for a header: those of `.frame`, with the input no longer than `maxHeader`.
    var headerDecoding: BencodeLimits {
        var limits = BencodeLimits.frame
        limits.maxInputSize = min(limits.maxInputSize, maxHeader)
        limits.maxStringLength = min(limits.maxStringLength, maxHeader)
        return limits
    }
}
