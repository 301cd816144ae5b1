import ColonyCore
import ColonyDHT
import ColonyNet
import ColonyWork
import Foundation
import Synchronization

/// Whether other peers can open a connection to this one (DESIGN.md, Networks).
public enum Reachability: String, Sendable {
    /// Not checked yet: the peer serves those who reach it, but takes no role that needs others to reach it.
    case unknown
    /// Dialed back on UDP and TCP from an address it never contacted: it may keep custody and blobs.
    case reachable
    /// No dial-back arrived: a client only (a BEP 43 read-only DHT node, no custody, no blobs).
    case unreachable
}

/// How a peer decides its reachability.
public enum ReachabilityMode: Sendable {
    /// Reachable without a check: every peer on one machine, as in the demo and tests.
    case assumed
    /// Checked by dial-back when it starts, again every 10 minutes and whenever its external address changes.
    case checked
}

/// A peer's reachability and the dial-back checks in flight. Shared with the blob peer's replica filter, so a
/// class of its own.
final class ReachabilityState: Sendable {
    struct Check {
        var udp = false
        var tcp = false
        /// Who was asked; a probe from that endpoint proves nothing (this peer contacted it).
        var asked: Endpoint
        var started: Date
    }

    struct State {
        var status = Reachability.unknown
        var checks: [[UInt8]: Check] = [:]
        /// Failed checks in a row: the next is `backoff` later.
        var failures = 0
        var nextCheck = Date()
        var externalAddress: Endpoint?
        /// When each address last asked this peer for a dial-back or a probe.
        var served: [UInt32: Date] = [:]
    }

    let state: Mutex<State>

    init(_ status: Reachability) { state = Mutex(State(status: status)) }

    var status: Reachability { state.withLock { $0.status } }
    var isReachable: Bool { status == .reachable }

    /// Signalled on every change of status, for those waiting on one.
    private let changes = NSCondition()

    /// Wakes those waiting in `wait(for:until:)`; called after the status changed.
    func changed() {
        changes.lock()
        changes.broadcast()
        changes.unlock()
    }

    /// Waits until the status is `wanted` or `deadline` passes; true when it is.
    func wait(for wanted: Reachability, until deadline: Date) -> Bool {
        changes.lock()
        defer { changes.unlock() }
        while status != wanted {
            guard changes.wait(until: deadline) else { return status == wanted }
        }
        return true
    }
}

extension ColonyPeer {
    // MARK: Reachability

    /// Whether others can reach this peer, as far as it knows.
    public var reachability: Reachability { reach.status }

    /// Waits until this peer's reachability is `status`, at most `timeout` seconds; true when it is.
    public func waitForReachability(_ status: Reachability, timeout: Double) -> Bool {
        reach.wait(for: status, until: Date() + timeout)
    }

    /// This peer's address as three DHT nodes agree they see it (BEP 42), when they do.
    public var externalAddress: Endpoint? { blobs.node.externalAddress }

    /// The port others reach this peer on: the advertised one (a router forwarding a port), else its own.
    var reachablePort: UInt16 { configuration.advertised?.port ?? endpoint.port }

    /// Starts deciding reachability (`ReachabilityMode.checked`): the DHT marks its queries read-only until a
    /// dial-back arrives, probes are noted, and a check runs now and again.
    func startReachability() {
        if let advertised = configuration.advertised { blobs.node.setOwnEndpoint(advertised) }
        guard configuration.reachability == .checked, !configuration.oneShot else { return }
        blobs.node.setReadOnly(false, marksQueries: true)
        blobs.node.onProbe { [weak self] nonce, source in self?.probed(nonce, from: source, udp: true) }
        let timer = DispatchSource.makeTimerSource(queue: reachQueue)
        timer.schedule(deadline: .now() + 0.5, repeating: 1)
        timer.setEventHandler { [weak self] in self?.reachabilityTick() }
        timer.resume()
        reachTimer = timer
    }

    func stopReachability() {
        reachTimer?.cancel()
    }

    /// Once a second: a check when one is due, or when the external address others see changed.
    private func reachabilityTick() {
        guard isRunning else { return }
        let external = blobs.node.externalAddress
        let (due, moved) = reach.state.withLock { state -> (Bool, Bool) in
            let moved = external != nil && external != state.externalAddress
            if moved {
                state.externalAddress = external
                state.nextCheck = Date()
            }
            return (Date() >= state.nextCheck, moved)
        }
        if moved, let external {
            log("other peers see this peer as \(external)")
            // Bound to every address, the peer learns the one others reach from their votes.
            if configuration.advertised == nil, endpoint.address == 0 {
                blobs.node.setOwnEndpoint(Endpoint(address: external.address, port: endpoint.port))
            }
        }
        if due { checkReachability() }
    }

