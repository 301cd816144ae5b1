/// How a paused worker stops an isolated unit where it is: while `isPaused` says so, the runner stops the unit's
/// kernel host (SIGSTOP) and continues it (SIGCONT) once it no longer does, telling `held` each time. A host
/// stopped this way uses no CPU and keeps the unit's state; its deadline still runs.
public struct UnitHold: Sendable {
    /// Whether the unit should be held now; asked every time the runner wakes to poll its host (about 20 times a
    /// second).
    public var isPaused: @Sendable () -> Bool
    /// Told true when the host is stopped and false when it goes on.
    public var held: @Sendable (Bool) -> Void

    /// A hold asking `isPaused` and telling `held`.
    public init(isPaused: @escaping @Sendable () -> Bool, held: @escaping @Sendable (Bool) -> Void = { _ in }) {
        self.isPaused = isPaused
        self.held = held
    }
}
