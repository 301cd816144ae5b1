// libFuzzer entry for the KRPC codec. .ci/fuzz-krpc compiles it as one module with the bencode codec, Endpoint,
// NodeID, NodeInfo and Sources/ColonyDHT/KRPC (imports stripped). Any broken property traps, and libFuzzer keeps
// the input.

@_cdecl("LLVMFuzzerTestOneInput")
public func krpcFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: size > 0 ? data : nil, count: size)
    checkKRPCProperties(input)
    return 0
}

private func check(_ condition: Bool, _ property: @autoclosure () -> String) {
    if !condition { fatalError("krpc fuzz: \(property())") }
}

private func attempt(_ bytes: some Collection<UInt8>) -> Result<KRPCMessage, KRPCDecodeError> {
    do {
        return .success(try KRPCMessage.decode(bytes))
    } catch {
        return .failure(error)
    }
}

private func checkKRPCProperties(_ input: UnsafeBufferPointer<UInt8>) {
    let first = attempt(input)

    // Input without contiguous storage goes through the decoder's copying path; it must read the same.
    let copied = attempt(input.lazy.map { $0 })
    check(copied == first, "non-contiguous input decodes differently: \(copied) vs \(first)")

    switch first {
    case .success(let message):
        check(
            (1...KRPCMessage.maxTransactionIDLength).contains(message.transactionID.count),
            "accepted a \(message.transactionID.count)-byte transaction ID"
        )
        // What the codec accepts, it can write, and what it writes reads back as the same message, byte-stable.
        let encoded = message.encoded()
        switch attempt(encoded) {
        case .success(let again):
            check(again == message, "re-encoded message decodes as \(again), not \(message)")
            check(again.encoded() == encoded, "encoding is not stable for \(message)")
        case .failure(let error):
            check(false, "re-encoded message \(message) fails to decode: \(error)")
        }
    case .failure(let error):
        if let transactionID = error.transactionID {
            check(
                (1...KRPCMessage.maxTransactionIDLength).contains(transactionID.count),
                "error carries a \(transactionID.count)-byte transaction ID"
            )
        }
        // The 203 reply to a malformed query must itself be a valid message that echoes the transaction ID.
        if let reply = error.reply() {
            check(error.isQuery && error.transactionID != nil, "reply offered for a non-query: \(error)")
            switch attempt(reply.encoded()) {
            case .success(let decoded):
                check(decoded == reply, "203 reply decodes as \(decoded)")
                check(decoded.transactionID == error.transactionID, "203 reply lost the transaction ID")
            case .failure(let replyError):
                check(false, "203 reply fails to decode: \(replyError)")
            }
        } else {
            check(!error.isQuery || error.transactionID == nil, "no reply offered for a query with a t: \(error)")
        }
    }
}
