/// A put or store that the DHT storage refused; `code` is the KRPC error code to answer with (BEP 5, BEP 44).
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The KRPC error code: one of the `StoreError.Code` constants.
    public var code: Int
    /// What was wrong and what the sender can do about it; short enough for a KRPC error reply.
    public var message: String

    /// An error with KRPC code `code` explained by `message`.
    public init(code: Int, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// The KRPC error codes a store can fail with.
    public enum Code {
        /// BEP 5 server error: the node has no room left for a new entry.
        public static let serverError = 202
        /// BEP 5 protocol error: malformed arguments (wrong key or signature length, negative seq).
        public static let protocolError = 203
        /// BEP 44: the bencoded `v` is larger than `ItemLimits.maxValueSize`.
        public static let valueTooBig = 205
        /// BEP 44: the signature does not verify.
        public static let invalidSignature = 206
        /// BEP 44: the salt is longer than `ItemLimits.maxSaltSize`.
        public static let saltTooBig = 207
        /// BEP 44: `cas` differs from the stored sequence number.
        public static let casMismatch = 301
        /// BEP 44: `seq` is lower than the stored one, or equal with a different value.
        public static let sequenceTooLow = 302
    }
}
