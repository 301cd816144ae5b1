/// A `UDPConfiguration` field out of range.
public struct UDPConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The field's name.
    public var field: String
    /// What is wrong with it.
    public var message: String

    /// An error about `field`.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "UDP configuration: \(field) \(message)" }
}
