/// The numeric codes of KRPC error replies: BEP 5's 201–204 and BEP 44's 205–207, 301 and 302.
///
/// Plain `Int` constants rather than an enum: a peer may send any code, and a reply must carry it through unchanged.
public enum KRPCErrorCode {
    /// 201: generic error.
    public static let generic = 201
    /// 202: server error.
    public static let server = 202
    /// 203: protocol error — malformed packet, invalid arguments or bad token.
    public static let protocolError = 203
    /// 204: method unknown.
    public static let methodUnknown = 204
    /// 205 (BEP 44): the `v` field is too big.
    public static let messageTooBig = 205
    /// 206 (BEP 44): the signature does not verify.
    public static let invalidSignature = 206
    /// 207 (BEP 44): the `salt` field is too big.
    public static let saltTooBig = 207
    /// 301 (BEP 44): `cas` does not match the stored sequence number; re-read the item and try again.
    public static let casMismatch = 301
    /// 302 (BEP 44): the sequence number is lower than the stored one.
    public static let sequenceTooLow = 302
}
