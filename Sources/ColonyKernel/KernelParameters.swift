import Foundation

/// The `parameters` object of a job spec, with typed accessors whose errors name the field.
///
/// Every accessor checks type and limits, so a kernel's `units(for:)` reads like its documentation:
///
///     let below = try parameters.int("below", in: 3...200_000)
///     let perUnit = try parameters.int("exponentsPerUnit", default: 40, in: 1...10_000)
public struct KernelParameters: Sendable, Hashable {
    /// The raw fields.
    public let values: [String: JSONValue]
    /// Where the parameters came from, for error messages: a file path, or "parameters" in code.
    public let source: String

    /// Parameters read from `source` (a file path, used only in error messages).
    public init(_ values: [String: JSONValue], source: String = "parameters") {
        self.values = values
        self.source = source
    }

    /// Whether the field is present (and not null).
    public func contains(_ name: String) -> Bool {
        if case .some(.null) = values[name] { return false }
        return values[name] != nil
    }

    /// An integer field within `range`; `default` is used when the field is absent.
    public func int(_ name: String, default fallback: Int? = nil, in range: ClosedRange<Int>) throws(KernelParameterError)
        -> Int
    {
        let expected = "an integer from \(range.lowerBound) to \(range.upperBound)"
        guard let value = try field(name, expected: expected, present: fallback != nil) else { return fallback! }
        let number: Int
        switch value {
        case .int(let exact): number = exact
        case .double(let real) where real.rounded() == real && abs(real) < 9.0e15: number = Int(real)
        default: throw mistyped(name, value, expected: expected)
        }
        guard range.contains(number) else {
            throw KernelParameterError(source: source, field: name, problem: "is \(number)", expected: expected)
        }
        return number
    }

    /// A number field within `range`; integers are accepted.
    public func double(
        _ name: String, default fallback: Double? = nil, in range: ClosedRange<Double>
    ) throws(KernelParameterError) -> Double {
        let expected = "a number from \(range.lowerBound) to \(range.upperBound)"
        guard let value = try field(name, expected: expected, present: fallback != nil) else { return fallback! }
        let number: Double
        switch value {
        case .int(let exact): number = Double(exact)
        case .double(let real): number = real
        default: throw mistyped(name, value, expected: expected)
        }
        guard number.isFinite, range.contains(number) else {
            throw KernelParameterError(source: source, field: name, problem: "is \(number)", expected: expected)
        }
        return number
    }

    /// A string field; `allowed`, when given, lists the accepted values.
    public func string(
        _ name: String, default fallback: String? = nil, allowed: [String]? = nil
    ) throws(KernelParameterError) -> String {
        let expected = allowed.map { "one of " + $0.map { "\"\($0)\"" }.joined(separator: ", ") } ?? "a string"
        guard let value = try field(name, expected: expected, present: fallback != nil) else { return fallback! }
        guard case .string(let text) = value else { throw mistyped(name, value, expected: expected) }
        if let allowed, !allowed.contains(text) {
            throw KernelParameterError(source: source, field: name, problem: "is \"\(text)\"", expected: expected)
        }
        return text
    }

    /// A boolean field.
    public func bool(_ name: String, default fallback: Bool? = nil) throws(KernelParameterError) -> Bool {
        guard let value = try field(name, expected: "true or false", present: fallback != nil) else {
            return fallback!
        }
        guard case .bool(let flag) = value else { throw mistyped(name, value, expected: "true or false") }
        return flag
    }

    /// Throws an error naming `field` unless `condition` holds: for limits that involve two fields.
    ///
    ///     try parameters.require(from < to, field: "to", "must be greater than from (\(from))")
    public func require(_ condition: Bool, field: String, _ problem: @autoclosure () -> String)
        throws(KernelParameterError)
    {
        guard !condition else { return }
        throw KernelParameterError(source: source, field: field, problem: problem(), expected: nil)
    }

    /// The names in `values` that are not in `known`: typos such as `exponentsPerUnt`.
    public func unknownNames(known: [String]) -> [String] {
        values.keys.filter { !known.contains($0) }.sorted()
    }

    private func field(_ name: String, expected: String, present optional: Bool) throws(KernelParameterError)
        -> JSONValue?
    {
        switch values[name] {
        case .none, .some(.null):
            if optional { return nil }
            throw KernelParameterError(source: source, field: name, problem: "is missing", expected: expected)
        case .some(let value):
            return value
        }
    }

    private func mistyped(_ name: String, _ value: JSONValue, expected: String) -> KernelParameterError {
        KernelParameterError(
            source: source, field: name, problem: "is \(value.typeDescription) (\(value.shortDescription))",
            expected: expected)
    }
}

/// A kernel parameter that is missing, of the wrong type or out of its limits.
///
/// Its description is one line that names the file and the field:
/// `Workunits/x.json: parameters.below is missing; expected an integer from 3 to 200000`.
public struct KernelParameterError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file (or other source) the parameters came from.
    public var source: String
    /// The parameter's name inside `parameters`.
    public var field: String
    /// What is wrong with it: "is missing", "is a string (\"ten\")", "is 0".
    public var problem: String
    /// What would be accepted, when that can be said.
    public var expected: String?

    /// An error for `field` of the parameters read from `source`.
    public init(source: String, field: String, problem: String, expected: String?) {
        self.source = source
        self.field = field
        self.problem = problem
        self.expected = expected
    }

    public var description: String {
        var text = "\(source): parameters.\(field) \(problem)"
        if let expected { text += "; expected \(expected)" }
        return text
    }
}
