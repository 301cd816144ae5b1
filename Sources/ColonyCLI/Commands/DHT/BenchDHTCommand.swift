import ColonyDHT
import ColonyKernel
import ColonyNet
import Foundation

/// `colony bench dht`: a whole Kademlia network in the simulator, every answer checked against the truth.
enum BenchDHTCommand: Command {
    static let description = CommandDescription(
        name: "dht",
        abstract: "Simulate a DHT of N nodes and measure its lookups against the true closest nodes",
        discussion: """
            Builds N Colony DHT nodes on a simulated network with a virtual clock (one process, deterministic \
            from the seed), runs random lookups and checks each result against the true k closest nodes, puts \
            immutable items, then (with --dead) kills that share of the nodes silently and measures again: \
            lookups must return the closest live nodes and the items must still be found. Reports lookup \
            rounds, messages per lookup, success rates and peak memory.
            """,
        options: [
            .value("nodes", "N", help: "Nodes in the network (default: 10000)."),
            .value("dead", "PCT", help: "Percent of nodes that die after the build (default: 0)."),
            .value("lookups", "N", help: "Lookups measured in each phase (default: 1000)."),
            .value("items", "N", help: "Items put before the deaths and read after (default: 100)."),
            .value("loss", "PCT", help: "Percent of datagrams lost (default: 0)."),
            .value("alpha", "N", help: "Requests in flight per lookup (default: 3)."),
            .value("seed", "N", help: "Seed for IDs, choices and the network (default: 1)."),
            .json,
        ],
        examples: ["swift run -c release colony bench dht", "colony bench dht --nodes 10000 --dead 30 --json"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        var parameters = DHTSimulation.Parameters()
        parameters.nodes = try arguments.int("nodes", in: 2...100_000) ?? 10_000
        parameters.deadFraction = Double(try arguments.int("dead", in: 0...90) ?? 0) / 100
        parameters.lookups = try arguments.int("lookups", in: 1...1_000_000) ?? 1_000
        parameters.items = try arguments.int("items", in: 0...100_000) ?? 100
        parameters.conditions.loss = Double(try arguments.int("loss", in: 0...50) ?? 0) / 100
        parameters.configuration.alpha = try arguments.int("alpha", in: 1...16) ?? 3
        parameters.seed = UInt64(try arguments.int("seed", in: 0...Int.max) ?? 1)
        let json = arguments.flag("json")
        let console = environment.console
        let started = Date()
        let simulation = DHTSimulation(parameters)
        let report = simulation.run { line in
            if !json { console.note(line) }
        }
        let wall = Date().timeIntervalSince(started)
        let peak = ProcessMemory.peakMiB
        if json {
            var fields: [String: JSONValue] = [
                "nodes": .int(report.nodes), "joined": .int(report.joined), "dead": .int(report.dead),
                "averageTableSize": .double(report.averageTableSize),
                "healthy": figures(report.healthy),
                "itemsPut": .int(report.itemsPut), "itemsStored": .int(report.itemsStored),
                "itemsFound": .int(report.itemsFound),
                "datagrams": .object([
                    "delivered": .int(report.datagrams.delivered), "lost": .int(report.datagrams.lost),
                    "toDead": .int(report.datagrams.toDead),
                ]),
                "virtualSeconds": .double(report.virtualSeconds), "wallSeconds": .double(wall),
                "peakMemoryMiB": .double(peak), "seed": .int(Int(parameters.seed)),
                "alpha": .int(parameters.configuration.alpha), "k": .int(parameters.configuration.k),
            ]
            if let after = report.afterDeaths { fields["afterDeaths"] = figures(after) }
            console.printJSON(.object(fields))
        } else {
            console.print("\(report.nodes) nodes (\(report.joined) joined, average table \(String(format: "%.1f", report.averageTableSize)) nodes), k = \(parameters.configuration.k), α = \(parameters.configuration.alpha)")
            console.print(line("healthy", report.healthy))
            if let after = report.afterDeaths {
                console.print(line("\(report.dead) dead", after))
            }
            console.print("items: \(report.itemsPut) put, \(report.itemsStored) stored, \(report.itemsFound) found at the end")
            console.print(String(format: "%.0f virtual s in %.1f s wall; peak memory %.0f MiB", report.virtualSeconds, wall, peak))
        }
        return ExitStatus.success
    }

    private static func line(_ phase: String, _ figures: DHTSimulation.LookupFigures) -> String {
        let rounds = (median(figures.rounds), p99(figures.rounds))
        let messages = (median(figures.messages), p99(figures.messages))
        let meanMessages = Double(figures.messages.reduce(0, +)) / Double(max(figures.count, 1))
        let rate = String(format: "%.2f%%", figures.successRate * 100)
        let mean = String(format: "%.1f", meanMessages)
        var text = "\(phase): \(figures.exact)/\(figures.count) lookups returned the true k closest live nodes (\(rate))"
        text += "; rounds median \(rounds.0), p99 \(rounds.1)"
        text += "; messages median \(messages.0), p99 \(messages.1), mean \(mean)"
        return text
    }

    private static func figures(_ figures: DHTSimulation.LookupFigures) -> JSONValue {
        let meanMessages = Double(figures.messages.reduce(0, +)) / Double(max(figures.count, 1))
        let secondsMedian = DHTSimulation.LookupFigures.quantile(figures.seconds, 0.5) ?? 0
        return .object([
            "lookups": .int(figures.count), "exact": .int(figures.exact), "liveOnly": .int(figures.liveOnly),
            "successRate": .double(figures.successRate),
            "roundsMedian": .int(median(figures.rounds)), "roundsP99": .int(p99(figures.rounds)),
            "messagesMedian": .int(median(figures.messages)), "messagesP99": .int(p99(figures.messages)),
            "messagesMean": .double(meanMessages), "secondsMedian": .double(secondsMedian),
        ])
    }

    private static func median(_ values: [Int]) -> Int { DHTSimulation.LookupFigures.quantile(values, 0.5) ?? 0 }

    private static func p99(_ values: [Int]) -> Int { DHTSimulation.LookupFigures.quantile(values, 0.99) ?? 0 }
}
