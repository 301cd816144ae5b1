import ColonyCore
import ColonyDHT
import ColonyKernel
import ColonyNet
import Foundation

/// `colony dht put`: stores a BEP 44 item on the nodes closest to its target.
enum DHTPutCommand: Command {
    static let description = CommandDescription(
        name: "put",
        abstract: "Store an item in the DHT (BEP 44) and print its target",
        discussion: """
            VALUE is stored as a byte string (at most 1,000 bytes bencoded). Immutable items live under the \
            SHA-1 of their bencoding. With --mutable the item is signed with the data directory's Ed25519 key \
            and lives under SHA-1(public key + salt); a later put with a higher --seq replaces it. Prints the \
            target and how many of the closest nodes stored it.
            """,
        positionals: [PositionalDescription("VALUE", help: "The text to store.")],
        options: [
            .bootstrap,
            .flag("mutable", help: "Store a mutable item signed with this data directory's key."),
            .value("salt", "S", help: "Mutable items: a salt (at most 64 bytes), so one key can sign many items."),
            .value("seq", "N", help: "Mutable items: the sequence number (default: the current time in seconds)."),
            .dataDir, .dhtPort, .timeout, .json,
        ],
        examples: [
            "colony dht put --bootstrap 127.0.0.1:6881 'hello'",
            "colony dht put --bootstrap 127.0.0.1:6881 --mutable --salt status 'version 2'",
        ]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        guard let text = arguments.positionals.first else {
            throw UsageError("missing VALUE", commandPath: arguments.commandPath)
        }
        let value = BencodeValue.bytes(Array(text.utf8))
        guard value.encodedCount <= ItemLimits.maxValueSize else {
            throw InputError("VALUE is \(value.encodedCount) bytes bencoded; BEP 44 allows at most \(ItemLimits.maxValueSize)")
        }
        let mutable = arguments.flag("mutable")
        let salt = Array((arguments.value("salt") ?? "").utf8)
        if !mutable && (arguments.value("salt") != nil || arguments.value("seq") != nil) {
            throw UsageError("--salt and --seq apply only with --mutable", commandPath: arguments.commandPath)
        }
        guard salt.count <= ItemLimits.maxSaltSize else {
            throw InputError("--salt is \(salt.count) bytes; BEP 44 allows at most \(ItemLimits.maxSaltSize)")
        }
        var seq = Int64(Date().timeIntervalSince1970)
        if let given = arguments.value("seq") {
            guard let number = Int64(given), number >= 0 else {
                throw InputError("--seq '\(given)' is not a whole number from 0 to \(Int64.max)")
            }
            seq = number
        }
        var item: MutableItem?
        if mutable {
            let identity = try Identity.loadOrCreate(in: environment.dataDirectory(arguments))
            item = MutableItem.signed(value: value, salt: salt, seq: seq, key: identity.privateKey)
        }
        let node = try DHTCommandSupport.joinedNode(arguments, in: environment)
        defer { node.stop() }
        let timeout = try DHTCommandSupport.timeout(arguments)
        let result: StoreResult?
        if let item {
            result = node.wait(timeout: timeout) { dht, now, done in dht.put(item, now: now) { done($0) } }
        } else {
            let immutable = ImmutableItem(value: value)
            result = node.wait(timeout: timeout) { dht, now, done in dht.put(immutable, now: now) { done($0) } }
        }
        guard let result else { throw DHTFailure("the put did not finish within \(Int(timeout)) s") }
        var fields: [String: JSONValue] = [
            "target": .string(result.target.hex), "stored": .int(result.stored), "attempted": .int(result.attempted),
            "errors": .array(result.errors.map { .object(["code": .int($0.code), "message": .string($0.message)]) }),
        ]
        if let item {
            fields["publicKey"] = .string(item.publicKey.map { String(format: "%02x", $0) }.joined())
            fields["seq"] = .int(Int(item.seq))
            fields["salt"] = .string(String(decoding: item.salt, as: UTF8.self))
        }
        if arguments.flag("json") {
            environment.console.printJSON(.object(fields))
        } else {
            environment.console.print(result.target.hex)
            var line = "stored on \(result.stored) of \(result.attempted) closest nodes"
            if let item {
                line += "; public key \(item.publicKey.map { String(format: "%02x", $0) }.joined()), seq \(item.seq)"
            }
            for error in Set(result.errors.map { "\($0.code) \($0.message)" }).sorted() { line += "; refused: \(error)" }
            environment.console.note(line)
        }
        return result.stored > 0 ? ExitStatus.success : ExitStatus.failure
    }
}

