import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation

/// `colony run SPEC`: computes a whole job on this machine.
enum RunCommand: Command {
    static let description = CommandDescription(
        name: "run",
        abstract: "Compute a job on this machine: split it, run every unit, assemble the result",
        discussion: """
            Units run in parallel, one per core, at low priority. Ctrl-C saves a checkpoint of every running \
            unit and exits; the same command again resumes from them. Finished units and checkpoints are kept in \
            the data directory under runs/ until the result is assembled. Each core's units run in a child \
            process of this program, so a unit that crashes, runs out of memory (--memory-limit) or time \
            (--unit-time-limit) fails alone; checkpoints are written to disk as the kernel takes them, so even \
            after a kill -9 the same command resumes each unit from its last one.
            """,
        positionals: [PositionalDescription("SPEC", help: "A job spec file (JSON), for example Workunits/mersenne-10k.json.")],
        options: [
            .value("out", "DIR", help: "Where to write the result (default: colony-results/<spec name>)."),
            .cores,
            .value("cpu-limit", "PCT", help: "Use at most PCT% of each core, by duty cycle (default: 100)."),
            .flag("normal-priority", help: "Run kernels at normal priority instead of nice 19."),
            .value("checkpoint-every", "SECONDS", help: "Seconds between checkpoints of a running unit (default: 30)."),
            IsolationOptions.memoryLimit,
            .value("unit-time-limit", "SECONDS", help: "End a unit that runs longer than this (default: none)."),
            .flag("keep-going", help: "Go on with the other units after one fails (the result is not assembled)."),
            IsolationOptions.inProcess,
            .dataDir,
            .flag("verbose", help: "Log each unit as it finishes, on standard error."),
            .json,
        ],
        examples: [
            "colony run Workunits/mersenne-10k.json",
            "colony run Workunits/primes-1e9.json --cores 1 --cpu-limit 50",
            "colony run Workunits/collatz-1e7.json --json",
        ]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        let specPath = arguments.positionals[0]
        let specURL = URL(fileURLWithPath: specPath)
        var configuration = EngineConfiguration()
        configuration.cores = try arguments.int("cores", in: EngineConfiguration.coreRange) ?? configuration.cores
        configuration.cpuLimit = try arguments.int("cpu-limit", in: EngineConfiguration.cpuLimitRange) ?? 100
        configuration.lowPriority = !arguments.flag("normal-priority")
        if let seconds = try arguments.int("checkpoint-every", in: 1...86_400) {
            configuration.checkpointInterval = .seconds(seconds)
        }
        configuration.isolation = try IsolationOptions.isolation(arguments, cores: configuration.cores, in: environment)
        if let seconds = try arguments.int("unit-time-limit", in: 1...(86_400 * 365)) {
            guard configuration.isolation != nil else {
                throw UsageError("--unit-time-limit needs kernels in a child process; drop --in-process", commandPath: arguments.commandPath)
            }
            configuration.unitTimeLimit = .seconds(seconds)
        }
        configuration.stopAtFirstFailure = !arguments.flag("keep-going")
        let json = arguments.flag("json")
        let verbose = arguments.flag("verbose")

        let spec = try JobSpec.load(from: specURL, displayPath: specPath)
        let job = try PreparedJob(spec: spec, registry: environment.registry)
        let specName = specURL.deletingPathExtension().lastPathComponent
        let outputFolder = URL(fileURLWithPath: arguments.value("out") ?? "colony-results/\(specName)")
        let dataDirectory = environment.dataDirectory(arguments)
        let localRun = try LocalRun(job: job, dataDirectory: dataDirectory, outputFolder: outputFolder)
        let engine = try WorkerEngine(configuration: configuration)
        let kernelType = type(of: job.kernel)
        let label = kernelType.label

        let earlier = localRun.earlierProgress
        if earlier.finished + earlier.checkpointed > 0, console.errorIsTerminal || verbose {
            console.note(
                "Resuming \(label): \(earlier.finished) of \(job.units.count) units already done, "
                    + "\(earlier.checkpointed) with a checkpoint.")
        }
        if console.errorIsTerminal {
            console.note(
                "\(spec.title): \(job.units.count) units on \(configuration.cores) cores"
                    + (configuration.cpuLimit < 100 ? " at \(configuration.cpuLimit)% CPU" : "")
                    + (configuration.lowPriority ? " (low priority)" : ""))
        }

        let interrupts = InterruptHandler(onInterrupt: { engine.stop() }, console: console)
        let display = console.errorIsTerminal ? ProgressDisplay(label: label, engine: engine, console: console) : nil
        let events: (@Sendable (EngineEvent) -> Void)? = verbose ? { @Sendable event in Self.log(event, console: console) } : nil
        let outcome = Result { try localRun.execute(with: engine, events: events) }
        display?.finish()
        interrupts.remove()
        let result = try outcome.get()
        let engineResult = result.engine

        if let failure = engineResult.failure {
            for other in engineResult.failures.dropFirst() { console.note("error: \(other)") }
            console.note("error: \(failure)")
            console.note("Finished units are kept in \(localRun.store.folder.path); run the command again to retry.")
            if json { console.printJSON(report(job: job, result: engineResult, configuration: configuration, summary: nil)) }
            return ExitStatus.failure
        }
        guard let summary = result.summary else {
            let message =
                "Interrupted: \(engineResult.finished) of \(job.units.count) units done; checkpoints saved in "
                + "\(localRun.store.folder.path). Run the same command again to resume."
            console.note(message)
            if json {
                var fields = report(job: job, result: engineResult, configuration: configuration, summary: nil)
                    .objectValue ?? [:]
                fields["checkpointed"] = .int(localRun.earlierProgress.checkpointed)
                console.printJSON(.object(fields))
            }
            return ExitStatus.interrupted
        }

        var report = report(job: job, result: engineResult, configuration: configuration, summary: summary)
        let summaryFile = outputFolder.appendingPathComponent("summary.json")
        if case .object(var fields) = report, case .array(var files) = fields["files"] {
            files.append(.string(summaryFile.path))
            fields["files"] = .array(files)
            report = .object(fields)
        }
        try AtomicFile.write(Data((JSONText.serialize(report, pretty: true) + "\n").utf8), to: summaryFile)
        if json {
            console.printJSON(report)
        } else {
            console.print(summary.headline)
            var line = "\(job.units.count) units in \(Format.seconds(engineResult.elapsed.seconds)) s"
            line += " on \(configuration.cores) cores"
            if engineResult.reused > 0 { line += " (\(engineResult.reused) done by an earlier run)" }
            console.print(line + ". Result in \(outputFolder.path)/")
        }
        return ExitStatus.success
    }

