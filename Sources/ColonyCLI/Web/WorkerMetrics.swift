import Colony
import ColonyNet
import ColonyWork

/// `/metrics` of `colony worker`: what the worker, its custody and its DHT node have counted, in Prometheus text.
/// Counters end in `_total`; figures that go up and down (leases held, records kept) are gauges.
enum WorkerMetrics {
    static func text(for worker: SwarmWorker) throws(PrometheusTextError) -> String {
        var out = PrometheusText()
        let snapshot = worker.snapshot
        let stats = snapshot.statistics
        let peer = worker.peer

        try out.counter(
            "colony_units_total", help: "Units this worker computed, and how the ones it revealed were judged.",
            [
                .init(["outcome": "computed"], Double(stats.computed)),
                .init(["outcome": "revealed"], Double(stats.revealed)),
                .init(["outcome": "validated"], Double(stats.validated)),
                .init(["outcome": "invalid"], Double(stats.invalid)),
                .init(["outcome": "failed"], Double(stats.failedUnits)),
                .init(["outcome": "kernel_error"], Double(stats.kernelErrors)),
                .init(["outcome": "released"], Double(stats.released)),
            ])
        try out.gauge("colony_units_running", help: "Units on a core now.", value: Double(snapshot.running.count))
        try out.gauge(
            "colony_units_buffered", help: "Leased units waiting for a core.", value: Double(snapshot.buffered))
        try out.gauge(
            "colony_worker_state", help: "1 for the worker's state: running, paused or finishing then pausing.",
            [SwarmWorker.Activity.running, .paused, .finishing].map {
                .init(["state": $0.name], worker.state == $0 ? 1 : 0)
            })
        let allowance = worker.allowance
        let active = Set((allowance.suspensions + allowance.leaseHolds).map(\.code))
        try out.gauge(
            "colony_worker_held", help: "1 for each reason the donor's preferences now suspend kernels or hold leasing.",
            ComputeAllowance.Reason.codes.map { .init(["reason": $0], active.contains($0) ? 1 : 0) })
        try out.gauge(
            "colony_worker_cores_in_use", help: "Cores the preferences let kernels run on now.",
            value: Double(allowance.cores))
        try out.counter("colony_leases_total", help: "Leases this worker was granted.", value: Double(stats.leases))
        try out.gauge(
            "colony_leases_held", help: "Leases this worker is still working under.", value: Double(worker.leasesHeld))
        try out.counter(
            "colony_job_discovery_total",
            help: "Looks for jobs; jobs taken up, ignored (no manifest that checked out, a kernel not here, refused by the "
                + "preferences) and finished; job-list sources passed over for offering manifests that did not check out.",
            [
                .init(["event": "look"], Double(stats.discoveries)),
                .init(["event": "job_taken"], Double(stats.jobsSeen)),
                .init(["event": "job_ignored"], Double(stats.jobsIgnored)),
                .init(["event": "job_finished"], Double(stats.jobsFinished)),
                .init(["event": "source_passed_over"], Double(stats.sourcesDistrusted)),
            ])
        try out.counter(
            "colony_worker_refusals_total", help: "Refusals custodians answered this worker, by reason.",
            stats.refused.sorted { $0.key < $1.key }.map { .init(["reason": $0.key], Double($0.value)) })

        let custodian = peer.custodian
        try out.gauge(
            "colony_custody_shards", help: "Shards this peer keeps custody of.", value: Double(custodian.ledgers.count))
        try out.gauge(
            "colony_custody_records", help: "Custody records this peer holds.",
            value: Double(custodian.ledgers.values.reduce(0) { $0 + $1.records.count }))
        let custody = peer.statistics
        try out.counter(
            "colony_custody_requests_total", help: "Colony requests this peer answered, by operation.",
            custody.requests.sorted { $0.key < $1.key }.map { .init(["op": $0.key], Double($0.value)) })
        try out.counter(
            "colony_custody_refusals_total", help: "Records this peer's custody refused, by reason.",
            custody.rejected.sorted { $0.key < $1.key }.map { .init(["reason": $0.key], Double($0.value)) })
        try out.counter(
            "colony_transport_refusals_total", help: "Connections, frames, replicas and announces refused, by reason.",
            peer.transportRefusals.sorted { $0.key < $1.key }.map { .init(["reason": $0.key], Double($0.value)) })

        let udp = peer.blobs.node.runtime.statistics
        let dht = peer.blobs.node.withNode { node, _ in (node.statistics, []) }
        try out.counter(
            "colony_dht_datagrams_total", help: "DHT datagrams (KRPC over UDP) received and sent.",
            [.init(["direction": "in"], Double(udp.received)), .init(["direction": "out"], Double(udp.sent))])
        try out.counter(
            "colony_dht_bytes_total", help: "Bytes of DHT datagrams received and sent.",
            [.init(["direction": "in"], Double(udp.bytesReceived)), .init(["direction": "out"], Double(udp.bytesSent))])
        try out.counter(
            "colony_dht_queries_received_total", help: "DHT queries received, by method.",
            dht.queriesReceived.sorted { $0.key < $1.key }.map { .init(["method": $0.key], Double($0.value)) })
        try out.counter("colony_dht_queries_sent_total", help: "DHT queries sent.", value: Double(dht.queriesSent))
        try out.counter("colony_dht_timeouts_total", help: "DHT queries that timed out.", value: Double(dht.timeouts))

        let tcp = peer.blobs.server?.frames.statistics ?? FrameServerStatistics()
        try out.counter(
            "colony_tcp_frames_total", help: "Frames on connections other peers opened to this one.",
            [.init(["direction": "in"], Double(tcp.framesIn)), .init(["direction": "out"], Double(tcp.framesOut))])
        try out.counter(
            "colony_tcp_bytes_total", help: "Bytes on connections other peers opened to this one.",
            [.init(["direction": "in"], Double(tcp.bytesIn)), .init(["direction": "out"], Double(tcp.bytesOut))])
        return out.text
    }
}
