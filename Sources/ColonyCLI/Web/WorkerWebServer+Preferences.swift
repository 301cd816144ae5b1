import Colony
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation

/// `GET` and `POST /api/preferences` (issue 13, lets the donor edit preferences).
///
/// Both answer `{"fields": [{"name", "value", "source", "summary", "overridden", "form"}, …], "file": PATH}` in the
/// order of `PreferenceField.fields`; `overridden` says a variable or flag sets the value, so the file's does not
/// apply, and `form` is how the field is written as text (`number`, `list` or `json`, `PreferenceField.TextForm`).
/// A POST's body is a JSON object of the fields to set, each value as in the file (`{"cpuPercent": 40}`) or as
/// the text `colony config set` takes (`{"cpuPercent": "40", "cores": "off", "allowedKernels": "a, b"}`): no
/// field holds a string, so a string is always read as text. The fields are checked together: a bad body or
/// field is answered 400 with `{"error", "field"}` and changes neither the file nor the worker. The server bounds
/// the body (`HTTPRequestLimits.maxBody`).
extension WorkerWebServer {
    static func addPreferenceRoutes(to router: inout HTTPRouter, worker: SwarmWorker, editor: PreferencesEditor) {
        router.add(.get, "/api/preferences") { _ in
            do {
                return json(preferencesDocument(try editor.effective(), editor: editor))
            } catch {
                return failure(error, status: .internalServerError)
            }
        }
        router.add(.post, "/api/preferences") { request in
            let source = "POST /api/preferences"
            let values: [String: JSONValue]
            switch try? JSONDecoder().decode(JSONValue.self, from: Data(request.body)) {
            case .object(let object): values = object
            default:
                let error = PreferenceError(
                    source: source, field: nil,
                    message: #"expected a JSON object of preferences, such as {"cpuPercent": 50}"#)
                return failure(error, status: .badRequest)
            }
            var textual = values
            for (name, value) in values {
                if case .string(let text) = value, let field = PreferenceField.named(name) {
                    textual[name] = field.json(fromText: text)
                }
            }
            let effective: EffectivePreferences
            do {
                effective = try editor.set(textual, source: source)
            } catch let error as PreferenceError {
                return failure(error, status: .badRequest)
            } catch {
                return failure(error, status: .internalServerError)
            }
            worker.apply(effective.preferences)
            return json(preferencesDocument(effective, editor: editor))
        }
    }

    /// What both routes answer: every field with its value, source and summary, and the file's path.
    static func preferencesDocument(_ effective: EffectivePreferences, editor: PreferencesEditor) -> JSONValue {
        let fields: [JSONValue] = PreferenceField.fields.map { field in
            let source = effective.source(of: field.name)
            return .object([
                "name": .string(field.name), "value": field.value(in: effective.preferences),
                "source": .string(source.description), "summary": .string(field.summary),
                "overridden": .bool(source.overridesFile), "form": .string("\(field.textForm)"),
            ])
        }
        return .object(["fields": .array(fields), "file": .string(editor.file.path)])
    }

    /// `{"error": TEXT, "field": NAME}` (the field when the error names one), with `status`.
    static func failure(_ error: any Error, status: HTTPStatus) -> HTTPResponse {
        var body: [String: JSONValue] = ["error": .string("\(error)")]
        if let field = (error as? PreferenceError)?.field { body["field"] = .string(field) }
        return json(.object(body), status: status)
    }
}
