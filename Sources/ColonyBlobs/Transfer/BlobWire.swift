import ColonyCore
import ColonyNet
import Foundation

/// The blob requests and replies carried in TCP frames (DESIGN.md, Wire): a bencoded header with `op`, and for
/// manifests and chunks the bytes as the frame's payload.
///
/// - `{op: manifest, blob: <32 bytes>}` → `{op: manifest}` + the manifest bytes
/// - `{op: chunk, blob: <32 bytes>, index: i}` → `{op: chunk, index: i, z: 0|1}` + the chunk, zlib-compressed when
///   `z` is 1 (only when that made it smaller)
/// - `{op: replicate, blob: <32 bytes>, port: p}` → `{op: ok}`: "fetch this blob from me (at my address, port p)
///   and hold it"
/// - any failure → `{op: error, code: c, message: m}`: 404 not held, 400 malformed, 429 over the address's request
///   rate (also with `reason: busy`, so custody's clients on the same port read it too), 503 busy
enum BlobWire {
    static func request(_ op: String, blob: BlobID, extra: [(String, BencodeValue)] = []) -> Frame {
        reply(op, [("blob", .bytes(blob.root.bytes))] + extra)
    }

    static func reply(_ op: String, _ fields: [(String, BencodeValue)] = [], payload: [UInt8] = []) -> Frame {
        let entries = [("op", BencodeValue.bytes(Array(op.utf8)))] + fields
        return Frame(header: BencodeDictionary(uniqueKeysWithValues: entries.map { (Array($0.0.utf8), $0.1) }), payload: payload)
    }

    static func error(_ code: Int, _ message: String) -> Frame {
        reply("error", [("code", .integer(Int64(code))), ("message", .bytes(Array(message.utf8)))])
    }

    /// The answer to a request over its address's rate: an error both blob and custody clients understand.
    static func busy(_ message: String) -> Frame {
        reply(
            "error",
            [("code", .integer(429)), ("message", .bytes(Array(message.utf8))), ("reason", .bytes(Array("busy".utf8)))])
    }

    static func op(_ frame: Frame) -> String? { frame.header["op"]?.string }

    static func blob(_ frame: Frame) -> BlobID? {
        guard let bytes = frame.header["blob"]?.bytes, bytes.count == 32 else { return nil }
        return (try? SHA256Digest(bytes: bytes)).map(BlobID.init(root:))
    }

    /// The error a reply carries, as text; nil when it is not an error.
    static func errorText(_ frame: Frame) -> String? {
        guard op(frame) == "error" else { return nil }
        let code = frame.header["code"]?.integer ?? 0
        return "error \(code): \(frame.header["message"]?.string ?? "")"
    }

    /// A chunk for the wire: compressed when a sample says it compresses and the whole then shrinks.
    static func encodeChunk(_ bytes: [UInt8]) -> (payload: [UInt8], compressed: Bool) {
        // Compressing random or already-compressed data costs far more than sending it: try 4 KiB first.
        let sample = bytes.prefix(4096)
        guard sample.count >= 256, let small = try? Deflate.compress(sample, level: 1),
            small.count < sample.count * 9 / 10
        else { return (bytes, false) }
        guard let whole = try? Deflate.compress(bytes, level: 1), whole.count < bytes.count else { return (bytes, false) }
        return (Array(whole), true)
    }

    static func decodeChunk(_ payload: [UInt8], compressed: Bool, limit: Int) throws -> [UInt8] {
        guard compressed else { return payload }
        return Array(try Inflate.decompress(payload, limit: limit))
    }
}
