import ColonyCore
import ColonyNet

extension KRPCMessage {
    /// Decodes one datagram: canonical bencode within `BencodeLimits.datagram`, then the KRPC shape of BEP 5, 43
    /// and 44. Unknown keys are ignored; known keys of the wrong type or size are refused.
    public static func decode(_ bytes: some Collection<UInt8>) throws(KRPCDecodeError) -> KRPCMessage {
        let value: BencodeValue
        do {
            // The datagram limits bound size, depth and element count before the decoder allocates anything.
            value = try BencodeDecoder(limits: .datagram).decode(bytes)
        } catch {
            throw KRPCDecodeError(
                transactionID: nil, message: "the datagram is not valid bencode: \(error)", isQuery: false)
        }
        return try decode(bencoded: value)
    }

    /// Reads a message from an already decoded bencode value, such as a TCP frame's header.
    public static func decode(bencoded value: BencodeValue) throws(KRPCDecodeError) -> KRPCMessage {
        guard case .dictionary(let top) = value else {
            throw KRPCDecodeError(
                transactionID: nil,
                message: "the message must be a bencoded dictionary; got \(KRPCFieldReader.describe(value))",
                isQuery: false
            )
        }
        var reader = KRPCFieldReader()

        guard let t = top["t"] else { throw reader.failure("the message has no transaction ID 't'") }
        guard case .bytes(let transactionID) = t, (1...maxTransactionIDLength).contains(transactionID.count) else {
            throw reader.failure(
                "'t' must be a string of 1 to \(maxTransactionIDLength) bytes; got \(KRPCFieldReader.describe(t))"
            )
        }
        reader.transactionID = transactionID

        guard case .bytes(let kind)? = top["y"], kind.count == 1 else {
            throw reader.failure("'y' must be the 1-byte string q, r or e")
        }
        let body: Body
        switch kind[0] {
        case UInt8(ascii: "q"):
            reader.isQuery = true
            body = try reader.query(in: top)
        case UInt8(ascii: "r"):
            body = .response(try reader.response(in: top))
        case UInt8(ascii: "e"):
            body = .error(try reader.error(in: top))
        default:
            throw reader.failure(
                "'y' must be the 1-byte string q, r or e; got \(KRPCFieldReader.describe(.bytes(kind)))")
        }

        // The optional top-level keys are advisory, so a value of the wrong shape is ignored rather than fatal.
        let version = top["v"]?.bytes
        let readOnly = (top["ro"]?.integer ?? 0) != 0
        // Only the 6-byte IPv4 form is kept; BEP 32's 18-byte IPv6 form means nothing to an IPv4 node.
        let requester = top["ip"]?.bytes.flatMap { Endpoint(compact: $0) }
        return KRPCMessage(
            transactionID: transactionID,
            body: body,
            version: version,
            readOnly: readOnly,
            requester: requester
        )
    }
}

/// Reads the fields of one message and words its failures, carrying what a 203 reply needs.
struct KRPCFieldReader {
    var transactionID: [UInt8]?
    var isQuery = false

    func failure(_ message: String) -> KRPCDecodeError {
        KRPCDecodeError(transactionID: transactionID, message: message, isQuery: isQuery)
    }

    // MARK: Queries

    func query(in top: BencodeDictionary) throws(KRPCDecodeError) -> KRPCMessage.Body {
        guard let name = top["q"] else { throw failure("the query has no method name 'q'") }
        // Method names are ASCII identifiers; requiring printable ASCII keeps hostile bytes out of logs and replies.
        guard case .bytes(let nameBytes) = name, (1...KRPCMessage.maxMethodLength).contains(nameBytes.count),
            nameBytes.allSatisfy({ (0x21...0x7E).contains($0) })
        else {
            throw failure(
                "'q' must be a method name of 1 to \(KRPCMessage.maxMethodLength) printable ASCII bytes; got "
                    + Self.describe(name)
            )
        }
        let method = String(decoding: nameBytes, as: UTF8.self)
        guard let argumentsValue = top["a"] else {
            throw failure("the '\(method)' query has no argument dictionary 'a'")
        }
        guard case .dictionary(let arguments) = argumentsValue else {
            throw failure("'a' of the '\(method)' query must be a dictionary; got \(Self.describe(argumentsValue))")
        }
        let sender = try nodeID(arguments, "a.id")
        let query: KRPCQuery
        switch method {
        case KRPCMethod.ping:
            query = .ping
        case KRPCMethod.findNode:
            query = .findNode(target: try nodeID(arguments, "a.target"))
        case KRPCMethod.getPeers:
            query = .getPeers(infoHash: try nodeID(arguments, "a.info_hash"))
        case KRPCMethod.announcePeer:
            query = try announcePeer(arguments)
        case KRPCMethod.get:
            query = .get(target: try nodeID(arguments, "a.target"), seq: try integer(arguments, "a.seq"))
        case KRPCMethod.put:
            query = .put(try put(arguments))
        case KRPCMethod.probe:
            guard case .bytes(let nonce)? = arguments["nonce"], (8...32).contains(nonce.count) else {
                throw failure("co_probe needs 'a.nonce' of 8 to 32 bytes")
            }
            query = .probe(nonce: nonce)
        default:
            query = .unknown(method: method)
        }
        return .query(senderID: sender, query)
    }

