import ColonyKernel
import Foundation
import Testing

@testable import ColonyWork

@Suite struct JobSpecTests {
    func parse(_ text: String) throws(JobSpecError) -> JobSpec {
        try JobSpec.parse(Data(text.utf8), source: "Workunits/x.json")
    }

    @Test func readsACompleteSpec() throws {
        let spec = try parse(
            """
            {"kernel": "mersenne", "title": "Mersenne", "parameters": {"below": 10000},
             "redundancy": {"replicas": 3, "quorum": 2, "maxAttempts": 8}, "leaseSeconds": 120}
            """)
        #expect(spec.kernel == "mersenne")
        #expect(spec.title == "Mersenne")
        #expect(spec.parameters.values == ["below": 10_000])
        #expect(spec.parameters.source == "Workunits/x.json")
        #expect(spec.redundancy == Redundancy(replicas: 3, quorum: 2, maxAttempts: 8))
        #expect(spec.leaseSeconds == 120)
    }

    @Test func onlyTheKernelIsRequired() throws {
        let spec = try parse(#"{"kernel": "collatz"}"#)
        #expect(spec.title == "collatz")
        #expect(spec.parameters.values.isEmpty)
        #expect(spec.redundancy == Redundancy())
        #expect(spec.leaseSeconds == 300)
    }

    /// Every bad spec is refused with one line that names the file and the field.
    @Test(arguments: [
        (#"{"title": "x"}"#, "Workunits/x.json: kernel is missing; expected a string naming a compiled-in kernel (see colony kernels)"),
        (#"{"kernel": 12}"#, "Workunits/x.json: kernel is an integer (12); expected a string naming a compiled-in kernel (see colony kernels)"),
        (#"{"kernel": ""}"#, "Workunits/x.json: kernel is empty; expected a kernel name"),
        (#"{"kernel": "a", "parameters": [1]}"#, "Workunits/x.json: parameters is an array ([…]); expected a JSON object"),
        (#"{"kernel": "a", "parametres": {}}"#, "Workunits/x.json: parametres is not a job spec field; expected only kernel, title, parameters, redundancy, leaseSeconds"),
        (#"{"kernel": "a", "leaseSeconds": 1}"#, "Workunits/x.json: leaseSeconds is 1; expected an integer from 10 to 86400"),
        (#"{"kernel": "a", "redundancy": {"replicas": 2, "quorum": 3}}"#, "Workunits/x.json: redundancy.quorum is 3; expected an integer from 1 to 2"),
        (#"{"kernel": "a", "redundancy": {"replica": 2}}"#, "Workunits/x.json: redundancy.replica is not a redundancy field; expected only replicas, quorum, maxAttempts, ipv4Prefix, ipv6Prefix, adaptive, minSpotCheck, trustAfter, verifyAlone"),
        (#"{"kernel": "a", "redundancy": {"replicas": "2"}}"#, "Workunits/x.json: redundancy.replicas is a string (\"2\"); expected an integer from 1 to 16"),
        ("[1, 2]", "Workunits/x.json: is an array, not a JSON object; expected an object with fields kernel, title, parameters, redundancy, leaseSeconds"),
    ])
    func badSpecsNameTheFileAndField(text: String, message: String) {
        let error = #expect(throws: JobSpecError.self) { try parse(text) }
        #expect(error?.description == message)
    }

    @Test(arguments: ["", "not json", "{\"kernel\": ", "\u{FF}\u{FE}"])
    func nonJSONIsOneLineNamingTheFile(text: String) {
        let error = #expect(throws: JobSpecError.self) { try parse(text) }
        #expect(error?.description.hasPrefix("Workunits/x.json: ") == true)
        #expect(error?.description.contains("\n") == false)
    }

    @Test func aMissingFileIsNamed() {
        let error = #expect(throws: JobSpecError.self) {
            try JobSpec.load(from: URL(fileURLWithPath: "/nonexistent/spec.json"), displayPath: "spec.json")
        }
        #expect(error?.description == "spec.json: does not exist; expected a JSON job spec file")
    }
}

@Suite struct PreparedJobTests {
    let registry = KernelRegistry([StepperKernel.self])

    @Test func splitsIntoUnitsWithAStableWorkID() throws {
        let spec = JobSpec(kernel: "stepper", parameters: ["units": 5])
        let job = try PreparedJob(spec: spec, registry: registry)
        #expect(job.units.count == 5)
        #expect(job.workID == (try PreparedJob(spec: spec, registry: registry)).workID)
        let other = try PreparedJob(spec: JobSpec(kernel: "stepper", parameters: ["units": 6]), registry: registry)
        #expect(job.workID != other.workID)
        #expect(job.workID.count == 64)
    }

    @Test func anUnknownKernelListsTheCompiledInOnes() {
        let error = #expect(throws: JobSpecError.self) {
            try PreparedJob(spec: JobSpec(kernel: "nope", source: "s.json"), registry: registry)
        }
        #expect(error?.description == "s.json: kernel is \"nope\", which is not compiled in; expected one of stepper (see colony kernels)")
    }

    @Test func aMisspeltParameterIsRefused() {
        let error = #expect(throws: JobSpecError.self) {
            try PreparedJob(spec: JobSpec(kernel: "stepper", parameters: ["unit": 5], source: "s.json"), registry: registry)
        }
        #expect(error?.field == "parameters.unit")
    }

    @Test func kernelParameterErrorsPassThrough() {
        let error = #expect(throws: KernelParameterError.self) {
            try PreparedJob(spec: JobSpec(kernel: "stepper", parameters: ["units": "five"], source: "s.json"), registry: registry)
        }
        #expect(error?.field == "units")
    }

    @Test func noUnitsIsAnError() {
        let error = #expect(throws: JobSpecError.self) {
            try PreparedJob(spec: JobSpec(kernel: "stepper", parameters: ["units": 0], source: "s.json"), registry: registry)
        }
        #expect(error?.problem == "give no work units")
    }
}
