import Colony
import ColonyNet
import ColonyWork
import Dispatch
import Foundation

extension StatusCommand {
    /// Seconds between refreshes, as `--watch`: a person watching sees a change within one.
    static let webRefreshInterval = 2.0

    /// The server settings `--web` and `--web-token` give, or nil without `--web`; checked before anything else is
    /// done, so a typo costs no wait for the swarm.
    static func webConfiguration(_ arguments: ParsedArguments) throws -> HTTPServerConfiguration? {
        guard let address = arguments.value("web") else { return nil }
        guard var configuration = HTTPServerConfiguration(address: address) else {
            throw UsageError(
                "--web '\(address)' is not HOST:PORT with an IPv4 HOST, such as 127.0.0.1:7397 (port 0 picks a free one)",
                commandPath: arguments.commandPath)
        }
        configuration.access = HTTPAccessPolicy(token: arguments.value("web-token"))
        do {
            try configuration.validate()
        } catch {
            throw UsageError(
                error.message.replacingOccurrences(of: "HTTPAccessPolicy.token", with: "--web-token"),
                commandPath: arguments.commandPath)
        }
        return configuration
    }

    /// `status JOB --web ADDR`: serves the job page until Ctrl-C, refreshing the report in the background.
    static func serveJobPage(
        _ job: JobID, on configuration: HTTPServerConfiguration, via peer: ColonyPeer,
        in environment: CommandEnvironment
    ) throws -> Int32 {
        let console = environment.console
        let page = JobPage(registry: environment.registry)
        let first = try JobCollector.collect(job, via: peer, registry: environment.registry)
        page.show(first)
        let server = HTTPServer(configuration: configuration, handler: page.router.respond(to:))
        do {
            try server.start()
        } catch {
            throw InputError("--web \(configuration.host):\(configuration.port): \(error.message)")
        }
        defer { server.stop() }
        let listening = server.localEndpoint
        let host = configuration.host == "0.0.0.0" ? "HOST" : configuration.host
        console.note(
            "job page at http://\(host):\(listening.port)/"
                + (configuration.access.token == nil
                    ? " (this machine only)" : "?token=TOKEN (any machine with the token)")
                + "; Ctrl-C stops")

        let interrupted = DispatchSemaphore(value: 0)
        let stopRefreshing = DispatchSemaphore(value: 0)
        let interrupts = InterruptHandler(
            onInterrupt: {
                stopRefreshing.signal()
                interrupted.signal()
            }, console: console)
        defer { interrupts.remove() }
        let registry = environment.registry
        // The refresher asks the custodians off the request path; after Ctrl-C it is left to end with the process
        // (a refresh in flight takes at most its 3 s custodian timeout), so the stop never waits on a custodian.
        Thread.detachNewThread {
            var report = first
            // Validated and failed units stay so (Finality): a complete job has nothing left to refresh.
            while !report.complete {
                if stopRefreshing.wait(timeout: .now() + webRefreshInterval) == .success { return }
                do {
                    report = try JobCollector.collect(job, via: peer, registry: registry, timeout: 3, attempts: 1)
                    page.show(report)
                } catch {
                    page.refreshFailed("\(error)")
                }
            }
        }
        interrupted.wait()
        return ExitStatus.success
    }
}
