/// A job spec that cannot be used: names the file, the field and what would be accepted.
///
/// One line, for example: `Workunits/x.json: kernel is missing; expected a string naming a compiled-in kernel`.
public struct JobSpecError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The spec file.
    public var source: String
    /// The field, as a path from the top of the spec: `kernel`, `redundancy.quorum`; nil for the whole file.
    public var field: String?
    /// What is wrong: "is missing", "is a number (12)".
    public var problem: String
    /// What would be accepted, when that can be said.
    public var expected: String?

    /// An error about `field` of the spec read from `source`.
    public init(source: String, field: String?, problem: String, expected: String? = nil) {
        self.source = source
        self.field = field
        self.problem = problem
        self.expected = expected
    }

    public var description: String {
        var text = source + ": " + (field.map { $0 + " " } ?? "") + problem
        if let expected { text += "; expected \(expected)" }
        return text
    }
}
