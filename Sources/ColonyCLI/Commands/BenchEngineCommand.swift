import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation
import Synchronization

/// `colony bench engine`: the engine's efficiency against a bare `DispatchQueue.concurrentPerform` loop.
enum BenchEngineCommand: Command {
    /// The default workloads: sized to take several seconds each on two cores in a release build.
    static let workloads: [(kernel: String, parameters: [String: JSONValue])] = [
        ("mersenne", ["below": 8000, "exponentsPerUnit": 20]),
        ("primes", ["from": 0, "to": 20_000_000_000, "numbersPerUnit": 100_000_000]),
    ]

    static let description = CommandDescription(
        name: "engine",
        abstract: "Engine efficiency: the same units through the engine and through bare concurrentPerform",
        discussion: """
            Runs the same units twice per round in one process: through the worker engine as 'colony run' uses \
            it (slots, checkpoint hooks, progress, outputs stored on disk in a temporary data directory; normal \
            priority, like the bare loop), then through a bare DispatchQueue.concurrentPerform loop calling the \
            kernel. \
            Efficiency = bare time / engine time (1.0 = no overhead); each time is the best of the rounds. \
            Default workloads: \(workloads.map { "\($0.kernel) \(JSONText.serialize(.object($0.parameters)))" }.joined(separator: "; ")).
            """,
        options: [
            .value("kernel", "NAME", help: "Benchmark only this kernel (repeatable; default: mersenne and primes).",
                repeatable: true),
            .value("spec", "FILE", help: "Benchmark the units of this job spec instead of the default workloads."),
            .value("rounds", "N", help: "Rounds; each time reported is the best (default: 3)."),
            .flag("memory-store", help: "Keep engine outputs in memory instead of on disk."),
            .json,
        ],
        examples: ["swift run -c release colony bench engine", "colony bench engine --kernel primes --rounds 5"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        let rounds = try arguments.int("rounds", in: 1...100) ?? 3
        var jobs: [PreparedJob] = []
        if let specPath = arguments.value("spec") {
            let spec = try JobSpec.load(from: URL(fileURLWithPath: specPath), displayPath: specPath)
            jobs.append(try PreparedJob(spec: spec, registry: environment.registry))
        } else {
            let wanted = arguments.values("kernel")
            for name in wanted where !workloads.contains(where: { $0.kernel == name }) {
                throw InputError("--kernel \(name): no default workload; use --spec FILE for other kernels")
            }
            for workload in workloads where wanted.isEmpty || wanted.contains(workload.kernel) {
                guard environment.registry.kernelType(named: workload.kernel) != nil else { continue }
                let spec = JobSpec(kernel: workload.kernel, parameters: workload.parameters, source: "bench")
                jobs.append(try PreparedJob(spec: spec, registry: environment.registry))
            }
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var results: [JSONValue] = []
        if !arguments.flag("json") {
            console.print("Engine vs bare concurrentPerform on \(cores) cores, best of \(rounds) rounds")
            console.print("kernel        units   engine s     bare s  efficiency")
        }
        for job in jobs {
            let measurement = try measure(job, rounds: rounds, memoryStore: arguments.flag("memory-store"))
            let efficiency = measurement.bare / measurement.engine
            results.append(
                .object([
                    "kernel": .string(job.spec.kernel),
                    "parameters": .object(job.spec.parameters.values),
                    "units": .int(job.units.count),
                    "engineSeconds": .double(measurement.engine),
                    "bareSeconds": .double(measurement.bare),
                    "efficiency": .double(efficiency),
                    "outputsIdentical": .bool(measurement.identical),
                ]))
            if !arguments.flag("json") {
                let name = job.spec.kernel.padding(toLength: 12, withPad: " ", startingAt: 0)
                console.print(
                    "\(name) \(String(format: "%6d %10.3f %10.3f %11.3f", job.units.count, measurement.engine, measurement.bare, efficiency))"
                        + (measurement.identical ? "" : "  OUTPUTS DIFFER"))
            }
        }
        if arguments.flag("json") {
            console.printJSON(
                .object([
                    "cores": .int(cores), "rounds": .int(rounds),
                    "store": .string(arguments.flag("memory-store") ? "memory" : "disk"),
                    "results": .array(results),
                ]))
        }
        return ExitStatus.success
    }

    /// Best engine and bare times over `rounds`, and whether both gave the same outputs.
    static func measure(_ job: PreparedJob, rounds: Int, memoryStore: Bool) throws -> (
        engine: Double, bare: Double, identical: Bool
    ) {
        var bestEngine = Double.infinity
        var bestBare = Double.infinity
        var identical = true
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "colony-bench-\(getpid())", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        for round in 0..<rounds {
            // Normal priority like the bare loop: nice 19 changes nothing on an idle machine and would only
            // measure other load on a busy one.
            var configuration = EngineConfiguration()
            configuration.lowPriority = false
            let engine = try WorkerEngine(configuration: configuration)
            let store: any UnitStore =
                memoryStore
                ? MemoryUnitStore()
                : try RunStore(
                    dataDirectory: DataDirectory(url: scratch), workID: "\(job.workID)-\(round)")
            let clock = ContinuousClock()
            var engineResult: EngineResult?
            let engineTime = clock.measure {
                engineResult = engine.run(kernel: job.kernel, units: job.units, store: store)
            }
            if let failure = engineResult?.failure { throw failure }
            let bare = BareRun(count: job.units.count)
            let bareTime = clock.measure { bare.run(kernel: job.kernel, units: job.units) }
            if let failure = bare.failure { throw failure }
            bestEngine = min(bestEngine, engineTime.seconds)
            bestBare = min(bestBare, bareTime.seconds)
            identical = identical && engineResult!.outputs == bare.outputs
        }
        return (bestEngine, bestBare, identical)
    }
}

/// The reference: every unit through `concurrentPerform`, nothing else.
private final class BareRun: Sendable {
    private let results: Mutex<(outputs: [Data?], failure: EngineFailure?)>

    init(count: Int) {
        results = Mutex(([Data?](repeating: nil, count: count), nil))
    }

    var outputs: [Data?] { results.withLock { $0.outputs } }
    var failure: EngineFailure? { results.withLock { $0.failure } }

    func run(kernel: any ComputeKernel, units: [Data]) {
        DispatchQueue.concurrentPerform(iterations: units.count) { unit in
            do {
                let output = try kernel.run(units[unit], context: KernelContext(unit: unit))
                results.withLock { $0.outputs[unit] = output }
            } catch {
                results.withLock { $0.failure = EngineFailure(unit: unit, reason: "\(error)") }
            }
        }
    }
}