    private func announcePeer(_ arguments: BencodeDictionary) throws(KRPCDecodeError) -> KRPCQuery {
        let infoHash = try nodeID(arguments, "a.info_hash")
        guard let port = try integer(arguments, "a.port") else { throw failure("announce_peer has no 'a.port'") }
        guard let port = UInt16(exactly: port) else {
            throw failure("'a.port' of announce_peer must be a port number from 0 to 65535; got \(port)")
        }
        guard let token = try bytes(arguments, "a.token") else { throw failure("announce_peer has no 'a.token'") }
        // BEP 5: present and non-zero means "use the UDP source port"; libtorrent reads any non-zero value so.
        let impliedPort = (try integer(arguments, "a.implied_port") ?? 0) != 0
        return .announcePeer(infoHash: infoHash, port: port, impliedPort: impliedPort, token: token)
    }

    private func put(_ arguments: BencodeDictionary) throws(KRPCDecodeError) -> PutArguments {
        guard let token = try bytes(arguments, "a.token") else { throw failure("put has no write token 'a.token'") }
        guard let value = arguments["v"] else { throw failure("put has no item 'a.v'") }
        let publicKey = try bytes(arguments, "a.k")
        let signature = try bytes(arguments, "a.sig")
        let seq = try integer(arguments, "a.seq")
        if let publicKey, publicKey.count != 32 {
            throw failure("'a.k' of put must be a 32-byte Ed25519 public key; got \(publicKey.count) bytes")
        }
        if let signature, signature.count != 64 {
            throw failure("'a.sig' of put must be a 64-byte Ed25519 signature; got \(signature.count) bytes")
        }
        // A mutable put cannot be verified unless key, signature and sequence number all come together (BEP 44).
        if publicKey != nil || signature != nil, publicKey == nil || signature == nil || seq == nil {
            throw failure("a mutable put needs all of 'a.k', 'a.sig' and 'a.seq'")
        }
        let salt = try bytes(arguments, "a.salt")
        return PutArguments(
            token: token,
            value: value,
            publicKey: publicKey,
            signature: signature,
            seq: seq,
            salt: salt?.isEmpty == true ? nil : salt,  // BEP 44: an empty salt is no salt.
            cas: try integer(arguments, "a.cas")
        )
    }

    // MARK: Responses and errors

    func response(in top: BencodeDictionary) throws(KRPCDecodeError) -> KRPCResponse {
        guard let returnValue = top["r"] else { throw failure("the response has no return dictionary 'r'") }
        guard case .dictionary(let values) = returnValue else {
            throw failure("'r' must be a dictionary; got \(Self.describe(returnValue))")
        }
        var response = KRPCResponse(id: try nodeID(values, "r.id"))
        if let nodes = values["nodes"] {
            guard case .bytes(let compact) = nodes, let infos = NodeInfo.decodeCompactList(compact) else {
                throw failure(
                    "'r.nodes' must be a string of 26-byte compact node infos; got \(Self.describe(nodes))"
                )
            }
            response.nodes = infos
        }
        if let peers = values["values"] {
            guard case .list(let entries) = peers else {
                throw failure("'r.values' must be a list of compact peers; got \(Self.describe(peers))")
            }
            // BEP 32 lets an IPv6 reply mix in 18-byte peers; an IPv4 node skips whatever it cannot use.
            response.values = entries.compactMap { $0.bytes.flatMap { Endpoint(compact: $0) } }
        }
        response.token = try bytes(values, "r.token")
        response.value = values["v"]
        response.publicKey = try bytes(values, "r.k")
        response.signature = try bytes(values, "r.sig")
        response.seq = try integer(values, "r.seq")
        return response
    }

    func error(in top: BencodeDictionary) throws(KRPCDecodeError) -> KRPCError {
        guard case .list(let elements)? = top["e"], case .integer(let code)? = elements.first else {
            throw failure("'e' must be a list starting with an integer error code")
        }
        // Clients differ here: some send no text, extra elements, or text that is not UTF-8. None of that stops the
        // caller from acting on the code.
        let message = elements.count > 1 ? elements[1].bytes.map { String(decoding: $0, as: UTF8.self) } ?? "" : ""
        return KRPCError(code: Int(truncatingIfNeeded: code), message: message)
    }

    // MARK: Fields

    /// The 20-byte ID under `path`'s last component ("a.id" reads "id"); required.
    private func nodeID(_ dictionary: BencodeDictionary, _ path: String) throws(KRPCDecodeError) -> NodeID {
        guard let value = dictionary[Self.key(path)] else { throw failure("'\(path)' is missing") }
        guard case .bytes(let raw) = value, let id = NodeID(bytes: raw) else {
            throw failure("'\(path)' must be a 20-byte string; got \(Self.describe(value))")
        }
        return id
    }

    /// The byte string under `path`'s last component, or nil when absent; any other type is refused.
    private func bytes(_ dictionary: BencodeDictionary, _ path: String) throws(KRPCDecodeError) -> [UInt8]? {
        guard let value = dictionary[Self.key(path)] else { return nil }
        guard case .bytes(let raw) = value else {
            throw failure("'\(path)' must be a string; got \(Self.describe(value))")
        }
        return raw
    }

    /// The integer under `path`'s last component, or nil when absent; any other type is refused.
    private func integer(_ dictionary: BencodeDictionary, _ path: String) throws(KRPCDecodeError) -> Int64? {
        guard let value = dictionary[Self.key(path)] else { return nil }
        guard case .integer(let number) = value else {
            throw failure("'\(path)' must be an integer; got \(Self.describe(value))")
        }
        return number
    }

    private static func key(_ path: String) -> String {
        String(path[path.index(after: path.firstIndex(of: ".")!)...])
    }

    /// The type and size of a value, never its content: the content is hostile and may not be printable.
    static func describe(_ value: BencodeValue) -> String {
        switch value {
        case .integer: return "an integer"
        case .bytes(let raw): return "a \(raw.count)-byte string"
        case .list(let elements): return "a list of \(elements.count) elements"
        case .dictionary(let dictionary): return "a dictionary of \(dictionary.count) keys"
        }
    }
}
