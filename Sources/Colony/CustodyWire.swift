import ColonyCore
import ColonyNet
import ColonyWork
import Foundation
import Synchronization

/// Colony's custody requests over TCP frames on the node's port (DESIGN.md, Wire): a bencoded header with `op`,
/// and lists of records and custodian set changes as a bencoded payload.
///
/// - `co_offer {publisher, nonce}` → `offer {key, sig}`: "will you keep custody of a job I am about to sign?"; the
///   answer proves the custodian's key (its signature over `offerMessage`)
/// - `co_publish {job, root, port}` → `ok`: "fetch this manifest from me and keep it" (to the job's custodians)
/// - `co_jobs {kernel, version}` → `jobs` + [[job, root], …]: jobs with work left here, at most 1,000
/// - `co_lease {job, root, port, shard, worker, count, time, holding, sig}` → `lease` + record, or `none {done,
///   elsewhere}`; `sig` is the worker's Ed25519 signature over `leaseMessage` (so nobody leases in another worker's
///   name); `holding` lists the units of the shard the worker holds already (from other custodians)
/// - `co_submit {job, root, port}` + record → `ok` + status rows of its units
/// - `co_status {job, shard, worker?, units?}` → `status` + [[unit, state, partners, live, open, attempts, mine, latest seal], …]
///   (of `units` when given, else of every unit of the shard)
///   (`partners`: sealed workers that could complete a quorum with `worker`; `mine`: 1 when `worker`'s result
///   agrees with the validated one, -1 when it was counted invalid)
/// - `co_records {job, shard}` → `records` + [item, …]: records anyone may read (reveals of undecided units left
///   out) and the set changes
/// - `co_changes {job, shard}` → `changes` + [change, …]: the shard's custodian set changes
/// - `co_sync {job, root, port, shard, from, time, sig}` + [id, …] → `records` + [items the asker lacks] and
///   `want` + [ids]: only for the shard's custodians, who sign the request (`syncMessage`)
/// - `co_merge {job, root, port}` + [item, …] → `ok {added}`
/// - `co_cosign {job, port}` + change → `change` + the change with this custodian's signature added
/// - failures → `error {code, reason, message}`
///
/// An item of a list is a custody record, or a custodian set change (`k` = "custodians").
public enum CustodyWire {
    static func frame(_ op: String, _ fields: [(String, BencodeValue)] = [], payload: BencodeValue? = nil) -> Frame {
        let entries = [("op", BencodeValue.text(op))] + fields
        return Frame(
            header: BencodeDictionary(uniqueKeysWithValues: entries.map { (Array($0.0.utf8), $0.1) }),
            payload: payload?.encoded() ?? [])
    }

    static func error(_ code: Int, _ failure: CustodyError) -> Frame {
        frame("error", [("code", .integer(Int64(code))), ("reason", .text(failure.reason)), ("message", .text(failure.detail))])
    }

    static func op(_ frame: Frame) -> String? { frame.header["op"]?.string }

    static func job(_ frame: Frame) -> JobID? {
        guard let bytes = frame.header["job"]?.bytes else { return nil }
        return try? JobID(bytes: bytes)
    }

    static func digest(_ frame: Frame, _ key: String) -> SHA256Digest? {
        guard let bytes = frame.header[key]?.bytes else { return nil }
        return try? SHA256Digest(bytes: bytes)
    }

    static func int(_ frame: Frame, _ key: String) -> Int? { frame.header[key]?.integer.map(Int.init) }

    /// The failure a reply carries, or nil.
    static func failure(_ frame: Frame) -> CustodyError? {
        guard op(frame) == "error" else { return nil }
        return CustodyError(frame.header["reason"]?.string ?? "error", frame.header["message"]?.string ?? "")
    }

    static func payload(_ frame: Frame) throws(CustodyError) -> BencodeValue {
        do {
            return try BencodeDecoder(limits: .frame).decode(frame.payload)
        } catch {
            throw .malformed("payload: \(error)")
        }
    }

    /// The records and set changes of a frame's payload.
    static func items(_ frame: Frame) throws(CustodyError) -> (records: [CustodyRecord], changes: [CustodySetChange]) {
        guard let list = try payload(frame).list else { throw .malformed("payload is not a list of records") }
        var records: [CustodyRecord] = []
        var changes: [CustodySetChange] = []
        for value in list {
            if value["k"]?.string == "custodians" {
                changes.append(try CustodySetChange(value))
            } else {
                records.append(try CustodyRecord(value))
            }
        }
        return (records, changes)
    }

