/// A metric family that the Prometheus text encoder refused: its name and what was wrong.
public struct PrometheusTextError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The family's name as given.
    public var metric: String
    /// What was wrong.
    public var message: String

    public var description: String { "Prometheus metric \"\(metric)\": \(message)" }
}
