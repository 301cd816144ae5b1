import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation

/// The donor's preferences as one command line sees them, and the one way they are changed: `colony config` and
/// `colony config set` use it, and so does the worker's page (`GET` and `POST /api/preferences`).
///
/// The file is `DATA/preferences.json`; the environment's `COLONY_*` variables override it and the command's flags
/// override both (`EffectivePreferences`). A field set here is written to the file even when a variable or flag
/// overrides it: it applies once they are gone, and the effective preferences say where each value came from.
///
/// Two sets at once (the page and `colony config set` in a terminal) may each read the file before the other
/// writes it, and the later write wins; the page sends one set at a time.
struct PreferencesEditor: Sendable {
    /// `DATA/preferences.json`.
    let file: URL
    /// The environment, whose `COLONY_*` variables override the file.
    let environment: [String: String]
    /// The values of the flags that override preferences, by flag name (`cores`, `cpu-limit`), as given.
    let flags: [String: String]

    /// An editor of `file` under `environment` and `flags`.
    init(file: URL, environment: [String: String], flags: [String: String]) {
        self.file = file
        self.environment = environment
        self.flags = flags
    }

    /// The editor for a command line: its data directory's file, its environment and its preference flags.
    init(_ arguments: ParsedArguments, in environment: CommandEnvironment) {
        var flags: [String: String] = [:]
        for field in PreferenceField.fields {
            if let flag = field.flag, let value = arguments.value(flag) { flags[flag] = value }
        }
        self.init(
            file: PreferencesFile.url(in: environment.dataDirectory(arguments)), environment: environment.variables,
            flags: flags)
    }

    /// The preferences in force and where each came from. A bad file, variable or flag is a `PreferenceError`
    /// naming it; a file that cannot be read is the system's error.
    func effective() throws -> EffectivePreferences {
        try effective(file: PreferencesFile.read(file))
    }

    /// Sets `values` (JSON values by field name, as in the file) in the file and answers the preferences now in
    /// force. Each value is checked by its `PreferenceField`, and the file is written (atomically, its other
    /// fields kept) only when every one is good; `source` names where the values came from in a `PreferenceError`
    /// (`colony config set: field "cpuPercent": expected a whole number from 1 to 100, got 0`).
    @discardableResult
    func set(_ values: [String: JSONValue], source: String) throws -> EffectivePreferences {
        var fields = try PreferencesFile.read(file)
        for name in values.keys.sorted() {
            guard let field = PreferenceField.named(name) else {
                throw PreferenceError(
                    source: source, field: nil,
                    message: "no preference named '\(name)'; choose from "
                        + PreferenceField.fields.map(\.name).joined(separator: ", "))
            }
            var scratch = DonorPreferences()
            try field.set(values[name] ?? .null, in: &scratch, source: source)
            // Stored as the field reads it back: keys in lower case, whole numbers as integers.
            fields[name] = field.value(in: scratch)
        }
        // Checked whole before the file changes, so that nothing is written that the worker could not follow.
        let result = try effective(file: fields)
        if !values.isEmpty { try PreferencesFile.write(fields, to: file) }
        return result
    }

    private func effective(file fields: [String: JSONValue]) throws(PreferenceError) -> EffectivePreferences {
        try EffectivePreferences(
            file: fields, fileName: file.lastPathComponent, environment: environment, flags: flags)
    }
}

extension PreferenceSource {
    /// Whether a variable or flag sets the value, so that the file's does not apply.
    var overridesFile: Bool {
        switch self {
        case .environment, .flag: true
        case .default, .file: false
        }
    }
}