    static func itemList(_ records: [CustodyRecord], changes: [CustodySetChange] = []) -> BencodeValue {
        .list(changes.map(\.value) + records.map(\.value))
    }

    /// What a custodian signs to ask another for a shard's records.
    static func syncMessage(job: JobID, shard: Int, time: Int64, from key: Ed25519PublicKey) -> [UInt8] {
        BencodeValue.dictionary([
            "op": .text("co_sync"), "job": .bytes(job.bytes), "shard": .integer(Int64(shard)), "time": .integer(time),
            "from": .bytes([UInt8](key.rawRepresentation)),
        ]).encoded()
    }

    /// The fields that authenticate a sync request from `identity`.
    static func syncSignature(job: JobID, shard: Int, by identity: Identity, now: Int64) -> [(String, BencodeValue)] {
        let message = syncMessage(job: job, shard: shard, time: now, from: identity.publicKey)
        return [
            ("from", .bytes([UInt8](identity.publicKey.rawRepresentation))), ("time", .integer(now)),
            ("sig", .bytes([UInt8](identity.signature(for: message)))),
        ]
    }

    /// Who signed a sync request, when its signature verifies and its time is within the window.
    static func checkedSyncer(_ frame: Frame, job: JobID, shard: Int, now: Int64) throws(CustodyError) -> Ed25519PublicKey {
        guard let keyBytes = frame.header["from"]?.bytes, let key = try? Ed25519PublicKey(rawRepresentation: keyBytes),
            let time = frame.header["time"]?.integer, let signature = frame.header["sig"]?.bytes
        else { throw CustodyError("not a custodian", "co_sync is for custodians: from, time and sig are required") }
        guard abs(time - now) <= leaseRequestWindow else {
            throw CustodyError("bad signature", "the sync request's time is \((time - now) / 1000) s from ours")
        }
        guard key.isValidSignature(signature, for: syncMessage(job: job, shard: shard, time: time, from: key)) else {
            throw CustodyError("bad signature", "the sync request is not signed by \(key.hex.prefix(12))")
        }
        return key
    }

    /// What a custodian signs to accept the custody a publisher offers.
    static func offerMessage(publisher: Ed25519PublicKey, nonce: [UInt8]) -> [UInt8] {
        Array("colony:custody-offer:".utf8) + [UInt8](publisher.rawRepresentation) + nonce
    }

    /// How far a lease request's time may be from the custodian's clock, in milliseconds.
    static let leaseRequestWindow: Int64 = 300_000

    /// What a worker signs to ask for a lease.
    static func leaseMessage(
        job: JobID, shard: Int, count: Int, time: Int64, worker: Ed25519PublicKey, holding: [Int]
    ) -> [UInt8] {
        BencodeValue.dictionary([
            "op": .text("co_lease"), "job": .bytes(job.bytes), "shard": .integer(Int64(shard)),
            "count": .integer(Int64(count)), "time": .integer(time), "worker": .bytes([UInt8](worker.rawRepresentation)),
            "holding": .list(holding.map { .integer(Int64($0)) }),
        ]).encoded()
    }

    /// A signed lease request from `identity`.
    static func leaseRequest(
        _ fields: [(String, BencodeValue)], job: JobID, shard: Int, count: Int, by identity: Identity, now: Int64,
        holding: [Int] = []
    ) -> Frame {
        let message = leaseMessage(job: job, shard: shard, count: count, time: now, worker: identity.publicKey, holding: holding)
        return frame(
            "co_lease",
            fields + [
                ("shard", .integer(Int64(shard))), ("worker", .bytes([UInt8](identity.publicKey.rawRepresentation))),
                ("count", .integer(Int64(count))), ("time", .integer(now)), ("holding", .list(holding.map { .integer(Int64($0)) })),
                ("sig", .bytes([UInt8](identity.signature(for: message)))),
            ])
    }

