import ColonyCore

extension NodeID {
    /// The ID of a SHA-1 digest (BEP 44 targets, info-hashes).
    public init(_ digest: SHA1Digest) {
        self.init(bytes: digest.bytes)!
    }
}
