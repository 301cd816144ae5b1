import ColonyKernel
import Testing

@Suite struct KernelParametersTests {
    let parameters = KernelParameters(
        ["below": 10_000, "ratio": 0.5, "name": "tile", "flag": true, "huge": 1e9, "text": "ten", "half": 2.5],
        source: "Workunits/x.json")

    @Test func typedReadsReturnValues() throws {
        #expect(try parameters.int("below", in: 3...100_000) == 10_000)
        #expect(try parameters.int("huge", in: 0...2_000_000_000) == 1_000_000_000)
        #expect(try parameters.double("ratio", in: 0...1) == 0.5)
        #expect(try parameters.double("below", in: 0...1e6) == 10_000)
        #expect(try parameters.string("name") == "tile")
        #expect(try parameters.bool("flag") == true)
    }

    @Test func defaultsApplyOnlyWhenAbsent() throws {
        #expect(try parameters.int("missing", default: 7, in: 0...10) == 7)
        #expect(throws: KernelParameterError.self) { try parameters.int("below", default: 7, in: 0...10) }
    }

    @Test func missingFieldIsNamed() {
        let error = #expect(throws: KernelParameterError.self) { try parameters.int("to", in: 1...100) }
        #expect(error?.field == "to")
        #expect(error?.description == "Workunits/x.json: parameters.to is missing; expected an integer from 1 to 100")
    }

    @Test func wrongTypeIsNamedWithTheValue() {
        let error = #expect(throws: KernelParameterError.self) { try parameters.int("text", in: 1...100) }
        #expect(error?.description == "Workunits/x.json: parameters.text is a string (\"ten\"); expected an integer from 1 to 100")
        let fraction = #expect(throws: KernelParameterError.self) { try parameters.int("half", in: 1...100) }
        #expect(fraction?.problem == "is a number (2.5)")
    }

    @Test func outOfRangeIsNamed() {
        let error = #expect(throws: KernelParameterError.self) { try parameters.int("below", in: 1...100) }
        #expect(error?.problem == "is 10000")
    }

    @Test func stringChoicesAreListed() {
        let error = #expect(throws: KernelParameterError.self) {
            try parameters.string("name", allowed: ["png", "raw"])
        }
        #expect(error?.expected == "one of \"png\", \"raw\"")
    }

    @Test func requireNamesTheField() {
        let error = #expect(throws: KernelParameterError.self) {
            try parameters.require(false, field: "to", "must be greater than from (5)")
        }
        #expect(error?.description == "Workunits/x.json: parameters.to must be greater than from (5)")
    }

    @Test func unknownNamesAreFound() {
        #expect(parameters.unknownNames(known: ["below", "ratio", "name", "flag", "huge"]) == ["half", "text"])
    }
}

@Suite struct JSONTextTests {
    @Test func serializesWithSortedKeys() {
        let value: JSONValue = ["b": 1, "a": [true, .null, 2.5, "x\"y\n"]]
        #expect(JSONText.serialize(value) == #"{"a":[true,null,2.5,"x\"y\n"],"b":1}"#)
    }

    @Test func roundTripsThroughParse() throws {
        let value: JSONValue = ["kernel": "mersenne", "parameters": ["below": 10_000, "ratio": 0.25], "list": [1, 2]]
        let text = JSONText.serialize(value, pretty: true)
        #expect(try JSONText.parse(Data(text.utf8), source: "t") == value)
    }

    @Test func integersStayIntegers() throws {
        #expect(try JSONText.parse(Data("[1000000000, 1e9, 2.5, true]".utf8), source: "t") == [1_000_000_000, 1_000_000_000, 2.5, true])
    }

    @Test(arguments: ["", "{", "{\"a\": }", "kernel: x", "{\"a\": 1} x"])
    func badTextIsAnErrorNamingTheSource(text: String) {
        let error = #expect(throws: JSONTextError.self) { try JSONText.parse(Data(text.utf8), source: "spec.json") }
        #expect(error?.source == "spec.json")
        #expect(error?.description.hasPrefix("spec.json: ") == true)
        #expect(error?.description.contains("\n") == false)
    }
}

import Foundation