    /// The shard, worker and count of a lease request whose signature verifies and whose time is within the
    /// window; throws `malformed` or `bad signature` otherwise.
    static func checkedLeaseRequest(
        _ frame: Frame, job: JobID, now: Int64
    ) throws(CustodyError) -> (shard: Int, worker: Ed25519PublicKey, count: Int, holding: [Int], signature: [UInt8]) {
        guard let shard = int(frame, "shard"), let count = int(frame, "count"), let time = frame.header["time"]?.integer,
            let workerBytes = frame.header["worker"]?.bytes,
            let worker = try? Ed25519PublicKey(rawRepresentation: workerBytes), let signature = frame.header["sig"]?.bytes
        else { throw .malformed("co_lease needs shard, count, time, a 32-byte worker key and sig") }
        // The units the worker holds already in the shard (leased by other custodians), not to be leased again.
        let list = frame.header["holding"]?.list ?? []
        guard list.count <= JobPolicy.shardLimits.upperBound else { throw .malformed("co_lease holds at most a shard of units") }
        let holding = list.compactMap { $0.integer.map(Int.init) }
        guard abs(time - now) <= leaseRequestWindow else {
            throw CustodyError("bad signature", "the lease request's time is \((time - now) / 1000) s from ours; check the clock")
        }
        let message = leaseMessage(job: job, shard: shard, count: count, time: time, worker: worker, holding: holding)
        guard worker.isValidSignature(signature, for: message) else {
            throw CustodyError("bad signature", "the lease request is not signed by its worker")
        }
        return (shard, worker, count, holding, signature)
    }
}

/// A request that failed: the peer could not be reached, or it refused.
public struct ColonyRequestError: Error, CustomStringConvertible, Sendable {
    public var endpoint: Endpoint
    public var refusal: CustodyError?
    public var transport: String?

    public var description: String {
        if let refusal { return "\(endpoint) refused: \(refusal)" }
        return "\(endpoint): \(transport ?? "no answer")"
    }
}

/// Reusable TCP connections to peers, so that custody traffic does not open a connection (and a server thread)
/// per request. A request checks a connection out and returns it after the reply: no lock is held while waiting,
/// and a second request to the same peer meanwhile gets a connection of its own. (One shared connection per peer,
/// taken in turns, let two peers' workers and custodians each hold the connection the other needed: whole swarms
/// stalled until 30 s timeouts broke the cycle.)
final class ConnectionPool: @unchecked Sendable {
    /// Idle connections kept per peer; more are closed on return.
    static let idleLimit = 4

    private struct Idle {
        var connections: [Endpoint: [FrameConnection]] = [:]
        /// Set by `closeAll`: connections returned afterwards are closed.
        var closed = false
    }

    private let idle = Mutex(Idle())
    let timeout: Double
    /// The address connections leave from: the peer's own, so that others see where it really is.
    let localHost: String?

    init(timeout: Double, localHost: String? = nil) {
        self.timeout = timeout
        self.localHost = localHost
    }

    /// Sends `frame` to `endpoint` and returns the reply; retries once on a fresh connection when a kept one went
    /// stale (the server closes idle connections).
    func request(_ frame: Frame, to endpoint: Endpoint, timeout: Double? = nil) throws(ColonyRequestError) -> Frame {
        var lastError = "no answer"
        for attempt in 0..<2 {
            var connection: FrameConnection?
            do {
                let kept = attempt == 0 ? idle.withLock { $0.connections[endpoint]?.popLast() } : nil
                let current = try kept ?? FrameConnection.connect(to: endpoint, from: localHost, timeout: min(5, self.timeout))
                connection = current
                try current.send(frame)
                let reply = try current.receive(timeout: timeout ?? self.timeout)
                giveBack(current, to: endpoint)
                if let refusal = CustodyWire.failure(reply) {
                    throw ColonyRequestError(endpoint: endpoint, refusal: refusal)
                }
                return reply
            } catch let error as ColonyRequestError {
                throw error
            } catch {
                connection?.close()
                // The error names the peer once: the transport's reason without its address.
                lastError = (error as? FrameTransportError)?.reason ?? "\(error)"
                // A kept connection the server closed fails at once: try a fresh one. A peer that did not answer
                // in time, or could not be reached, is not asked again here: it is slow or gone, and waiting twice
                // holds the caller twice as long (the caller decides whether to try again).
                let code = (error as? FrameTransportError)?.code
                if attempt == 0, code != .timedOut, code != .connectFailed { continue }
                break
            }
        }
        throw ColonyRequestError(endpoint: endpoint, transport: lastError)
    }

    private func giveBack(_ connection: FrameConnection, to endpoint: Endpoint) {
        let kept = idle.withLock { idle in
            guard !idle.closed, idle.connections[endpoint, default: []].count < Self.idleLimit else { return false }
            idle.connections[endpoint, default: []].append(connection)
            return true
        }
        if !kept { connection.close() }
    }

    /// Closes every idle connection; those checked out are closed when their request ends.
    func closeAll() {
        let all = idle.withLock { idle in
            defer { idle = Idle(closed: true) }
            return idle.connections.values.flatMap { $0 }
        }
        for connection in all { connection.close() }
    }
}
