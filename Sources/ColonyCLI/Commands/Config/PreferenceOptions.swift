import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation

/// The donor's preferences as a command sees them: `DATA/preferences.json` under `COLONY_*` variables under flags.
enum PreferenceOptions {
    /// The flags that override preferences, as `colony config` and `colony worker` take them.
    static let flags: [OptionDescription] = [
        .value("cores", "N", help: "Cores to use (default: preference cores, else all)."),
        .value("cpu-limit", "PCT", help: "Use at most PCT% of each core, by duty cycle (default: cpuPercent, 100)."),
    ]

    /// The effective preferences for this command line (`PreferencesEditor`); a bad file, variable or flag is an
    /// `InputError` naming it.
    static func effective(
        _ arguments: ParsedArguments, in environment: CommandEnvironment
    ) throws -> EffectivePreferences {
        do {
            return try PreferencesEditor(arguments, in: environment).effective()
        } catch let error as PreferenceError {
            throw InputError(error.description)
        }
    }
}
