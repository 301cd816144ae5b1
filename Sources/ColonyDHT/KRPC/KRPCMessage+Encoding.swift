import ColonyCore
import ColonyNet

extension KRPCMessage {
    /// The canonical bencoding of this message, ready to send.
    public func encoded() -> [UInt8] {
        bencoded.encoded()
    }

    /// This message as a bencode dictionary; `encoded()` is its encoding.
    public var bencoded: BencodeValue {
        var top = BencodeDictionary()
        top["t"] = .bytes(transactionID)
        switch body {
        case .query(let sender, let query):
            top["y"] = "q"
            top["q"] = .text(query.method)
            top["a"] = .dictionary(Self.arguments(of: query, sender: sender))
        case .response(let response):
            top["y"] = "r"
            top["r"] = .dictionary(Self.returnValues(of: response))
        case .error(let error):
            top["y"] = "e"
            top["e"] = .list([.integer(Int64(error.code)), .text(error.message)])
        }
        if let version { top["v"] = .bytes(version) }
        if readOnly { top["ro"] = 1 }
        if let requester { top["ip"] = .bytes(requester.compact) }
        return .dictionary(top)
    }

    private static func arguments(of query: KRPCQuery, sender: NodeID) -> BencodeDictionary {
        var arguments = BencodeDictionary()
        arguments["id"] = .bytes(sender.bytes)
        switch query {
        case .ping, .unknown:
            break
        case .findNode(let target):
            arguments["target"] = .bytes(target.bytes)
        case .getPeers(let infoHash):
            arguments["info_hash"] = .bytes(infoHash.bytes)
        case .announcePeer(let infoHash, let port, let impliedPort, let token):
            arguments["info_hash"] = .bytes(infoHash.bytes)
            arguments["port"] = .integer(Int64(port))
            arguments["token"] = .bytes(token)
            // Absent means 0 (BEP 5), so only the set flag goes on the wire.
            if impliedPort { arguments["implied_port"] = 1 }
        case .probe(let nonce):
            arguments["nonce"] = .bytes(nonce)
        case .get(let target, let seq):
            arguments["target"] = .bytes(target.bytes)
            if let seq { arguments["seq"] = .integer(seq) }
        case .put(let put):
            arguments["token"] = .bytes(put.token)
            arguments["v"] = put.value
            if let key = put.publicKey { arguments["k"] = .bytes(key) }
            if let signature = put.signature { arguments["sig"] = .bytes(signature) }
            if let seq = put.seq { arguments["seq"] = .integer(seq) }
            // BEP 44: an empty salt is the same as none and is neither hashed nor signed.
            if let salt = put.salt, !salt.isEmpty { arguments["salt"] = .bytes(salt) }
            if let cas = put.cas { arguments["cas"] = .integer(cas) }
        }
        return arguments
    }

    private static func returnValues(of response: KRPCResponse) -> BencodeDictionary {
        var values = BencodeDictionary()
        values["id"] = .bytes(response.id.bytes)
        if let nodes = response.nodes { values["nodes"] = .bytes(NodeInfo.encodeCompactList(nodes)) }
        if let peers = response.values { values["values"] = .list(peers.map { .bytes($0.compact) }) }
        if let token = response.token { values["token"] = .bytes(token) }
        if let value = response.value { values["v"] = value }
        if let key = response.publicKey { values["k"] = .bytes(key) }
        if let signature = response.signature { values["sig"] = .bytes(signature) }
        if let seq = response.seq { values["seq"] = .integer(seq) }
        return values
    }
}
