/// An in-memory network with a virtual clock that runs many `DatagramService`s in one process, deterministically
/// from a seed: datagrams are lost and delayed as `conditions` say, nodes can be killed, and the network can be cut
/// into partitions and healed.
///
/// Not thread-safe: one thread drives it. Services are called only from `run…` and `perform`, one at a time. Only
/// the next deadline of each node is scheduled (re-read after every call into it), so idle nodes cost nothing.
public final class SimulatedNetwork {
    private var core: SimulationCore

    /// Loss and delay applied to datagrams sent from now on. Stops on invalid conditions.
    public var conditions: NetworkConditions {
        willSet {
            Self.check(newValue)
            core.apply(newValue)
        }
    }

    /// An empty network whose every random draw (loss, delay) follows from `seed`. Stops on invalid conditions.
    public init(seed: UInt64, conditions: NetworkConditions = .lossless) {
        Self.check(conditions)
        self.core = SimulationCore(seed: seed)
        self.conditions = conditions
        core.apply(conditions)
    }

    private static func check(_ conditions: NetworkConditions) {
        do {
            try conditions.validate()
        } catch {
            preconditionFailure(error.description)
        }
    }

    /// The virtual time: the instant of the last event run, or the end of the last `run(until:)`.
    public var now: Instant { Instant(nanoseconds: core.now) }

    /// Counters since the network was made.
    public var statistics: SimulationStatistics { core.statistics }

    // MARK: Nodes

    /// Adds `service` at `endpoint`; a killed node's endpoint may be reused (a restart with fresh state). Stops when a
    /// live node already has that endpoint.
    public func add(_ service: some DatagramService, at endpoint: Endpoint) {
        let handle: Int
        if let existing = core.handles[endpoint] {
            precondition(!core.nodes[existing].alive, "SimulatedNetwork.add: \(endpoint) already has a live service")
            handle = existing
            core.nodes[handle].service = service
            core.nodes[handle].alive = true
            core.nodes[handle].timerAt = .max
        } else {
            precondition(core.nodes.count < SimulatedEvent.maximumReference, "SimulatedNetwork.add: too many nodes")
            handle = core.nodes.count
            core.handles.set(handle, for: endpoint)
            core.nodes.append(
                SimulationCore.Node(service: service, address: endpoint, alive: true, group: 0, timerAt: .max))
        }
        core.scheduleTimer(handle, deadline: service.nextDeadline, afterTick: false)
    }

    /// Kills the node at `endpoint`: from now on it never runs again and datagrams reaching it vanish.
    public func kill(_ endpoint: Endpoint) {
        guard let handle = core.handles[endpoint] else { return }
        core.nodes[handle].alive = false
        core.nodes[handle].timerAt = .max
    }

    /// True when a service was added at `endpoint` and not killed since.
    public func isAlive(_ endpoint: Endpoint) -> Bool {
        core.handles[endpoint].map { core.nodes[$0].alive } ?? false
    }

    /// The service at `endpoint`, dead or alive, for inspection between runs; nil when none was added there.
    public func service(at endpoint: Endpoint) -> (any DatagramService)? {
        core.handles[endpoint].map { core.nodes[$0].service }
    }

    /// Every endpoint where a service was added, in the order they were added.
    public var endpoints: [Endpoint] { core.nodes.map(\.address) }

    /// How many services were added (killed ones included).
    public var nodeCount: Int { core.nodes.count }

    /// Events waiting in the queue (datagrams in flight and timers, stale ones included).
    public var pendingEvents: Int { core.pendingEvents }

    // MARK: Partitions

    /// Cuts the network into `groups`: a datagram arriving from a node of another group is dropped. Nodes named in
    /// no group form one more group together. Replaces any earlier partition. Stops on an unknown endpoint.
    public func partition(_ groups: [[Endpoint]]) {
        heal()
        for (index, group) in groups.enumerated() {
            for endpoint in group {
                guard let handle = core.handles[endpoint] else {
                    preconditionFailure("SimulatedNetwork.partition: no service at \(endpoint)")
                }
                core.nodes[handle].group = Int32(index + 1)
            }
        }
    }

    /// Removes every partition.
    public func heal() {
        for index in core.nodes.indices { core.nodes[index].group = 0 }
    }

    // MARK: Running

    /// Runs `body` on the service at `endpoint` at the current virtual time and sends the datagrams it returns.
    /// Returns false, without calling `body`, when there is no live service there.
    @discardableResult
    public func perform(at endpoint: Endpoint, _ body: (any DatagramService, Instant) -> [Datagram]) -> Bool {
        guard let handle = core.handles[endpoint], core.nodes[handle].alive else { return false }
        core.statistics.performed += 1
        let service = core.nodes[handle].service
        let outgoing = body(service, now)
        core.finish(handle, outgoing: outgoing, deadline: service.nextDeadline, afterTick: false)
        return true
    }

    /// Runs every event due up to and including `deadline`, then sets the clock to `deadline` (if later). Returns the
    /// counters of this run.
    @discardableResult
    public func run(until deadline: Instant) -> SimulationStatistics {
        let before = core.statistics
        drain(until: deadline.nanoseconds, eventLimit: .max)
        if deadline.nanoseconds > core.now { core.now = deadline.nanoseconds }
        return core.statistics.subtracting(before)
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
        let before = core.statistics
        let (eventLimit, overflow) = before.events.addingReportingOverflow(max(0, limit))
        drain(until: .max, eventLimit: overflow ? .max : eventLimit)
        return core.statistics.subtracting(before)
    }

    private func drain(until deadline: Int64, eventLimit: Int) {
        while let call = core.nextCall(until: deadline, eventLimit: eventLimit) {
            let outgoing: [Datagram]
            if let bytes = call.bytes {
                outgoing = call.service.receive(bytes, from: call.source, now: call.now)
            } else {
                outgoing = call.service.tick(now: call.now)
            }
            core.finish(
                call.handle, outgoing: outgoing, deadline: call.service.nextDeadline, afterTick: call.bytes == nil)
        }
    }
}
