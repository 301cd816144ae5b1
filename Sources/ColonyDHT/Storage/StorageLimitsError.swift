/// A storage limit out of range.
public struct StorageLimitsError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The setting.
    public var field: String
    /// Its value.
    public var value: String
    /// What would be accepted.
    public var expected: String

    public var description: String { "StorageLimits.\(field) is \(value); expected \(expected)" }
}
