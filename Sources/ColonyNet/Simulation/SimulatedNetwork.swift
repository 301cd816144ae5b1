/// An in-memory network with a virtual clock that runs many `DatagramService`s in one process, deterministically
/// from a seed: datagrams are lost and delayed as `conditions` say, nodes can be killed, and the network can be cut
/// into partitions and healed.
///
/// Not thread-safe: one thread drives it. Services are called only from `run…` and `perform`, one at a time.
public final class SimulatedNetwork {
    /// The virtual time: the instant of the last event run, or the end of the last `run(until:)`.
    public private(set) var now: Instant = .zero
    /// Counters since the network was made.
    public private(set) var statistics = SimulationStatistics()
    /// Loss and delay applied to datagrams sent from now on.
    public var conditions: NetworkConditions {
        didSet { applyConditions() }
    }

    // Node state in parallel arrays indexed by handle, so a step touches a few contiguous values and never hashes.
    private var services: [any DatagramService] = []
    private var addresses: [Endpoint] = []
    private var alive: [Bool] = []
    private var groups: [Int32] = []
    /// Per node, the time of its one live timer event; `Int64.max` when none. Timer events at other times are stale.
    private var timerAt: [Int64] = []
    private var handles: [Endpoint: Int] = [:]

    private var queue = EventQueue()
    private var sequence: UInt64 = 0
    private var random: SeededGenerator

    // Datagrams in flight: bytes and source handle by slot, with reusable slots.
    private var payloads: [[UInt8]] = []
    private var payloadSources: [Int32] = []
    private var freeSlots: [Int32] = []

    private var minimumDelay: Int64 = 0
    private var delaySpan: UInt64 = 0

    /// A service whose deadline is not in the future right after a tick is ticked again this much later, so that a
    /// faulty service cannot stop virtual time.
    private static let retickDelay: Int64 = 1_000_000

    /// An empty network whose every random draw (loss, delay) follows from `seed`. Stops on invalid conditions.
    public init(seed: UInt64, conditions: NetworkConditions = .lossless) {
        self.random = SeededGenerator(seed: seed)
        self.conditions = conditions
        applyConditions()
    }

    private func applyConditions() {
        do {
            try conditions.validate()
        } catch {
            preconditionFailure(error.description)
        }
        minimumDelay = Int64(conditions.minimumDelay * 1e9)
        delaySpan = UInt64(max(0, Int64(conditions.maximumDelay * 1e9) - minimumDelay))
    }

    // MARK: Nodes

    /// Adds `service` at `endpoint`; a killed node's endpoint may be reused (a restart with fresh state). Stops when a
    /// live node already has that endpoint.
    public func add(_ service: some DatagramService, at endpoint: Endpoint) {
        let handle: Int
        if let existing = handles[endpoint] {
            precondition(!alive[existing], "SimulatedNetwork.add: \(endpoint) already has a live service")
            handle = existing
            services[handle] = service
            alive[handle] = true
            timerAt[handle] = .max
        } else {
            precondition(services.count < Int(Int32.max), "SimulatedNetwork.add: too many nodes")
            handle = services.count
            handles[endpoint] = handle
            services.append(service)
            addresses.append(endpoint)
            alive.append(true)
            groups.append(0)
            timerAt.append(.max)
        }
        scheduleTimer(handle, afterTick: false)
    }

    /// Kills the node at `endpoint`: from now on it never runs again and datagrams reaching it vanish.
    public func kill(_ endpoint: Endpoint) {
        guard let handle = handles[endpoint] else { return }
        alive[handle] = false
        timerAt[handle] = .max
    }

    /// True when a service was added at `endpoint` and not killed since.
    public func isAlive(_ endpoint: Endpoint) -> Bool {
        handles[endpoint].map { alive[$0] } ?? false
    }

    /// The service at `endpoint`, dead or alive, for inspection between runs; nil when none was added there.
    public func service(at endpoint: Endpoint) -> (any DatagramService)? {
        handles[endpoint].map { services[$0] }
    }

    /// Every endpoint where a service was added, in the order they were added.
    public var endpoints: [Endpoint] { addresses }

    /// How many services were added (killed ones included).
    public var nodeCount: Int { services.count }

    /// Events waiting in the queue (datagrams in flight and timers, stale ones included).
    public var pendingEvents: Int { queue.count }

    // MARK: Partitions

    /// Cuts the network into `groups`: a datagram arriving from a node of another group is dropped. Nodes named in
    /// no group form one more group together. Replaces any earlier partition. Stops on an unknown endpoint.
    public func partition(_ groups: [[Endpoint]]) {
        heal()
        for (index, group) in groups.enumerated() {
            for endpoint in group {
                guard let handle = handles[endpoint] else {
                    preconditionFailure("SimulatedNetwork.partition: no service at \(endpoint)")
                }
                self.groups[handle] = Int32(index + 1)
            }
        }
    }

