import ColonyKernel
import Foundation

/// Where a preference's effective value came from.
public enum PreferenceSource: Sendable, Equatable, CustomStringConvertible {
    /// Nothing set it.
    case `default`
    /// `preferences.json`.
    case file
    /// The environment variable of that name.
    case environment(String)
    /// The command-line flag of that name (without dashes).
    case flag(String)

    public var description: String {
        switch self {
        case .default: "default"
        case .file: "file"
        case .environment(let name): "env \(name)"
        case .flag(let name): "flag --\(name)"
        }
    }
}

/// The preferences in force and where each value came from: flags over environment variables over the file over
/// the defaults.
public struct EffectivePreferences: Sendable, Equatable {
    /// The values in force.
    public var preferences = DonorPreferences()
    /// Where each field's value came from, by field name.
    public var sources: [String: PreferenceSource] = [:]

    /// Resolves each field from `flags` (values by flag name, as given), then `environment`, then `file` (the
    /// fields `PreferencesFile.read` returned), then the default. Errors name the flag, variable or file.
    public init(
        file: [String: JSONValue], fileName: String = PreferencesFile.name, environment: [String: String],
        flags: [String: String] = [:]
    ) throws(PreferenceError) {
        for field in PreferenceField.fields {
            if let flag = field.flag, let text = flags[flag] {
                try field.set(field.json(fromText: text), in: &preferences, source: "--\(flag)", namingField: false)
                sources[field.name] = .flag(flag)
            } else if let text = environment[field.environment] {
                try field.set(
                    field.json(fromText: text), in: &preferences, source: field.environment, namingField: false)
                sources[field.name] = .environment(field.environment)
            } else if let value = file[field.name] {
                try field.set(value, in: &preferences, source: fileName)
                sources[field.name] = .file
            } else {
                sources[field.name] = .default
            }
        }
        // A hysteresis at or above the threshold would put the resume point at or below 0%: kernels suspended once
        // would never go on.
        if let threshold = preferences.suspendAboveNonColonyCPU, preferences.suspendHysteresis >= threshold {
            let name = sources["suspendHysteresis"] == .default ? "suspendAboveNonColonyCPU" : "suspendHysteresis"
            throw PreferenceError(
                source: Self.sourceName(sources[name] ?? .default, fileName: fileName), field: name,
                message: "suspendHysteresis (\(preferences.suspendHysteresis)) must be below suspendAboveNonColonyCPU "
                    + "(\(threshold)): kernels suspended once would never resume")
        }
    }

    /// How an error names where a value came from.
    private static func sourceName(_ source: PreferenceSource, fileName: String) -> String {
        switch source {
        case .default, .file: fileName
        case .environment(let name): name
        case .flag(let name): "--" + name
        }
    }

    /// The source of the field `name`.
    public func source(of name: String) -> PreferenceSource { sources[name] ?? .default }
}
