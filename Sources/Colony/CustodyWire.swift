import ColonyCore
import ColonyNet
import ColonyWork
import Foundation
import Synchronization

/// Colony's custody requests over TCP frames on the node's port (DESIGN.md, Wire): a bencoded header with `op`,
/// and lists of records as a bencoded payload.
///
/// - `co_publish {job, root, port}` → `ok`: "fetch this manifest from me and keep it" (to the job's custodians)
/// - `co_jobs {kernel, version}` → `jobs` + [[job, root], …]
/// - `co_lease {job, root, port, shard, worker, count}` → `lease` + record, or `none {done}`
/// - `co_submit {job, root, port}` + record → `ok`
/// - `co_status {job, shard}` → `status` + [[unit, state, commits, live, open, attempts], …]
/// - `co_records {job, shard}` → `records` + [record, …] (reveals of undecided units left out)
/// - `co_sync {job, root, port, shard}` + [id, …] → `records` + [records the asker lacks] and `want` + [ids]
/// - `co_merge {job, root, port}` + [record, …] → `ok {added}`
/// - failures → `error {code, reason, message}`
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

    static func records(_ frame: Frame) throws(CustodyError) -> [CustodyRecord] {
        guard let list = try payload(frame).list else { throw .malformed("payload is not a list of records") }
        var records: [CustodyRecord] = []
        for value in list { records.append(try CustodyRecord(value)) }
        return records
    }

    static func recordList(_ records: [CustodyRecord]) -> BencodeValue { .list(records.map(\.value)) }
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

/// One reusable TCP connection per peer, so that custody traffic does not open a connection (and a server
/// thread) per request. Requests to one peer take turns on its connection.
final class ConnectionPool: @unchecked Sendable {
    private final class Slot: @unchecked Sendable {
        let lock = NSLock()
        var connection: FrameConnection?
    }

    private let slots = Mutex<[Endpoint: Slot]>([:])
    let timeout: Double

    init(timeout: Double) { self.timeout = timeout }

    /// Sends `frame` to `endpoint` and returns the reply; reconnects once when a kept connection went stale.
    func request(_ frame: Frame, to endpoint: Endpoint, timeout: Double? = nil) throws(ColonyRequestError) -> Frame {
        let slot = slots.withLock { slots in
            if let slot = slots[endpoint] { return slot }
            let slot = Slot()
            slots[endpoint] = slot
            return slot
        }
        slot.lock.lock()
        defer { slot.lock.unlock() }
        var lastError = "no answer"
        for attempt in 0..<2 {
            do {
                let connection: FrameConnection
                if let kept = slot.connection {
                    connection = kept
                } else {
                    connection = try FrameConnection.connect(to: endpoint, timeout: min(5, self.timeout))
                    slot.connection = connection
                }
                try connection.send(frame)
                let reply = try connection.receive(timeout: timeout ?? self.timeout)
                if let refusal = CustodyWire.failure(reply) {
                    throw ColonyRequestError(endpoint: endpoint, refusal: refusal)
                }
                return reply
            } catch let error as ColonyRequestError {
                throw error
            } catch {
                slot.connection?.close()
                slot.connection = nil
                lastError = "\(error)"
                // A kept connection the server closed (idle timeout) fails at once: try a fresh one.
                if attempt == 0, (error as? FrameTransportError)?.code != .connectFailed { continue }
                break
            }
        }
        throw ColonyRequestError(endpoint: endpoint, transport: lastError)
    }

    /// Closes every connection.
    func closeAll() {
        let all = slots.withLock { slots in
            defer { slots = [:] }
            return Array(slots.values)
        }
        for slot in all {
            slot.lock.lock()
            slot.connection?.close()
            slot.connection = nil
            slot.lock.unlock()
        }
    }
}
