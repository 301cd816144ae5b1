/// One scheduled event of the simulator: a datagram arriving at a node, or a node's timer.
///
/// Kept free of references (the datagram's bytes live in a side table under `slot`) so that moving events inside
/// the heap costs no reference counting.
struct SimulatedEvent {
    /// When it happens, in virtual nanoseconds.
    var time: Int64
    /// Order of scheduling: breaks ties between events at the same time, which keeps runs deterministic.
    var sequence: UInt64
    /// The node it happens to (its handle).
    var node: Int32
    /// The datagram's slot in the payload table, or -1 for a timer event.
    var slot: Int32

    @inline(__always)
    func precedes(_ other: SimulatedEvent) -> Bool {
        time < other.time || (time == other.time && sequence < other.sequence)
    }
}

/// A binary min-heap of events ordered by time, then by scheduling order.
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
                let parent = (child - 1) / 2
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
                let left = 2 * hole + 1
                guard left < count else { break }
                let right = left + 1
                let smaller = right < count && buffer[right].precedes(buffer[left]) ? right : left
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
