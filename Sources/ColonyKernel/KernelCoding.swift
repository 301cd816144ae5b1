import Foundation

/// Encodes unit inputs, outputs and checkpoints as canonical JSON (sorted keys), so that two workers that
/// computed the same value produce the same bytes, and decodes them with errors naming the kernel.
public enum KernelCoding {
    /// The bytes of `value` as JSON with sorted keys.
    public static func encode<Value: Encodable>(_ value: Value) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain Codable structs of numbers, strings and arrays cannot fail; a failure is a kernel bug.
        do {
            return try encoder.encode(value)
        } catch {
            preconditionFailure("KernelCoding.encode(\(Value.self)) failed: \(error)")
        }
    }

    /// Decodes `data` as `Value`; `what` ("unit input", "unit output") and `kernel` go into the error.
    public static func decode<Value: Decodable>(
        _ type: Value.Type, from data: Data, kernel: String, what: String
    ) throws(KernelDataError) -> Value {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw KernelDataError(kernel: kernel, what: what, reason: "\(error)")
        }
    }
}
