extension BlobStore {
    /// True when every chunk of the blob is here.
    public func isComplete(_ id: BlobID) -> Bool {
        list().contains { $0.id == id && $0.complete }
    }
}
