/// How the simulated network treats datagrams: the chance each one is lost and the range of one-way delays.
public struct NetworkConditions: Sendable, Hashable {
    /// The probability, 0…1, that a datagram is lost.
    public var loss: Double
    /// The shortest one-way delay in seconds.
    public var minimumDelay: Double
    /// The longest one-way delay in seconds; each datagram's delay is drawn uniformly between the two.
    public var maximumDelay: Double

    /// Conditions with the given loss and delays; the defaults are a lossless network with 10–50 ms latency.
    public init(loss: Double = 0, minimumDelay: Double = 0.01, maximumDelay: Double = 0.05) {
        self.loss = loss
        self.minimumDelay = minimumDelay
        self.maximumDelay = maximumDelay
    }

    /// A perfect network: no loss, 10–50 ms.
    public static let lossless = NetworkConditions()

    /// Checks the fields; the error names the bad one.
    public func validate() throws(NetworkConditionsError) {
        guard loss.isFinite, loss >= 0, loss <= 1 else {
            throw NetworkConditionsError(field: "loss", message: "must be between 0 and 1, got \(loss)")
        }
        guard minimumDelay.isFinite, minimumDelay >= 0 else {
            throw NetworkConditionsError(
                field: "minimumDelay", message: "must be a non-negative number of seconds, got \(minimumDelay)")
        }
        guard maximumDelay.isFinite, maximumDelay >= minimumDelay, maximumDelay < 1e6 else {
            throw NetworkConditionsError(
                field: "maximumDelay",
                message: "must be at least minimumDelay (\(minimumDelay)) and below 1e6 seconds, got \(maximumDelay)")
        }
    }
}

/// A `NetworkConditions` field out of range.
public struct NetworkConditionsError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The field's name.
    public var field: String
    /// What is wrong with it.
    public var message: String

    /// An error about `field`.
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "network conditions: \(field) \(message)" }
}
