import Colony
import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Synchronization

/// The publisher's window on a job, behind `colony status JOB --web`: the page, `GET /api/job` with the latest
/// re-verified report, and for kernels that can draw their partial result, `GET /image.png`.
///
/// The report is replaced by the refresher; requests read the latest one and never wait on the custodians.
final class JobPage: Sendable {
    private let registry: KernelRegistry
    private let state = Mutex(State())
    /// Held while a picture is drawn, so that requests arriving together draw it once, not once each (a 4096×4096
    /// picture is 48 MiB of pixels); never held across I/O.
    private let drawing = Mutex(())

    private struct State {
        var report: JobReport?
        /// Refreshes so far: the page and tests tell one report from the next by it.
        var generation = 0
        var refreshed: Date?
        /// Why the last refresh failed, if it did; the page keeps showing the report before it.
        var problem: String?
        /// The last picture drawn and the validated count it shows: validated units never change (Finality),
        /// so the same count is the same picture.
        var image: (validated: Int, png: [UInt8])?
    }

    init(registry: KernelRegistry) {
        self.registry = registry
    }

    /// Shows `report` from now on.
    func show(_ report: JobReport) {
        state.withLock { state in
            state.report = report
            state.generation += 1
            state.refreshed = Date()
            state.problem = nil
        }
    }

    /// Notes that a refresh failed, keeping the report before it.
    func refreshFailed(_ problem: String) {
        state.withLock { $0.problem = problem }
    }

    /// The routes: `/`, `/api/job` and `/image.png`.
    var router: HTTPRouter {
        var router = HTTPRouter()
        router.add(.get, "/") { _ in .page(JobPageDocument.html) }
        router.add(.get, "/api/job") { [self] _ in .json(Array(JSONText.serialize(json()).utf8)) }
        router.add(.get, "/image.png") { [self] _ in image() }
        return router
    }

    // MARK: The report as JSON

    /// Workers listed at most: a job with thousands of donors shows its busiest.
    static let workersShown = 50

    func json() -> JSONValue {
        let (report, generation, refreshed, problem) = state.withLock {
            ($0.report, $0.generation, $0.refreshed, $0.problem)
        }
        var object: [String: JSONValue] = ["generation": .int(generation)]
        if let problem { object["problem"] = .string(problem) }
        if let refreshed { object["refreshed"] = .string(ISO8601DateFormatter().string(from: refreshed)) }
        guard let report else { return .object(object) }
        object.merge(SwarmCommandSupport.reportJSON(report)) { current, _ in current }
        object["complete"] = .bool(report.complete)
        object["picture"] = .bool(registry.kernel(named: report.manifest.kernel) is any PreviewableKernel)
        object["states"] = .string(String(report.verdicts.sorted { $0.unit < $1.unit }.map(Self.stateLetter)))
        var workers: [Ed25519PublicKey: Int] = [:]
        for verdict in report.verdicts where verdict.state == .validated {
            for worker in verdict.agreeing { workers[worker, default: 0] += 1 }
        }
        let ranked = workers.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.hex < $1.key.hex }
        object["workerCount"] = .int(ranked.count)
        object["workers"] = .array(
            ranked.prefix(Self.workersShown).map { worker, units in
                .object([
                    "key": .string(worker.hex), "short": .string(String(worker.hex.prefix(12))),
                    "validated": .int(units),
                ])
            })
        return .object(object)
    }

    /// One letter per unit, for the page's grid of units: validated, running (a live lease), open, failed.
    static func stateLetter(_ verdict: UnitVerdict) -> Character {
        switch verdict.state {
        case .validated: "v"
        case .failed: "f"
        case .open: verdict.liveLeases > 0 ? "r" : "o"
        }
    }

    // MARK: The picture

    /// The longest side of the picture served: the page shows it at most this wide.
    static let pictureSide = 1024

    /// The kernel's picture of the validated units, grey elsewhere, as PNG, shrunk to `pictureSide`.
    func image() -> HTTPResponse {
        drawing.withLock { _ in draw() }
    }

    private func draw() -> HTTPResponse {
        let (report, cached) = state.withLock { ($0.report, $0.image) }
        guard let report else {
            return .text("the job's records have not been read yet\n", status: .serviceUnavailable)
        }
        guard let kernel = registry.kernel(named: report.manifest.kernel) as? any PreviewableKernel else {
            return .text("kernel \(report.manifest.kernel) draws no picture\n", status: .notFound)
        }
        if let cached, cached.validated == report.validated { return Self.png(cached.png) }
        var outputs: [Int: Data] = [:]
        for verdict in report.verdicts where verdict.state == .validated {
            if let output = verdict.output { outputs[verdict.unit] = Data(output) }
        }
        let png: [UInt8]
        do {
            let preview = try kernel.preview(outputs, parameters: try report.manifest.kernelParameters())
                .shrunk(toFit: Self.pictureSide)
            png = Array(
                try PNGWriter.encode(width: preview.width, height: preview.height, colorType: .rgb, pixels: preview.rgb)
            )
        } catch {
            return .text("cannot draw the picture: \(error)\n", status: .internalServerError)
        }
        state.withLock { state in
            if (state.image?.validated ?? -1) < report.validated { state.image = (report.validated, png) }
        }
        return Self.png(png)
    }

    private static func png(_ bytes: [UInt8]) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: ["Content-Type": "image/png"], body: bytes)
    }
}
