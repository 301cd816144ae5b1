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
            Runs the same units three times per round: through the worker engine as 'colony run' uses it, with \
            each slot's units in a kernel host process (isolated: frames over pipes, checkpoints relayed), then \
            through the engine on threads of this process (in-process), then through a bare \
            DispatchQueue.concurrentPerform loop calling the kernel. The engine runs keep slots, checkpoint \
            hooks, progress and outputs stored on disk in a temporary data directory, at normal priority like \
            the bare loop. \
            Efficiency = bare time / engine time (1.0 = no overhead); each time is the best of the rounds. \
            Default workloads: \(workloads.map { "\($0.kernel) \(JSONText.serialize(.object($0.parameters)))" }.joined(separator: "; ")).
            """,
        options: [
            .value("kernel", "NAME", help: "Benchmark only this kernel (repeatable; default: mersenne and primes).",
                repeatable: true),
            .value("spec", "FILE", help: "Benchmark the units of this job spec instead of the default workloads."),
            .value("rounds", "N", help: "Rounds; each time reported is the best (default: 3)."),
            .flag("memory-store", help: "Keep engine outputs in memory instead of on disk."),
            .flag("in-process", help: "Measure only the in-process engine, not isolated kernel hosts."),
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
            console.print("kernel       mode          units   engine s     bare s  efficiency")
        }
        let isolation = arguments.flag("in-process") ? nil : try environment.isolation()
        for job in jobs {
            let measurement = try measure(job, rounds: rounds, memoryStore: arguments.flag("memory-store"), isolation: isolation)
            for (mode, engineSeconds) in measurement.engine {
                let efficiency = measurement.bare / engineSeconds
                results.append(
                    .object([
                        "kernel": .string(job.spec.kernel),
                        "mode": .string(mode),
                        "parameters": .object(job.spec.parameters.values),
                        "units": .int(job.units.count),
                        "engineSeconds": .double(engineSeconds),
                        "bareSeconds": .double(measurement.bare),
                        "efficiency": .double(efficiency),
                        "outputsIdentical": .bool(measurement.identical),
                    ]))
                if !arguments.flag("json") {
                    let name = job.spec.kernel.padding(toLength: 12, withPad: " ", startingAt: 0)
                    let modeName = mode.padding(toLength: 10, withPad: " ", startingAt: 0)
                    console.print(
                        "\(name) \(modeName) \(String(format: "%8d %10.3f %10.3f %11.3f", job.units.count, engineSeconds, measurement.bare, efficiency))"
                            + (measurement.identical ? "" : "  OUTPUTS DIFFER"))
                }
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

    /// Best engine times (isolated when `isolation` is given, and in-process) and bare time over `rounds`, and
    /// whether every run gave the same outputs.
    static func measure(_ job: PreparedJob, rounds: Int, memoryStore: Bool, isolation: KernelIsolation?) throws -> (
        engine: [(mode: String, seconds: Double)], bare: Double, identical: Bool
    ) {
        let modes: [(name: String, isolation: KernelIsolation?)] =
            (isolation.map { [("isolated", $0)] } ?? []) + [("in-process", nil)]
        var bestEngine = [Double](repeating: .infinity, count: modes.count)
        var bestBare = Double.infinity
        var identical = true
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "colony-bench-\(getpid())", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let clock = ContinuousClock()
        for round in 0..<rounds {
            var outputs: [[Data?]] = []
            for (index, mode) in modes.enumerated() {
                // Normal priority like the bare loop: nice 19 changes nothing on an idle machine and would only
                // measure other load on a busy one.
                var configuration = EngineConfiguration()
                configuration.lowPriority = false
                configuration.isolation = mode.isolation
                let engine = try WorkerEngine(configuration: configuration)
                let store: any UnitStore =
                    memoryStore
                    ? MemoryUnitStore()
                    : try RunStore(
                        dataDirectory: DataDirectory(url: scratch), workID: "\(job.workID)-\(round)-\(mode.name)")
                var engineResult: EngineResult?
                let engineTime = clock.measure {
                    engineResult = engine.run(kernel: job.kernel, units: job.units, store: store)
                }
                if let failure = engineResult?.failure { throw failure }
                bestEngine[index] = min(bestEngine[index], engineTime.seconds)
                outputs.append(engineResult!.outputs)
            }
            let bare = BareRun(count: job.units.count)
            let bareTime = clock.measure { bare.run(kernel: job.kernel, units: job.units) }
            if let failure = bare.failure { throw failure }
            bestBare = min(bestBare, bareTime.seconds)
            identical = identical && outputs.allSatisfy { $0 == bare.outputs }
        }
        return (zip(modes, bestEngine).map { ($0.name, $1) }, bestBare, identical)
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
