import Foundation

/// How one unit's run ended, in a process of its own or on a thread.
public enum UnitOutcome: Sendable, Equatable {
    /// The kernel returned this output.
    case output(Data)
    /// The unit was asked to stop; its last checkpoint has been stored.
    case interrupted
    /// The kernel threw, crashed, ran out of memory or time; the reason in words.
    case failed(String)
}
