import ColonyCore
import ColonyNet

extension DHTNode {
    /// The key of `statistics.queriesReceived` that counts every method this node does not know.
    public static let unknownMethodStatistic = "(unknown)"

    /// Answers a query: BEP 5's four methods, BEP 44's get and put, error 204 for anything else.
    func answer(_ query: KRPCQuery, from sender: NodeInfo, message: KRPCMessage, now: Instant) -> [Datagram] {
        // A dial-back probe is never answered, whatever the node's role: its arrival is all it says.
        if case .probe(let nonce) = query {
            statistics.queriesReceived[KRPCMethod.probe, default: 0] += 1
            onProbe?(nonce, sender.endpoint)
            return []
        }
        // BEP 43: a read-only node answers nothing.
        guard !configuration.readOnly else { return [] }
        // Unknown methods share one counter: the method name is the sender's choice, and a key per name would let
        // a flood of made-up names grow the statistics without bound.
        let counted: String
        if case .unknown = query { counted = Self.unknownMethodStatistic } else { counted = query.method }
        statistics.queriesReceived[counted, default: 0] += 1
        var out: [Datagram] = []
        // BEP 43: a read-only sender is served but kept out of the table. Others are verified with a ping before
        // they count (BEP 5: a node that only ever queried us is not known to be good).
        if message.readOnly, table.node(sender.id)?.endpoint == sender.endpoint {
            // A node in the table that now says it is read-only (it found it cannot be reached from outside, or
            // does not know yet) leaves it: others learn of it from this node's replies and then wait on it in
            // every lookup (netlab nat-mixed: a NAT'd worker this node could reach through the NAT's mapping for
            // this node alone cost each lookup of a third peer 2.5 s). Only from the endpoint the table holds, so
            // that nobody else can evict a node by naming its ID.
            table.remove(sender.id)
        }
        if !message.readOnly && sender.id != id && isAcceptable(sender) {
            if table.contains(sender.id) {
                table.heard(from: sender, .query, now: now)
            } else if verifying.count < 64 && !verifying.contains(sender.id) {
                verifying.insert(sender.id)
                if let ping = sendQuery(.ping, to: sender.endpoint, nodeID: sender.id, owner: .verify, now: now) {
                    out.append(ping)
                }
            }
        }
        let transactionID = message.transactionID
        let source = sender.endpoint
        // BEP 5 replies carry k nodes. Colony nodes get more: when many nodes have died unnoticed, the extra
        // ones are what lets a lookup still reach the true closest live nodes (30 % dead, 10,000 nodes: 93 % of
        // lookups exact with 8, 100 % with 16). Other clients get the standard 8.
        let replyCount = DHTConfiguration.isColony(message.version) ? configuration.colonyReplyNodes : configuration.k
        var response = KRPCResponse(id: id)
        switch query {
        case .ping:
            break
        case .findNode(let target):
            response.nodes = table.closest(to: target, count: replyCount)
        case .getPeers(let infoHash):
            response.token = tokens.token(for: source.address, target: infoHash, now: now)
            let peers = storage.peers(for: infoHash, max: 50)
            if !peers.isEmpty { response.values = peers }
            response.nodes = table.closest(to: infoHash, count: replyCount)
        case .announcePeer(let infoHash, let port, let impliedPort, let token):
            guard tokens.isValid(token, for: source.address, target: infoHash, now: now) else {
                return out + [errorReply(transactionID, KRPCError(code: KRPCErrorCode.protocolError, message: "invalid token"), to: source)]
            }
            let peerPort = impliedPort ? source.port : port
            guard peerPort != 0 else {
                return out + [errorReply(transactionID, KRPCError(code: KRPCErrorCode.protocolError, message: "invalid port"), to: source)]
            }
            let peer = Endpoint(address: source.address, port: peerPort)
            if let refusal = storage.tryAnnounce(peer: peer, infoHash: infoHash, now: now) {
                // Told, not silently dropped: an honest announcer learns to look for room on other close nodes.
                statistics.announcesRefused[refusal.reason, default: 0] += 1
                let error = KRPCError(code: KRPCErrorCode.server, message: "not stored: \(refusal.reason)")
                return out + [errorReply(transactionID, error, to: source)]
            }
        case .get(let target, let seq):
            response.token = tokens.token(for: source.address, target: target, now: now)
            response.nodes = table.closest(to: target, count: replyCount)
            if let item = storage.immutable(target) {
                response.value = item.value
            } else if let item = storage.mutable(target) {
                response.seq = item.seq
                if seq == nil || item.seq > seq! {
                    response.value = item.value
                    response.publicKey = item.publicKey
                    response.signature = item.signature
                }
            }
        case .put(let arguments):
            if let error = store(arguments, from: source, now: now) {
                return out + [errorReply(transactionID, error, to: source)]
            }
        case .probe:
            return out
        case .unknown(let method):
            return out + [errorReply(transactionID, KRPCError(code: KRPCErrorCode.methodUnknown, message: "method unknown: \(method.prefix(32))"), to: source)]
        }
        return out + [reply(transactionID, response, to: source)]
    }

    /// Checks and stores a BEP 44 put; the KRPC error to answer with, or nil when stored. Every check comes
    /// before any change.
    private func store(_ arguments: PutArguments, from source: Endpoint, now: Instant) -> KRPCError? {
        let invalidToken = KRPCError(code: KRPCErrorCode.protocolError, message: "invalid token")
        do throws(StoreError) {
            if let publicKey = arguments.publicKey {
                guard let signature = arguments.signature, let seq = arguments.seq else {
                    return KRPCError(code: KRPCErrorCode.protocolError, message: "mutable put needs sig and seq")
                }
                let item = MutableItem(
                    publicKey: publicKey, salt: arguments.salt ?? [], seq: seq, value: arguments.value,
                    signature: signature)
                // Tokens are bound to the target, as get issued them: a token for one item cannot write another.
                // Checked before the signature, which costs far more.
                guard tokens.isValid(arguments.token, for: source.address, target: item.target, now: now) else {
                    return invalidToken
                }
                try storage.store(item, cas: arguments.cas, now: now)
            } else {
                let item = ImmutableItem(value: arguments.value)
                guard tokens.isValid(arguments.token, for: source.address, target: item.target, now: now) else {
                    return invalidToken
                }
                try storage.store(item, now: now)
            }
        } catch {
            return KRPCError(code: error.code, message: error.message)
        }
        return nil
    }
}
