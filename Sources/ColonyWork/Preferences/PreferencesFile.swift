import ColonyCore
import ColonyKernel
import Foundation

/// `DATA/preferences.json`: the preferences a donor set, each field optional (left out, it keeps its default).
public enum PreferencesFile {
    /// The file's name in the data directory.
    public static let name = "preferences.json"

    /// The file in `directory`.
    public static func url(in directory: DataDirectory) -> URL { directory.url.appendingPathComponent(name) }

    /// The fields a file sets, checked; no file sets none. Errors name the file and the field.
    public static func read(_ url: URL) throws -> [String: JSONValue] {
        guard let data = try AtomicFile.read(url) else { return [:] }
        return try decode(data, source: url.lastPathComponent)
    }

    /// The fields in `data`, checked against `PreferenceField.fields`; `source` names the file in errors.
    public static func decode(_ data: Data, source: String = name) throws(PreferenceError) -> [String: JSONValue] {
        let parsed: JSONValue
        do {
            parsed = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw PreferenceError(
                source: source, field: nil, message: "expected a JSON object (\(error.localizedDescription))")
        }
        guard case .object(let fields) = parsed else {
            throw PreferenceError(
                source: source, field: nil, message: "expected a JSON object, got \(parsed.shortDescription)")
        }
        let unknown = fields.keys.filter { PreferenceField.named($0) == nil }.sorted()
        if !unknown.isEmpty {
            let names = unknown.map { "\"\($0)\"" }.joined(separator: ", ")
            throw PreferenceError(
                source: source, field: nil,
                message: "unknown field\(unknown.count == 1 ? "" : "s") \(names); known fields are "
                    + PreferenceField.fields.map(\.name).joined(separator: ", "))
        }
        var scratch = DonorPreferences()
        for field in PreferenceField.fields {
            guard let value = fields[field.name] else { continue }
            try field.set(value, in: &scratch, source: source)
        }
        return fields
    }

    /// Writes `fields` as the file, atomically (temporary file, fsync, rename), with sorted keys.
    public static func write(_ fields: [String: JSONValue], to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(JSONValue.object(fields))
        data.append(0x0A)
        try AtomicFile.createFolder(url.deletingLastPathComponent(), mode: 0o700)
        try AtomicFile.write(data, to: url)
    }
}