    /// Asks up to three Colony peers near this one to have it dialed back, and waits a moment for the probes.
    /// Reachable as soon as one check's UDP and TCP probes both arrived; unreachable when peers answered and
    /// none did; unchanged when nobody answered (no peer to ask is no evidence).
    func checkReachability() {
        // Neighbours on a network this host is attached to reach it without crossing any NAT: their dial-back
        // counts only when no peer farther away is known (a swarm that lives on one LAN).
        let known = closestNodes(to: blobs.node.id.bytes, count: 8, refresh: true).filter { $0 != endpoint }
        let far = known.filter { !LocalNetworks.contains($0.address) }
        let helpers = far.isEmpty ? known : far
        var asked: [Endpoint] = []
        for helper in helpers.prefix(3) {
            guard isRunning else { return }
            let nonce = SecureRandom.bytes(count: 16)
            reach.state.withLock { state in
                state.checks = state.checks.filter { Date().timeIntervalSince($0.value.started) < 60 }
                state.checks[nonce] = ReachabilityState.Check(asked: helper, started: Date())
            }
            let frame = CustodyWire.frame("co_dialback", [("nonce", .bytes(nonce)), ("port", .integer(Int64(reachablePort)))])
            guard let reply = try? request(frame, to: helper, timeout: 20) else { continue }
            asked.append(helper)
            probeBack(reply, helper: helper)
            // The probes come on the DHT's and the server's threads, and a reply may outrun its UDP probe.
            if reach.wait(for: .reachable, until: Date() + 2) { break }
        }
        let status = reach.status
        let outcome: Reachability? = status == .reachable ? .reachable : asked.isEmpty ? nil : .unreachable
        let delay = reach.state.withLock { state -> Double in
            switch outcome {
            case .reachable?: state.failures = 0
            case .unreachable?: state.failures += 1
            default: break
            }
            // Reachable: checked again every 10 minutes. Not: 30 s, doubling to 10 minutes (a router may start
            // forwarding). Nobody to ask: 2 s, doubling to 30 s (a peer may soon join).
            let delay: Double =
                switch outcome {
                case .reachable?: 600
                case .unreachable?: min(30 * pow(2, Double(state.failures - 1)), 600)
                default: min(2 * pow(2, Double(min(state.failures, 4))), 30)
                }
            state.nextCheck = Date() + delay
            return delay
        }
        if outcome == .unreachable {
            setReachability(
                .unreachable,
                because: "no dial-back arrived through \(asked.map(\.description).joined(separator: ", ")); checked again in \(Int(delay)) s")
        }
    }

    /// A helper that does not know its own reachability asks the asker to probe it back (the asker reached it:
    /// the asker's fresh sockets are addresses it never contacted).
    private func probeBack(_ reply: Frame, helper: Endpoint) {
        guard let nonce = reply.header["probe"]?.bytes, (8...32).contains(nonce.count),
            let port = CustodyWire.int(reply, "port"), (1...65_535).contains(port)
        else { return }
        let target = Endpoint(address: helper.address, port: UInt16(port))
        DispatchQueue.global().async { [self] in _ = probe(target, nonce: nonce) }
    }

    /// Changes the status and the roles that follow it; logs once per change.
    func setReachability(_ status: Reachability, because reason: String) {
        let changed = reach.state.withLock { state -> Bool in
            defer { state.status = status }
            return state.status != status
        }
        guard changed else { return }
        defer { reach.changed() }
        switch status {
        case .reachable:
            blobs.node.setReadOnly(false, marksQueries: false)
            log("reachable: \(reason); this peer may keep custody and blobs")
            // A lookup of its own ID tells the neighbourhood this node now serves: they verify and table it.
            DispatchQueue.global().async { [self] in _ = closestNodes(to: blobs.node.id.bytes, count: 1, refresh: true) }
        case .unreachable:
            blobs.node.setReadOnly(true, marksQueries: true)
            log("not reachable from outside: \(reason); working as a client (read-only DHT node, no custody, no blobs)")
        case .unknown:
            blobs.node.setReadOnly(false, marksQueries: true)
        }
    }

    /// A probe arrived (UDP from the DHT, TCP from the server): when it completes a check, this peer is reachable.
    func probed(_ nonce: [UInt8], from source: Endpoint, udp: Bool) {
        let complete = reach.state.withLock { state -> Endpoint? in
            guard var check = state.checks[nonce], source != check.asked else { return nil }
            if udp { check.udp = true } else { check.tcp = true }
            state.checks[nonce] = check
            return check.udp && check.tcp ? check.asked : nil
        }
        if let asked = complete {
            let from = source.address == asked.address ? "fresh ports of \(source.host)" : source.host
            setReachability(.reachable, because: "dialed back on UDP and TCP from \(from) (asked \(asked))")
        }
    }

