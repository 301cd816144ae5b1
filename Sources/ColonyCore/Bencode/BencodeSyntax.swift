/// The bytes that shape bencode.
enum BencodeSyntax {
    static let integerStart = UInt8(ascii: "i")
    static let listStart = UInt8(ascii: "l")
    static let dictionaryStart = UInt8(ascii: "d")
    static let end = UInt8(ascii: "e")
    static let colon = UInt8(ascii: ":")
    static let minus = UInt8(ascii: "-")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool {
        byte &- zero < 10
    }
}
