import Foundation

/// Reads and writes JSON text with the guarantees Colony needs: sorted keys (so the same value always
/// gives the same bytes) and errors that name the file and say where the text went wrong.
public enum JSONText {
    /// Serializes a value with sorted keys; `pretty` adds two-space indentation.
    public static func serialize(_ value: JSONValue, pretty: Bool = false) -> String {
        var out = ""
        write(value, into: &out, pretty: pretty, indent: 0)
        return out
    }

    /// Parses JSON text. The error names `source` (a file path or "stdin") and the position.
    public static func parse(_ data: Data, source: String) throws(JSONTextError) -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw JSONTextError(source: source, reason: Self.reason(for: error, in: data))
        }
    }

    private static func reason(for error: any Error, in data: Data) -> String {
        if data.isEmpty { return "the file is empty" }
        if String(data: data, encoding: .utf8) == nil { return "the file is not UTF-8 text" }
        guard case DecodingError.dataCorrupted(let context) = error else { return "\(error)" }
        var detail = context.debugDescription
        if let underlying = context.underlyingError as NSError?,
            let inner = underlying.userInfo[NSDebugDescriptionErrorKey] as? String
        {
            detail = inner
        } else if let inner = serializationDetail(data) {
            // JSONDecoder on Linux says only "not valid JSON"; JSONSerialization says where.
            detail = inner
        }
        return "not valid JSON: \(detail)"
    }

    /// JSONSerialization's description of the syntax error, with its character offset turned into a
    /// line and column a person can find.
    private static func serializationDetail(_ data: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return nil
        } catch {
            guard let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String else { return nil }
            guard let range = text.range(of: "around character "),
                let offset = Int(text[range.upperBound...].prefix(while: \.isNumber))
            else { return text }
            var line = 1
            var column = 1
            for byte in data.prefix(offset) {
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if byte & 0xC0 != 0x80 {
                    column += 1
                }
            }
            let what = text[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
            return "\(what) at line \(line), column \(column)"
        }
    }

    private static func write(_ value: JSONValue, into out: inout String, pretty: Bool, indent: Int) {
        switch value {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .int(let number): out += String(number)
        case .double(let number): out += format(number)
        case .string(let text): writeString(text, into: &out)
        case .array(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                newline(into: &out, pretty: pretty, indent: indent + 1)
                write(item, into: &out, pretty: pretty, indent: indent + 1)
            }
            newline(into: &out, pretty: pretty, indent: indent)
            out += "]"
        case .object(let fields):
            if fields.isEmpty {
                out += "{}"
                return
            }
            out += "{"
            for (index, key) in fields.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                newline(into: &out, pretty: pretty, indent: indent + 1)
                writeString(key, into: &out)
                out += pretty ? ": " : ":"
                write(fields[key]!, into: &out, pretty: pretty, indent: indent + 1)
            }
            newline(into: &out, pretty: pretty, indent: indent)
            out += "}"
        }
    }

    private static func newline(into out: inout String, pretty: Bool, indent: Int) {
        guard pretty else { return }
        out += "\n" + String(repeating: "  ", count: indent)
    }

    private static func format(_ number: Double) -> String {
        // JSON has no NaN or infinity; null is the honest spelling of "no number".
        guard number.isFinite else { return "null" }
        if number.rounded() == number, abs(number) < 1e15 { return String(format: "%.1f", number) }
        return "\(number)"
    }

    private static func writeString(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += String(format: "\\u%04x", scalar.value)
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

/// A JSON text that could not be read: names the source and what is wrong with it.
public struct JSONTextError: Error, CustomStringConvertible, Sendable {
    /// The file path (or "stdin") the text came from.
    public var source: String
    /// What is wrong, in words.
    public var reason: String

    public var description: String { "\(source): \(reason)" }
}