    /// Whether `address` asked for a dial-back or a probe in the last second (and notes that it asks now): each
    /// answer costs a connection and a datagram to someone, so an address gets one a second.
    func servedRecently(_ address: UInt32) -> Bool {
        reach.state.withLock { state in
            let now = Date()
            if let last = state.served[address], now.timeIntervalSince(last) < 1 { return true }
            if state.served.count >= 4_096 { state.served = state.served.filter { now.timeIntervalSince($0.value) < 1 } }
            if state.served.count >= 4_096 { state.served.removeAll() }
            state.served[address] = now
            return false
        }
    }

    /// `co_dialback` from `peer`: probes the address it came from at the port it names, through a third peer when
    /// one is known (an address it never contacted at all), else from fresh sockets here. Asks the asker to probe
    /// back when this peer's own reachability is not known.
    func answerDialBack(_ frame: Frame, from peer: Endpoint) throws(CustodyError) -> Frame {
        guard let nonce = frame.header["nonce"]?.bytes, (8...32).contains(nonce.count),
            let port = CustodyWire.int(frame, "port"), (1...65_535).contains(port)
        else { throw CustodyError.malformed("co_dialback needs a nonce of 8 to 32 bytes and a port") }
        guard !configuration.oneShot else { throw CustodyError("refused", "a one-shot command does not dial back") }
        guard !servedRecently(peer.address) else { throw CustodyError("busy", "one dial-back a second per address") }
        let target = Endpoint(address: peer.address, port: UInt16(port))
        var by = "\(endpoint)"
        let third = blobs.node.withNode { node, _ in
            (node.table.closest(to: node.id, count: 16).map(\.endpoint).filter { $0.address != peer.address && $0 != endpoint }, [])
        }
        var done = false
        if let prober = third.first {
            let ask = CustodyWire.frame("co_probe_for", [("target", .bytes(target.compact)), ("nonce", .bytes(nonce))])
            if (try? request(ask, to: prober, timeout: 8)) != nil {
                done = true
                by = "\(prober)"
            }
        }
        if !done { _ = probe(target, nonce: nonce) }
        var fields: [(String, BencodeValue)] = [("by", .text(by))]
        // Probed back only by a peer that is not a LAN neighbour (see `checkReachability`).
        if configuration.reachability == .checked, reach.status != .reachable, !LocalNetworks.contains(peer.address) {
            let mine = SecureRandom.bytes(count: 16)
            reach.state.withLock { state in
                state.checks[mine] = ReachabilityState.Check(asked: peer, started: Date())
            }
            fields += [("probe", .bytes(mine)), ("port", .integer(Int64(reachablePort)))]
        }
        return CustodyWire.frame("ok", fields)
    }

    /// `co_probe_for` from `peer`: probes the target it names.
    func answerProbeFor(_ frame: Frame, from peer: Endpoint) throws(CustodyError) -> Frame {
        guard let nonce = frame.header["nonce"]?.bytes, (8...32).contains(nonce.count),
            let targetBytes = frame.header["target"]?.bytes, let target = Endpoint(compact: targetBytes), target.port != 0
        else { throw CustodyError.malformed("co_probe_for needs a nonce of 8 to 32 bytes and a 6-byte target") }
        guard !configuration.oneShot else { throw CustodyError("refused", "a one-shot command does not probe") }
        guard !servedRecently(peer.address) else { throw CustodyError("busy", "one probe a second per address") }
        let tcp = probe(target, nonce: nonce)
        return CustodyWire.frame("ok", [("tcp", .integer(tcp ? 1 : 0))])
    }

    /// Probes `target` with `nonce` from sockets opened for it: a `co_probe` datagram to its DHT port, then a
    /// `co_probe` frame on a new TCP connection. True when the TCP probe was answered.
    @discardableResult
    func probe(_ target: Endpoint, nonce: [UInt8]) -> Bool {
        let datagram = KRPCMessage(
            transactionID: Array(nonce.prefix(4)), body: .query(senderID: blobs.node.id, .probe(nonce: nonce)),
            version: DHTConfiguration().version, readOnly: true, requester: nil)
        try? OneShotDatagram.send(datagram.encoded(), to: target, from: pool.localHost)
        do {
            let connection = try FrameConnection.connect(to: target, from: pool.localHost, timeout: 5)
            defer { connection.close() }
            try connection.send(CustodyWire.frame("co_probe", [("nonce", .bytes(nonce))]), timeout: 5)
            _ = try connection.receive(timeout: 5)
            return true
        } catch {
            return false
        }
    }
}
