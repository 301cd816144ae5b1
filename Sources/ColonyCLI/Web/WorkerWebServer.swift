import Colony
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation

/// The donor's window on `colony worker` (issue 13, A window for donors): a page compiled into the binary
/// (`WorkerPage`), the JSON API it polls, and `/metrics` in Prometheus text (`WorkerMetrics`).
///
/// Routes: `GET /` the page; `GET /api/status` what the worker is doing; `POST /api/pause`, `/api/resume` and
/// `/api/finish-then-pause`, answered with the new status; `GET` and `POST /api/preferences`, the donor's
/// preferences and where each comes from (`WorkerWebServer+Preferences.swift`); `GET /metrics`. Who may use them
/// is the server's `HTTPAccessPolicy`: loopback clients only unless a token is set, and no POST from another
/// site's page.
public final class WorkerWebServer: Sendable {
    /// The HTTP server; `localEndpoint` has the port the system chose for port 0.
    public let server: HTTPServer
    private let worker: SwarmWorker

    /// A server for `worker` with `configuration` (address, token, bounds) and no preferences on its page; nothing
    /// listens until `start`.
    public convenience init(worker: SwarmWorker, configuration: HTTPServerConfiguration) {
        self.init(worker: worker, configuration: configuration, preferences: nil)
    }

    /// A server for `worker` with `configuration`, whose page edits the preferences `preferences` reads and writes
    /// (none without it); nothing listens until `start`.
    init(worker: SwarmWorker, configuration: HTTPServerConfiguration, preferences: PreferencesEditor?) {
        self.worker = worker
        self.server = HTTPServer(
            configuration: configuration, handler: Self.router(for: worker, preferences: preferences).respond(to:))
    }

    /// Starts listening; throws when the address is taken or bad.
    public func start() throws(HTTPServerError) { try server.start() }

    /// Stops listening and ends open connections.
    public func stop() { server.stop() }

    /// The page's address, with the bound port; on 0.0.0.0 (every interface), the loopback one.
    public var url: String {
        var endpoint = server.localEndpoint
        if endpoint.address == 0 { endpoint = Endpoint(address: 0x7F00_0001, port: endpoint.port) }
        return "http://\(endpoint.description)/"
    }

    /// The routes, for `worker` and the preferences `preferences` edits.
    static func router(for worker: SwarmWorker, preferences: PreferencesEditor?) -> HTTPRouter {
        var router = HTTPRouter()
        router.add(.get, "/") { _ in .page(WorkerPage.html) }
        router.add(.get, "/api/status") { _ in Self.json(Self.status(of: worker)) }
        let actions: [(String, @Sendable (SwarmWorker) -> Void)] = [
            ("/api/pause", { $0.pause() }), ("/api/resume", { $0.resume() }),
            ("/api/finish-then-pause", { $0.finishThenPause() }),
        ]
        for (path, action) in actions {
            router.add(.post, path) { _ in
                action(worker)
                return Self.json(Self.status(of: worker))
            }
        }
        if let preferences { addPreferenceRoutes(to: &router, worker: worker, editor: preferences) }
        router.add(.get, "/metrics") { _ in
            do {
                return .prometheus(try WorkerMetrics.text(for: worker))
            } catch {
                return .text("cannot write the metrics: \(error)\n", status: .internalServerError)
            }
        }
        return router
    }

    static func json(_ value: JSONValue, status: HTTPStatus = .ok) -> HTTPResponse {
        .json(Array(JSONText.serialize(value).utf8), status: status)
    }

    /// What `GET /api/status` answers: the state, each core with its unit, the jobs and the counts.
    static func status(of worker: SwarmWorker) -> JSONValue {
        let snapshot = worker.snapshot
        let stats = snapshot.statistics
        let now = Date()
        // The cores in use now, and any slot past them still holding a unit (held while the computer is in use).
        let shown = max(1, worker.allowance.cores, (snapshot.running.keys.max() ?? -1) + 1)
        let cores: [JSONValue] = (0..<min(shown, worker.configuration.cores)).map { core in
            guard let unit = snapshot.running[core] else { return .object(["core": .int(core), "busy": .bool(false)]) }
            return .object([
                "core": .int(core), "busy": .bool(true), "job": .string(unit.job.hex), "kernel": .string(unit.kernel),
                "unit": .int(unit.unit), "progress": .double(unit.progress), "held": .bool(unit.held),
                "seconds": .double((now.timeIntervalSince(unit.started) * 10).rounded() / 10),
            ])
        }
        let allowance = worker.allowance
        let reasons = { (reasons: [ComputeAllowance.Reason]) -> JSONValue in
            .array(reasons.map { .object(["code": .string($0.code), "text": .string($0.text)]) })
        }
        let jobs: [JSONValue] = snapshot.jobs.sorted { $0.key < $1.key }.map { job, title in
            .object(["id": .string(job.hex), "title": .string(title)])
        }
        return .object([
            "state": .string(worker.state.name),
            "endpoint": .string(worker.peer.endpoint.description),
            "kernels": .array(worker.configuration.kernels.names.map { .string($0) }),
            "cores": .array(cores),
            "jobs": .array(jobs),
            "counts": .object([
                "computed": .int(stats.computed), "validated": .int(stats.validated), "invalid": .int(stats.invalid),
                "revealed": .int(stats.revealed), "failed": .int(stats.failedUnits), "errors": .int(stats.kernelErrors),
                "released": .int(stats.released), "leases": .int(stats.leases), "leasesHeld": .int(worker.leasesHeld),
                "buffered": .int(snapshot.buffered), "givenBack": .int(stats.heldGivenBack),
                "overrunsGivenBack": .int(stats.overrunsGivenBack),
            ]),
            "refused": .object(stats.refused.mapValues { .int($0) }),
            "credit": .object(stats.credit.mapValues { .double($0) }),
            "key": .string(worker.peer.identity.publicKey.hex),
            "suspensions": reasons(allowance.suspensions),
            "leaseHolds": reasons(allowance.leaseHolds),
            "coresInUse": .int(allowance.cores),
            "cpuPercent": .int(allowance.cpuPercent),
            "inUse": .bool(allowance.inUse),
        ])
    }
}
