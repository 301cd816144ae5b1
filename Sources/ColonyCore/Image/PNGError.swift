/// A PNG that cannot be written: bad dimensions, a row of the wrong length, the wrong number of rows, or a file
/// that cannot be written.
public struct PNGError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, as printed in messages.
        public let name: String

        /// Width or height is zero, or past `PNGWriter.maximumSide`, or the image past `PNGWriter.maximumPixels`.
        public static let invalidDimensions = Code(name: "invalid dimensions")
        /// Pixel bytes whose count does not match the image or row size.
        public static let invalidPixelCount = Code(name: "invalid pixel count")
        /// More rows than the image height, or fewer at `finish()`.
        public static let wrongRowCount = Code(name: "wrong row count")
        /// A setting outside its range (the compression level).
        public static let invalidSetting = Code(name: "invalid setting")
        /// The writer was used after `finish()` or after an earlier failure.
        public static let misuse = Code(name: "misuse")
        /// The output file could not be created, written or renamed.
        public static let fileSystem = Code(name: "file system")

        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What was wrong, naming the file, the value and what was expected.
    public var message: String

    /// An error of kind `code` explained by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
