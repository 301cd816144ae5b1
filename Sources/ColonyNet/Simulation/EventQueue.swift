/// One scheduled event of the simulator: a datagram arriving at a node, or a node's timer.
///
/// Sixteen bytes and free of references (a datagram's bytes and destination live in a side table under its slot),
/// so the heap moves plain words and four children fit in one cache line: profiles of 10,000-node runs show the
/// queue waiting on memory when it loads children.
struct SimulatedEvent {
    /// When it happens, in virtual nanoseconds.
    var time: Int64
    /// The scheduling order in the high 36 bits (breaks ties between events at the same time, which keeps runs
    /// deterministic), then the timer bit, then 27 bits of node handle (timer) or in-flight slot (datagram).
    var tag: UInt64

    /// Largest node handle or slot the tag holds.
    static let maximumReference = (1 << 27) - 1
    private static let timerBit: UInt64 = 1 << 27
    private static let referenceMask: UInt64 = (1 << 27) - 1

    /// A timer event for node `node`.
    static func timer(at time: Int64, sequence: UInt64, node: Int) -> SimulatedEvent {
        SimulatedEvent(time: time, tag: sequence << 28 | timerBit | UInt64(node))
    }

    /// A delivery event for the datagram in `slot`.
    static func delivery(at time: Int64, sequence: UInt64, slot: Int) -> SimulatedEvent {
        SimulatedEvent(time: time, tag: sequence << 28 | UInt64(slot))
    }

    /// True for a timer event.
    var isTimer: Bool { tag & Self.timerBit != 0 }

    /// The node handle (timer) or in-flight slot (datagram).
    var reference: Int { Int(truncatingIfNeeded: tag & Self.referenceMask) }

    @inline(__always)
    func precedes(_ other: SimulatedEvent) -> Bool {
        time < other.time || (time == other.time && tag < other.tag)
    }
}

/// A min-heap of events ordered by time, then by scheduling order.
///
/// Four children per node rather than two: half the levels, and the four children share a cache line, for the tens
/// of thousands of events a 10,000-node simulation keeps in flight.
struct EventQueue {
    private var heap: [SimulatedEvent] = []

    /// Number of events waiting.
    var count: Int { heap.count }

    /// True when nothing waits.
    var isEmpty: Bool { heap.isEmpty }

    /// The earliest event, without removing it.
    var first: SimulatedEvent? { heap.first }

    /// Adds an event.
    mutating func push(_ event: SimulatedEvent) {
        heap.append(event)
        var child = heap.count - 1
        heap.withUnsafeMutableBufferPointer { buffer in
            // Move the hole up instead of swapping at every level.
            while child > 0 {
                let parent = (child - 1) / 4
                guard event.precedes(buffer[parent]) else { break }
                buffer[child] = buffer[parent]
                child = parent
            }
            buffer[child] = event
        }
    }

    /// Removes and returns the earliest event.
    mutating func pop() -> SimulatedEvent? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap.withUnsafeMutableBufferPointer { buffer in
            let count = buffer.count
            var hole = 0
            while true {
                let first = 4 * hole + 1
                guard first < count else { break }
                var smaller = first
                var child = first + 1
                let end = min(first + 4, count)
                while child < end {
                    if buffer[child].precedes(buffer[smaller]) { smaller = child }
                    child += 1
                }
                guard buffer[smaller].precedes(last) else { break }
                buffer[hole] = buffer[smaller]
                hole = smaller
            }
            buffer[hole] = last
        }
        return top
    }

    /// Makes room for `capacity` events.
    mutating func reserveCapacity(_ capacity: Int) {
        heap.reserveCapacity(capacity)
    }
}
