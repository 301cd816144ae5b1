import ColonyCore
import ColonyKernel
import Foundation

/// `colony bench verify`: what each kernel's cheap check (`ComputeKernel.verify`) costs, as a fraction of `run`.
enum BenchVerifyCommand: Command {
    /// Workloads for the kernels that offer a check: a few seconds of `run` each in a release build.
    static let workloads: [(kernel: String, parameters: [String: JSONValue])] = [
        ("collatz", ["from": 1, "to": 20_000_000, "valuesPerUnit": 250_000]),
        ("mandelbrot", ["width": 2048, "height": 2048, "rowsPerUnit": 64, "maxIterations": 1000]),
        // Seahorse valley: most pixels near the boundary, where each costs thousands of iterations.
        (
            "mandelbrot",
            [
                "width": 1024, "height": 1024, "rowsPerUnit": 64, "maxIterations": 5000, "centerX": -0.7436,
                "centerY": 0.1318, "span": 0.01,
            ]
        ),
    ]

    static let description = CommandDescription(
        name: "verify",
        abstract: "Cheap verification: each kernel's check of an output against recomputing it, as a fraction",
        discussion: """
            Runs every unit of each workload once on one thread, then checks every output with the kernel's \
            verify (collatz re-walks the claimed longest trajectory; mandelbrot recomputes a random 1% of the \
            band's pixels, at least 256), and prints the time of each and verify / run. Every right output must \
            verify; the command fails if one does not. Default workloads: \
            \(workloads.map { "\($0.kernel) \(JSONText.serialize(.object($0.parameters)))" }.joined(separator: "; ")).
            """,
        options: [.json],
        examples: ["swift run -c release colony bench verify", "colony bench verify --json"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        var rows: [JSONValue] = []
        if !arguments.flag("json") {
            console.print("kernel       units      run s   verify s   verify/run")
        }
        for workload in workloads {
            guard let kernel = environment.registry.kernel(named: workload.kernel) else { continue }
            let units = try kernel.units(for: KernelParameters(workload.parameters))
            let clock = ContinuousClock()
            var outputs: [Data] = []
            let ran = try clock.measure {
                for (index, input) in units.enumerated() {
                    outputs.append(try kernel.run(input, context: KernelContext(unit: index)))
                }
            }
            var failed = 0
            let checked = clock.measure {
                for (input, output) in zip(units, outputs) where kernel.verify(input: input, output: output) != true {
                    failed += 1
                }
            }
            guard failed == 0 else {
                throw InputError("\(workload.kernel): \(failed) of \(units.count) right outputs did not verify")
            }
            let (runSeconds, verifySeconds) = (seconds(ran), seconds(checked))
            let fraction = verifySeconds / runSeconds
            rows.append(
                .object([
                    "kernel": .string(workload.kernel), "parameters": .object(workload.parameters),
                    "units": .int(units.count), "runSeconds": .double(runSeconds),
                    "verifySeconds": .double(verifySeconds), "fraction": .double(fraction),
                ]))
            if !arguments.flag("json") {
                console.print(
                    workload.kernel.padding(toLength: 12, withPad: " ", startingAt: 0)
                        + String(format: " %5d %10.3f %10.4f %12.5f", units.count, runSeconds, verifySeconds, fraction))
            }
        }
        if arguments.flag("json") { console.printJSON(.object(["results": .array(rows)])) }
        return ExitStatus.success
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (whole, attoseconds) = duration.components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