/// `colony dht get`: fetches a BEP 44 item.
enum DHTGetCommand: Command {
    static let description = CommandDescription(
        name: "get",
        abstract: "Fetch an item from the DHT (BEP 44) and print its value",
        discussion: """
            TARGET is an immutable item's target (40 hex digits), or a mutable item's public key (64 hex \
            digits) with --salt if it was stored with one. The value is checked against the target or the \
            signature before it is shown. Exit status 1 when no node has it.
            """,
        positionals: [PositionalDescription("TARGET", help: "40 hex digits (immutable) or a 64-hex public key.")],
        options: [
            .bootstrap, .value("salt", "S", help: "Mutable items: the salt they were stored with."),
            .dataDir, .dhtPort, .timeout, .json,
        ],
        examples: [
            "colony dht get --bootstrap 127.0.0.1:6881 e5f96f6f38320f0f33959cb4d3d656452117aadb",
            "colony dht get --bootstrap 127.0.0.1:6881 --salt status 77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548",
        ]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        guard let target = arguments.positionals.first else {
            throw UsageError("missing TARGET", commandPath: arguments.commandPath)
        }
        let salt = Array((arguments.value("salt") ?? "").utf8)
        var publicKey: [UInt8]?
        var immutableTarget: NodeID?
        if target.utf8.count == 64, let key = hexBytes(target) {
            publicKey = key
        } else if let id = NodeID(hex: target) {
            immutableTarget = id
            if arguments.value("salt") != nil {
                throw UsageError("--salt applies to mutable items: give a 64-hex public key", commandPath: arguments.commandPath)
            }
        } else {
            throw InputError("TARGET '\(target)' is neither 40 hex digits (an immutable item) nor 64 (a public key)")
        }
        let node = try DHTCommandSupport.joinedNode(arguments, in: environment)
        defer { node.stop() }
        let timeout = try DHTCommandSupport.timeout(arguments)
        let result: GetResult?
        if let publicKey {
            result = node.wait(timeout: timeout) { dht, now, done in
                dht.getMutable(publicKey: publicKey, salt: salt, now: now) { done($0) }
            }
        } else {
            result = node.wait(timeout: timeout) { dht, now, done in
                dht.getImmutable(immutableTarget!, now: now) { done($0) }
            }
        }
        guard let result else { throw DHTFailure("the get did not finish within \(Int(timeout)) s") }
        let value = result.immutable?.value ?? result.mutable?.value
        if arguments.flag("json") {
            var fields: [String: JSONValue] = [
                "target": .string(result.lookup.target.hex), "found": .bool(value != nil),
                "nodesAsked": .int(result.lookup.messages),
            ]
            if let value { fields["value"] = .string(DHTCommandSupport.text(of: value)) }
            if let mutable = result.mutable { fields["seq"] = .int(Int(mutable.seq)) }
            environment.console.printJSON(.object(fields))
        } else if let value {
            environment.console.print(DHTCommandSupport.text(of: value))
            if let mutable = result.mutable { environment.console.note("seq \(mutable.seq)") }
        } else {
            environment.console.note("not found: none of the \(result.lookup.closest.count) closest nodes has \(result.lookup.target.hex)")
        }
        return value == nil ? ExitStatus.failure : ExitStatus.success
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = text.makeIterator()
        while let a = iterator.next(), let b = iterator.next() {
            guard let byte = UInt8(String([a, b]), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
