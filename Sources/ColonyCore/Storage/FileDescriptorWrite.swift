import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writing a whole buffer to a file descriptor, as `write` may take only part of it at a time.
public enum FileDescriptorWrite {
    /// Writes every byte of `data` to `descriptor`, retrying after EINTR; the errno that stopped it, or nil.
    public static func all(_ data: Data, to descriptor: Int32) -> Int32? {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
    }
}