    static func report(
        job: PreparedJob, result: EngineResult, configuration: EngineConfiguration, summary: KernelSummary?
    ) -> JSONValue {
        let kernelType = type(of: job.kernel)
        var fields: [String: JSONValue] = [
            "kernel": .string(kernelType.name),
            "version": .int(kernelType.version),
            "title": .string(job.spec.title),
            "spec": .string(job.spec.source),
            "units": .int(job.units.count),
            "computed": .int(result.computed),
            "reused": .int(result.reused),
            "resumed": .int(result.resumed),
            "cores": .int(configuration.cores),
            "seconds": .double(result.elapsed.seconds),
            "isolated": .bool(configuration.isolation != nil),
            "failed": .int(result.failures.count),
            "interrupted": .bool(result.interrupted),
        ]
        if let summary {
            fields["summary"] = .object(summary.values)
            fields["files"] = .array(summary.files.map { .string($0.path) })
        } else {
            fields["finished"] = .int(result.finished)
        }
        if !result.failures.isEmpty {
            fields["failures"] = .array(
                result.failures.map { .object(["unit": .int($0.unit), "reason": .string($0.reason)]) })
        }
        return .object(fields)
    }
}

extension RunCommand {
    /// `--verbose`: one line on standard error per unit event.
    static func log(_ event: EngineEvent, console: Console) {
        switch event {
        case .started(let unit, let resumed):
            console.note("unit \(unit) started" + (resumed ? " from its checkpoint" : ""))
        case .finished(let unit, let finished, let total):
            console.note("unit \(unit) finished (\(finished)/\(total))")
        case .stopped(let unit):
            console.note("unit \(unit) stopped; checkpoint saved")
        case .failed(let failure):
            console.note("\(failure)")
        }
    }
}