    /// Removes every partition.
    public func heal() {
        for index in groups.indices { groups[index] = 0 }
    }

    // MARK: Running

    /// Runs `body` on the service at `endpoint` at the current virtual time and sends the datagrams it returns.
    /// Returns false, without calling `body`, when there is no live service there.
    @discardableResult
    public func perform(at endpoint: Endpoint, _ body: (any DatagramService, Instant) -> [Datagram]) -> Bool {
        guard let handle = handles[endpoint], alive[handle] else { return false }
        statistics.performed += 1
        let outgoing = body(services[handle], now)
        send(outgoing, from: handle)
        scheduleTimer(handle, afterTick: false)
        return true
    }

    /// Runs every event due up to and including `deadline`, then sets the clock to `deadline` (if later). Returns the
    /// counters of this run.
    @discardableResult
    public func run(until deadline: Instant) -> SimulationStatistics {
        let before = statistics
        while let next = queue.first, next.time <= deadline.nanoseconds {
            step()
        }
        if deadline > now { now = deadline }
        return statistics.subtracting(before)
    }

    /// Runs for `seconds` of virtual time. Returns the counters of this run.
    @discardableResult
    public func run(for seconds: Double) -> SimulationStatistics {
        run(until: now.adding(seconds: seconds))
    }

    /// Runs events until none is left or `limit` events have run. Returns the counters of this run; its `events`
    /// equals `limit` when the network did not fall idle.
    @discardableResult
    public func runUntilIdle(limit: Int = 10_000_000) -> SimulationStatistics {
        let before = statistics
        var remaining = limit
        while remaining > 0, !queue.isEmpty {
            step()
            remaining -= 1
        }
        return statistics.subtracting(before)
    }

    /// Runs the earliest event.
    private func step() {
        guard let event = queue.pop() else { return }
        now = Instant(nanoseconds: event.time)
        statistics.events += 1
        let handle = Int(event.node)
        if event.slot >= 0 {
            let slot = Int(event.slot)
            let bytes = payloads[slot]
            let source = Int(payloadSources[slot])
            payloads[slot] = []
            freeSlots.append(event.slot)
            guard alive[handle] else {
                statistics.toDead += 1
                return
            }
            guard groups[handle] == groups[source] else {
                statistics.partitioned += 1
                return
            }
            statistics.delivered += 1
            let outgoing = services[handle].receive(bytes, from: addresses[source], now: now)
            send(outgoing, from: handle)
            scheduleTimer(handle, afterTick: false)
        } else {
            guard alive[handle], timerAt[handle] == event.time else { return }
            timerAt[handle] = .max
            statistics.ticks += 1
            let outgoing = services[handle].tick(now: now)
            send(outgoing, from: handle)
            scheduleTimer(handle, afterTick: true)
        }
    }

    /// Puts `datagrams` in flight from node `source`.
    private func send(_ datagrams: [Datagram], from source: Int) {
        for datagram in datagrams {
            statistics.sent += 1
            guard let destination = handles[datagram.endpoint] else {
                statistics.unroutable += 1
                continue
            }
            if conditions.loss > 0, random.nextUnitDouble() < conditions.loss {
                statistics.lost += 1
                continue
            }
            let delay = delaySpan == 0 ? minimumDelay : minimumDelay + Int64(random.next(upperBound: delaySpan + 1))
            let slot: Int32
            if let free = freeSlots.popLast() {
                slot = free
                payloads[Int(slot)] = datagram.bytes
                payloadSources[Int(slot)] = Int32(source)
            } else {
                slot = Int32(payloads.count)
                payloads.append(datagram.bytes)
                payloadSources.append(Int32(source))
            }
            push(SimulatedEvent(time: now.nanoseconds + delay, sequence: 0, node: Int32(destination), slot: slot))
        }
    }

    /// Re-reads the node's deadline after a call into it and schedules one timer event if it moved.
    private func scheduleTimer(_ handle: Int, afterTick: Bool) {
        guard let deadline = services[handle].nextDeadline else {
            timerAt[handle] = .max
            return
        }
        var time = max(deadline.nanoseconds, now.nanoseconds)
        if afterTick, time == now.nanoseconds { time += Self.retickDelay }
        guard time != timerAt[handle] else { return }
        timerAt[handle] = time
        push(SimulatedEvent(time: time, sequence: 0, node: Int32(handle), slot: -1))
    }

    private func push(_ event: SimulatedEvent) {
        var event = event
        event.sequence = sequence
        sequence &+= 1
        queue.push(event)
    }
}
