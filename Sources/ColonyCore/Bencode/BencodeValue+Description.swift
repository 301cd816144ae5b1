extension BencodeValue: CustomStringConvertible {
    /// A readable rendering for logs and test failures: `{"t": "aa", "id": 0x0102…(20 bytes)}`.
    /// Printable ASCII strings appear quoted; any other string appears as hex, cut after 32 bytes, so that hostile
    /// bytes never reach a terminal as control characters.
    public var description: String {
        switch self {
        case .integer(let value):
            return String(value)
        case .bytes(let bytes):
            return Self.render(bytes)
        case .list(let elements):
            return "[" + elements.map(\.description).joined(separator: ", ") + "]"
        case .dictionary(let dictionary):
            let entries = dictionary.entries.map { Self.render($0.key) + ": " + $0.value.description }
            return "{" + entries.joined(separator: ", ") + "}"
        }
    }

    private static func render(_ bytes: [UInt8]) -> String {
        if bytes.allSatisfy({ (0x20...0x7E).contains($0) }) {
            var text = "\""
            for byte in bytes {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { text += "\\" }
                text.unicodeScalars.append(Unicode.Scalar(byte))
            }
            return text + "\""
        }
        let shown = bytes.prefix(32)
        var text = "0x"
        for byte in shown {
            text += (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }
        return shown.count < bytes.count ? text + "…(\(bytes.count) bytes)" : text
    }
}
