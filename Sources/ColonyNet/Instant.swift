/// A point in time as nanoseconds on a monotonic clock: the real runtime's uptime clock or the simulator's
/// virtual one. Protocol logic never reads a clock; it is handed an `Instant`.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the clock's origin.
    public var nanoseconds: Int64

    /// The instant `nanoseconds` after the origin.
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// The clock's origin.
    public static let zero = Instant(nanoseconds: 0)

    /// The instant `seconds` after the origin.
    public static func seconds(_ seconds: Double) -> Instant { Instant(nanoseconds: Int64(seconds * 1e9)) }

    /// Seconds since the origin.
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    /// This instant moved by `seconds` (negative moves back).
    public func adding(seconds: Double) -> Instant { Instant(nanoseconds: nanoseconds + Int64(seconds * 1e9)) }

    /// Seconds from `earlier` to this instant.
    public func seconds(since earlier: Instant) -> Double { Double(nanoseconds - earlier.nanoseconds) / 1e9 }

    public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public var description: String { "\(seconds)s" }
}
