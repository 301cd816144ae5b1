import ColonyKernel
import Foundation

/// One preference: its name in the file, the environment variable and flag that override it, and how its value
/// is read and checked.
public struct PreferenceField: Sendable {
    /// How a value given as text (environment, flag, `colony config set`) becomes JSON.
    public enum TextForm: Sendable {
        /// A number, or `off` / `none` for no limit.
        case number
        /// Comma-separated words.
        case list
        /// JSON text.
        case json
    }

    /// The field's name in `preferences.json`.
    public let name: String
    /// The environment variable that overrides the file: `COLONY_` and the name in upper snake case.
    public let environment: String
    /// The `colony worker` flag that overrides both, if there is one.
    public let flag: String?
    /// What the value means, for `colony config`.
    public let summary: String
    /// How text is read.
    public let textForm: TextForm
    let read: @Sendable (DonorPreferences) -> JSONValue
    let write: @Sendable (inout DonorPreferences, JSONValue) throws -> Void

    init(
        _ name: String, flag: String? = nil, _ textForm: TextForm, _ summary: String,
        read: @escaping @Sendable (DonorPreferences) -> JSONValue,
        write: @escaping @Sendable (inout DonorPreferences, JSONValue) throws -> Void
    ) {
        self.name = name
        self.environment = "COLONY_" + Self.upperSnakeCase(name)
        self.flag = flag
        self.textForm = textForm
        self.summary = summary
        self.read = read
        self.write = write
    }

    /// The field's value in `preferences`.
    public func value(in preferences: DonorPreferences) -> JSONValue { read(preferences) }

    /// Sets the field from a JSON value; `source` names where it came from (`preferences.json`, `COLONY_CORES`,
    /// `--cores`) in the error, and the field's name follows it when `namingField` (a file has many fields).
    public func set(
        _ value: JSONValue, in preferences: inout DonorPreferences, source: String, namingField: Bool = true
    ) throws(PreferenceError) {
        do {
            try write(&preferences, value)
        } catch {
            // The writers throw only `ExpectedValue`; their closures cannot say so in their type.
            let expected = (error as? ExpectedValue)?.expected ?? "\(error)"
            throw PreferenceError(
                source: source, field: namingField ? name : nil,
                message: "expected \(expected), got \(value.shortDescription)")
        }
    }

    /// The JSON value a text stands for, by this field's `textForm`; text that is not in the form stays a string,
    /// so that `set` names it in its error.
    public func json(fromText text: String) -> JSONValue {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch textForm {
        case .number:
            if ["off", "none", ""].contains(trimmed.lowercased()) { return .null }
            if let integer = Int(trimmed) { return .int(integer) }
            if let number = Double(trimmed), number.isFinite { return .double(number) }
            return .string(text)
        case .list:
            return .array(trimmed.split(separator: ",").map { .string($0.trimmingCharacters(in: .whitespaces)) })
        case .json:
            return (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) ?? .string(text)
        }
    }

    /// `cpuPercent` → `CPU_PERCENT`, `suspendAboveNonColonyCPU` → `SUSPEND_ABOVE_NON_COLONY_CPU`.
    static func upperSnakeCase(_ name: String) -> String {
        var result = ""
        var previous: Character?
        for character in name {
            if character.isUppercase, let previous, previous.isLowercase { result += "_" }
            result.append(character)
            previous = character
        }
        // Acronyms followed by a word (`CPUPercent`) are not used in names; `nonColonyCPU` ends in one.
        return result.uppercased()
    }
}

/// What a value should have been; `PreferenceField.set` adds where it came from and what it was.
struct ExpectedValue: Error {
    var expected: String
}

/// A preference value that cannot be used: `preferences.json: field "cpuPercent": expected a whole number from 1
/// to 100, got "fast"`.
public struct PreferenceError: Error, Equatable, CustomStringConvertible {
    /// The file, environment variable or flag the value came from.
    public var source: String
    /// The field, or nil when the problem is the whole file (not JSON, not an object, unknown fields).
    public var field: String?
    /// What is wrong: what was expected and what was given.
    public var message: String

    /// An error naming `source` and `field`.
    public init(source: String, field: String?, message: String) {
        self.source = source
        self.field = field
        self.message = message
    }

    public var description: String {
        (field.map { "\(source): field \"\($0)\": " } ?? "\(source): ") + message
    }
}
