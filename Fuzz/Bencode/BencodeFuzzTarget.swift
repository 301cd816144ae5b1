// libFuzzer entry for the bencode codec; .ci/fuzz-bencode compiles it with Sources/ColonyCore/Bencode/*.swift as
// one module, so it may use the codec's internal names too. Any broken property traps, and libFuzzer keeps the input.

/// Loose enough that the fuzzer's inputs (up to -max_len 4096) reach every rule, not only the size limit.
private let looseLimits = BencodeLimits(maxInputSize: 4_096, maxStringLength: 4_096, maxDepth: 64, maxElements: 4_096)
/// Tight bounds that each of the fuzzer's inputs can hit, to exercise every limit path.
private let tightLimits = BencodeLimits(maxInputSize: 512, maxStringLength: 16, maxDepth: 3, maxElements: 24)

private let limitCodes: Set<BencodeError.Code> = [.inputTooLarge, .stringTooLong, .nestingTooDeep, .tooManyElements]

@_cdecl("LLVMFuzzerTestOneInput")
public func bencodeFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: size > 0 ? data : nil, count: size)
    checkBencodeProperties(input)
    return 0
}

private func check(_ condition: Bool, _ property: @autoclosure () -> String) {
    if !condition { fatalError("bencode fuzz: \(property())") }
}

private func attempt<T>(_ body: () throws(BencodeError) -> T) -> Result<T, BencodeError> {
    do {
        return .success(try body())
    } catch {
        return .failure(error)
    }
}

private func checkBencodeProperties(_ input: UnsafeBufferPointer<UInt8>) {
    let loose = BencodeDecoder(limits: looseLimits)
    let tight = BencodeDecoder(limits: tightLimits)
    let whole = attempt { () throws(BencodeError) in try loose.decode(input) }
    let prefix = attempt { () throws(BencodeError) in try loose.decodePrefix(input) }

    // The copying path for sequences without contiguous storage must agree with the direct path.
    let copied = attempt { () throws(BencodeError) in try loose.decode(input.lazy.map { $0 }) }
    check(copied == whole, "non-contiguous input decodes differently: \(copied) vs \(whole)")

    switch whole {
    case .success(let value):
        // Canonical form: the one accepted encoding of a value is the one the encoder writes.
        check(value.encoded().elementsEqual(input), "decoded value re-encodes to other bytes: \(value)")
        check(value.encodedCount == input.count, "encodedCount \(value.encodedCount) for \(input.count) bytes")
        if case .success(let found) = prefix {
            check(found.value == value && found.length == input.count, "prefix decode disagrees: \(found)")
        } else {
            check(false, "prefix decode failed on a complete value: \(prefix)")
        }
    case .failure(let error):
        check(error.offset >= 0 && error.offset <= input.count, "offset \(error.offset) outside \(input.count) bytes")
        check(error.code != .invalidLimits, "limits refused: \(error)")
        if error.code == .trailingBytes {
            // Only the trailing bytes were wrong: the value before them is canonical and ends at the offset.
            guard case .success(let found) = prefix else { return check(false, "prefix failed: \(prefix)") }
            check(found.length == error.offset, "prefix length \(found.length), trailing bytes at \(error.offset)")
            let head = UnsafeBufferPointer(rebasing: input[..<found.length])
            check(found.value.encoded().elementsEqual(head), "prefix value re-encodes to other bytes")
        } else {
            // Whole and prefix decoding read the same bytes up to the failure, so they must fail alike.
            if case .failure(let prefixError) = prefix {
                check(prefixError == error, "prefix decode failed with \(prefixError), whole decode with \(error)")
            } else {
                check(false, "prefix decode succeeded where whole decode failed with \(error)")
            }
        }
    }

    // Against the lenient reference: strict acceptance implies lenient acceptance of the same value; a lenient
    // value whose encoding is the very input, and which fits the limits, must be accepted (no false refusals);
    // and any lenient value, canonicalised, must survive the strict round trip.
    let reference = LenientBencodeReader.read(input)
    if case .success(let value) = whole {
        check(
            reference == value, "strict decoder accepted what the reference reads as \(String(describing: reference))")
    }
    if let reference {
        let canonical = reference.encoded()
        let fits = LenientBencodeReader.shape(of: reference).fits(looseLimits, encodedCount: canonical.count)
        if fits, canonical.elementsEqual(input) {
            check(whole == .success(reference), "canonical input refused: \(whole)")
        }
        if fits {
            let again = attempt { () throws(BencodeError) in try loose.decode(canonical) }
            check(again == .success(reference), "canonical re-encoding of \(reference) decodes as \(again)")
        }
    }

    // Tighter limits only add failures: what they accept, the loose limits accept as the same value; a failure
    // that is not a limit's is the very failure of the loose decode.
    switch attempt({ () throws(BencodeError) in try tight.decode(input) }) {
    case .success(let value):
        check(whole == .success(value), "tight limits accepted what loose ones did not: \(whole)")
    case .failure(let error) where !limitCodes.contains(error.code):
        check(whole == .failure(error), "tight limits failed with \(error), loose with \(whole)")
    case .failure:
        break
    }
}
