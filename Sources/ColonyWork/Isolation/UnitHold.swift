/// How a paused worker stops an isolated unit where it is, and how a limited one throttles it: while `isPaused` says so, the runner stops the unit's
/// kernel host (SIGSTOP) and continues it (SIGCONT) once it no longer does, telling `held` each time. A host
/// stopped this way uses no CPU and keeps the unit's state; its deadline still runs.
public struct UnitHold: Sendable {
    /// Whether the unit should be held now; asked every time the runner wakes to poll its host (about 20 times a
    /// second).
    public var isPaused: @Sendable () -> Bool
    /// Told true when the host is stopped and false when it goes on.
    public var held: @Sendable (Bool) -> Void

    /// The percent of each second the host may run, read as the runner polls; nil leaves the limit to the host's
    /// own duty cycle at `context.step` (the runner's `cpuLimit`).
    public var cpuPercent: (@Sendable () -> Int)?

    /// A hold asking `isPaused` and telling `held`; with `cpuPercent`, the runner also throttles the host.
    public init(
        isPaused: @escaping @Sendable () -> Bool, held: @escaping @Sendable (Bool) -> Void = { _ in },
        cpuPercent: (@Sendable () -> Int)? = nil
    ) {
        self.isPaused = isPaused
        self.held = held
        self.cpuPercent = cpuPercent
    }
}
