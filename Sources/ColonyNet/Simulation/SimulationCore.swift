/// The simulator's bookkeeping: clock, event queue, node table, datagrams in flight, random draws and counters.
///
/// A struct held by `SimulatedNetwork` so that each step touches the class's storage in a few whole-struct accesses
/// rather than one dynamically checked access per field (that checking took a fifth of the run time). Services are
/// called by the class between those accesses, so a service may read the network's clock or counters.
struct SimulationCore {
    /// Per-node state, indexed by handle.
    struct Node {
        var service: any DatagramService
        var address: Endpoint
        var alive: Bool
        var group: Int32
        /// The time of the node's one live timer event; `Int64.max` when none. Timer events at other times are
        /// stale and skipped when they come up.
        var timerAt: Int64
    }

    /// A datagram in flight.
    struct InFlight {
        var bytes: [UInt8]
        var source: Int32
        var destination: Int32
    }

    /// A call the class must make into a service.
    struct Call {
        var service: any DatagramService
        var handle: Int
        /// The datagram to hand to `receive`, or nil for a `tick`.
        var bytes: [UInt8]?
        var source: Endpoint
        var now: Instant
    }

    /// A service whose deadline is not in the future right after a tick is ticked again this much later, so that a
    /// faulty service cannot stop virtual time.
    static let retickDelay: Int64 = 1_000_000

    var now: Int64 = 0
    var statistics = SimulationStatistics()
    var nodes: [Node] = []
    var handles = EndpointTable()
    private var queue = EventQueue()
    private var sequence: UInt64 = 0
    private var random: SeededGenerator
    private var inFlight: [InFlight] = []
    private var freeSlots: [Int32] = []
    private var loss: Double = 0
    private var minimumDelay: Int64 = 0
    private var delaySpan: UInt64 = 0

    init(seed: UInt64) {
        random = SeededGenerator(seed: seed)
    }

    /// Events waiting.
    var pendingEvents: Int { queue.count }

    /// The time of the earliest event.
    var nextEventTime: Int64? { queue.first?.time }

    /// Uses `conditions` for datagrams sent from now on (they must be valid).
    mutating func apply(_ conditions: NetworkConditions) {
        loss = conditions.loss
        minimumDelay = Int64(conditions.minimumDelay * 1e9)
        delaySpan = UInt64(max(0, Int64(conditions.maximumDelay * 1e9) - minimumDelay))
    }

    /// Pops events up to `deadline` until one needs a service call, counting and skipping datagrams that vanish and
    /// stale timers. Nil when no event is due or `statistics.events` reached `eventLimit`.
    mutating func nextCall(until deadline: Int64, eventLimit: Int) -> Call? {
        while statistics.events < eventLimit, let first = queue.first, first.time <= deadline {
            let event = queue.pop().unsafelyUnwrapped
            now = event.time
            statistics.events += 1
            if !event.isTimer {
                let slot = event.reference
                // Moving the bytes out, rather than copying and clearing, saves a retain and a release.
                var bytes: [UInt8] = []
                swap(&bytes, &inFlight[slot].bytes)
                let source = Int(inFlight[slot].source)
                let handle = Int(inFlight[slot].destination)
                freeSlots.append(Int32(slot))
                guard nodes[handle].alive else {
                    statistics.toDead += 1
                    continue
                }
                guard nodes[handle].group == nodes[source].group else {
                    statistics.partitioned += 1
                    continue
                }
                statistics.delivered += 1
                return Call(
                    service: nodes[handle].service, handle: handle, bytes: bytes, source: nodes[source].address,
                    now: Instant(nanoseconds: now))
            } else {
                let handle = event.reference
                guard nodes[handle].alive, nodes[handle].timerAt == event.time else { continue }
                nodes[handle].timerAt = .max
                statistics.ticks += 1
                return Call(
                    service: nodes[handle].service, handle: handle, bytes: nil, source: nodes[handle].address,
                    now: Instant(nanoseconds: now))
            }
        }
        return nil
    }

    /// Carries out a call's results: puts `outgoing` in flight and schedules the node's next timer.
    mutating func finish(_ handle: Int, outgoing: [Datagram], deadline: Instant?, afterTick: Bool) {
        if !outgoing.isEmpty { send(outgoing, from: handle) }
        scheduleTimer(handle, deadline: deadline, afterTick: afterTick)
    }

    /// Puts `datagrams` in flight from node `source`, drawing loss and delay.
    private mutating func send(_ datagrams: [Datagram], from source: Int) {
        for datagram in datagrams {
            statistics.sent += 1
            guard let destination = handles[datagram.endpoint] else {
                statistics.unroutable += 1
                continue
            }
            if loss > 0, random.nextUnitDouble() < loss {
                statistics.lost += 1
                continue
            }
            let delay = delaySpan == 0 ? minimumDelay : minimumDelay + Int64(random.next(upperBound: delaySpan + 1))
            let entry = InFlight(bytes: datagram.bytes, source: Int32(source), destination: Int32(destination))
            let slot: Int
            if let free = freeSlots.popLast() {
                slot = Int(free)
                inFlight[slot] = entry
            } else {
                slot = inFlight.count
                precondition(slot <= SimulatedEvent.maximumReference, "SimulatedNetwork: too many datagrams in flight")
                inFlight.append(entry)
            }
            queue.push(.delivery(at: now + delay, sequence: nextSequence(), slot: slot))
        }
    }

    /// Schedules one timer event for the node's deadline unless one is already scheduled for that time.
    mutating func scheduleTimer(_ handle: Int, deadline: Instant?, afterTick: Bool) {
        guard let deadline else {
            nodes[handle].timerAt = .max
            return
        }
        var time = max(deadline.nanoseconds, now)
        if afterTick, time == now { time += Self.retickDelay }
        guard time != nodes[handle].timerAt else { return }
        nodes[handle].timerAt = time
        queue.push(.timer(at: time, sequence: nextSequence(), node: handle))
    }

    /// The next scheduling number. It wraps after 2^36 events; runs stay deterministic, only ties at one instant
    /// may then come up out of scheduling order.
    private mutating func nextSequence() -> UInt64 {
        defer { sequence = (sequence &+ 1) & (1 << 36 - 1) }
        return sequence
    }
}
