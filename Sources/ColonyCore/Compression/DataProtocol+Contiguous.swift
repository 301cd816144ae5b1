import Foundation

extension DataProtocol {
    /// Calls `body` with the bytes in one buffer, copying only when they are spread over several regions.
    func withContiguousBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let regions = self.regions
        if regions.count == 1, let region = regions.first {
            return region.withUnsafeBytes(body)
        }
        return Array(self).withUnsafeBytes(body)
    }
}
