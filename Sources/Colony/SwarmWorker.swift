import ColonyBlobs
import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Synchronization

/// Donates CPU to the swarm (DESIGN.md, The worker engine): finds jobs for its kernels, leases units from each
/// shard's custodians, runs them on `cores` slots, commits seals, and reveals outputs once a unit has a quorum
/// of seals or its lease is ending. One control thread talks to the network; slots only compute, from a small
/// buffer of leased units, so no slot waits on the network while work is known.
public final class SwarmWorker: @unchecked Sendable {
    /// How a worker behaves: honest, or one of the misbehaviours the demo shows being caught.
    public enum Behaviour: String, Sendable {
        case honest
        /// Returns wrong outputs (its own random ones, so two cheaters never agree).
        case cheater
        /// Returns the same wrong output as every other colluder (SECURITY.md: colluding cheaters, Sybils).
        case colluder
        /// Computes nothing: commits invented seals and reveals what it can copy or invent.
        case copycat
        /// Honest for its first `Configuration.sleeperHonestUnits` units, then a cheater: the adversary adaptive
        /// replication must catch once it is trusted (issue 14).
        case sleeper
        /// A sleeper that, once awake, is honest on the last unit it computes in each shard and cheats on the rest:
        /// it holds each lease's results until it knows whether the shard has more for it (`holdsBack`). Checking a
        /// worker's latest result would pass it; the closing check draws the result it checks (`ShardLedger.closingPick`).
        case carefulSleeper
        /// A sleeper that, once awake, reveals a wrong output only when told that its unit runs alone: it keeps back
        /// every cheat a draw checked (it learns so once it has sealed), so that none is outvoted (`withholds`).
        /// Withholding a checked result is a failed check (`ShardLedger.walk`).
        case peeker
    }

    public struct Configuration: Sendable {
        public var cores = 1
        public var cpuLimit = 100
        public var lowPriority = true
        /// The kernels this worker runs; jobs of other kernels are ignored.
        public var kernels = KernelRegistry([])
        public var behaviour = Behaviour.honest
        /// Units a sleeper computes honestly before it cheats.
        public var sleeperHonestUnits = 100
        /// The share of its units a sleeper cheats on once awake, each drawn at random: 1 cheats on every one, less
        /// is an occasional cheater, whose every cheat is spot-checked by its own draw alone.
        public var sleeperCheatRate = 1.0
        /// Seconds between looks for new jobs.
        public var discoveryInterval = 5.0
        /// Seconds between looks while the worker knows no job (it has nothing else to do).
        public var idleDiscoveryInterval = 1.0
        /// Seconds at least between the looks started because this worker's own peer took custody of another job.
        /// The first is at once; anyone may publish a job naming the peer, so a flood of them costs a look per
        /// interval, not one per job.
        public var custodyDiscoveryInterval = 1.0
        /// Compute time one lease aims at; leases of fast units cover more units.
        public var targetLeaseSeconds = 0.5
        /// Seconds between checks for a quorum of seals.
        public var revealPollInterval = 0.1
        /// Called (on the control thread) when the worker learns how units it revealed were decided.
        public var onJudged: (@Sendable () -> Void)?
        /// Where `stop()` writes the checkpoints of interrupted units; a unit leased again later resumes from
        /// its checkpoint. Nil keeps none.
        public var stateFolder: URL?
        /// Seconds between a kernel's checkpoints, each written to `stateFolder` atomically as it is taken.
        public var checkpointInterval = 10.0
        /// Kernel host processes for the slots (`colony worker` sets it), or nil to run kernels on the slots'
        /// threads. Isolated, a unit that crashes or exhausts its memory ends in an error record, and one still
        /// running when its lease ends is killed.
        public var isolation: KernelIsolation?
        /// Which publishers' and kernels' jobs the donor lets this worker take (`DonorPreferences`); a job
        /// refused here is never leased from. Ignored when `preferences` is set (its lists decide).
        public var admission = JobAdmission()
        /// The donor's preferences, when the worker follows them (`colony worker` sets them): they then decide the
        /// cores in use (at most `cores`), the CPU %, the admission, and when kernels are suspended
        /// (`ComputeGovernor`); `apply` changes them while it runs. Nil runs on `cores` at `cpuLimit`.
        public var preferences: DonorPreferences?
        /// Samples the machine for the preferences (`MachineMonitor.sample`); nil samples nothing, so only the
        /// time windows, the in-use limits at "idle" and the fixed limits act. Called every `governInterval`.
        public var machineSample: (@Sendable () -> MachineSample)?
        /// Seconds between samples of the machine.
        public var governInterval = 1.0
        /// Milliseconds this worker's clock is off by when it stamps its custody records: a host whose clock runs
        /// ahead (positive) or behind. For tests; a worker's records carry its own clock's time.
        public var clockOffset: Int64 = 0

        public init() {}
    }

    /// What the worker has done.
    public struct Statistics: Sendable {
        /// Looks for jobs: a lookup under each kernel's topic, and a job list from each peer found there.
        public var discoveries = 0
        public var jobsSeen = 0
        /// Times a job found was not taken up: no offered manifest checked out (asked again every `unfetchedRetry`
        /// seconds, and counted again if it fails again), a kernel not compiled in, or refused by the donor's
        /// preferences (asked again when they change).
        public var jobsIgnored = 0
        /// Sources of job lists passed over for a while: manifests they offered did not check out.
        public var sourcesDistrusted = 0
        /// Jobs finished and let go of (`SwarmWorker.finishedJobs`).
        public var jobsFinished = 0
        public var leases = 0
        public var unitsLeased = 0
        public var computed = 0
        /// Units it returned a wrong output for on purpose: the bench's and tests' adversaries (0 for an honest worker).
        public var cheated = 0
        public var committed = 0
        public var revealed = 0
        public var released = 0
        /// Checkpoints written on stop, and units started again from one.
        public var checkpointsSaved = 0
        public var resumed = 0
        public var kernelErrors = 0
        /// Units whose input blob could not be fetched.
        public var inputFailures = 0
        /// Refusals custodians answered, by reason.
        public var refused: [String: Int] = [:]
        public var requestFailures = 0
        /// Units revealed by this worker that were then validated with its result among the agreeing ones.
        public var validated = 0
        /// Units where this worker's result was counted invalid (outvoted, or not matching its seal).
        public var invalid = 0
        /// Units revealed by this worker that failed (`maxAttempts` used up without a quorum).
        public var failedUnits = 0
        /// The work of its validated units, by the kernels' work units (`ComputeKernel.work(input:output:)`): its own tally,
        /// which `colony credit` recomputes from the custodians' records.
        public var credit: [String: Double] = [:]
        /// Units held (paused, suspended, past the cores in use) until their lease nearly ended, then stopped at a
        /// checkpoint and given back.
        public var heldGivenBack = 0
        /// Units that would not finish within their lease (a busy or slow machine), given back rather than ended in
        /// an error: stopped at a checkpoint when the lease nearly ended (resumed from it if leased again), or killed
        /// when it ended (`OverrunWatch`).
        public var overrunsGivenBack = 0
    }

    /// A unit on a slot.
    public struct Running: Sendable {
        public var job: JobID
        public var unit: Int
        public var kernel: String
        public var started: Date
        /// The fraction done as the kernel last reported it through `context.step` (0 until it reports).
        public var progress: Double = 0
        /// Whether the kernel is held in `context.step` because the worker is paused.
        public var held = false
    }

    /// What a custodian says of one unit, and of this worker's result for it.
    struct UnitStatus {
        /// 0 open, 1 validated, 2 failed.
        var state: Int
        /// Sealed workers that could complete a quorum with this worker's result (`ShardLedger.partners`).
        var partners: Int
        /// 1 when this worker's result agrees with the validated one, -1 when it was counted invalid, else 0.
        var mine: Int
        /// The latest time another worker sealed the unit (its clock), or 0: this worker's reveal is stamped no
        /// earlier (`ShardLedger.latestSeal`).
        var latestSeal: Int64 = 0
    }

    /// Seconds before a held unit's lease ends when it is given back (or a tenth of the lease, if more).
    static let heldGiveBackMargin = 5.0

    /// How many times this worker gives the same unit back because it would not finish within its lease
    /// (`OverrunWatch`); past that, a unit still running when its lease ends is killed and recorded as an error, so
    /// that a kernel that checkpoints forever on some input cannot keep a unit going round.
    static let maxOverrunGiveBacks = 2

    /// Whether the unit on a slot is given back because it would not finish within its lease, while this worker
    /// has given it back fewer than `maxOverrunGiveBacks` times: stopped at its give-up time when its kernel
    /// checkpointed during this run (it makes progress: the next lease resumes further on; a kernel that takes no
    /// checkpoints is left to run, as it may still finish), or killed when the lease ended. Read by the kernel's
    /// hooks without the worker's lock.
    final class OverrunWatch: Sendable {
        private let state = Mutex((allowed: false, checkpointed: false, triggered: false))

        /// A new unit starts on the slot.
        func start(allowed: Bool) { state.withLock { $0 = (allowed, false, false) } }
        /// Its kernel took a checkpoint.
        func checkpointed() { state.withLock { $0.checkpointed = true } }
        /// Whether it is given back (and remembers that this is why): at its give-up time, unheld, only if its kernel
        /// checkpointed in this run (`atLeaseEnd` false); once its host was killed when the lease ended, in any case.
        func givesBack(atLeaseEnd: Bool) -> Bool {
            state.withLock { state in
                if state.allowed && (atLeaseEnd || state.checkpointed) { state.triggered = true }
                return state.triggered
            }
        }
        /// Whether the unit was given back because it would not finish in its lease.
        var triggered: Bool { state.withLock { $0.triggered } }
    }

    /// When a slot gives back the unit it holds; the slot's thread and the kernel's hooks read it without the lock.
    final class GiveUpTime: Sendable {
        private let milliseconds = Atomic<Int64>(.max)

        func set(_ date: Date) { milliseconds.store(Int64(date.timeIntervalSince1970 * 1000), ordering: .relaxed) }
        func clear() { milliseconds.store(.max, ordering: .relaxed) }
        var date: Date? {
            let value = milliseconds.load(ordering: .relaxed)
            return value == .max ? nil : Date(timeIntervalSince1970: Double(value) / 1000)
        }
        var passed: Bool { (date.map { Date() >= $0 }) ?? false }
    }

    /// True once a sleeper has computed its honest units, or was woken.
    func isAwake() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return woken.load(ordering: .relaxed) || stats.computed >= configuration.sleeperHonestUnits
    }

    /// Turns a sleeper to cheating from its next unit on, whatever it has computed: tests turn one once it is trusted.
    func turn() { woken.store(true, ordering: .relaxed) }

    /// The wrong output colluders agree on for a unit whose honest output is `honest`.
    public static func collusion(_ honest: [UInt8]) -> [UInt8] { honest + Array("colluded".utf8) }

    public let configuration: Configuration
    public let peer: ColonyPeer
    let log: @Sendable (String) -> Void

    final class Ticket: @unchecked Sendable {
        /// computing → committed → judging (everything revealed; waiting to learn how the units were decided) → done
        enum State { case computing, committed, judging, done }
        let job: ActiveJob
        let shard: Int
        var custodians: [Endpoint]
        let lease: CustodyRecord
        let units: [Int]
        var outputs: [Int: [UInt8]] = [:]
        /// A careful sleeper's honest outputs of the units it cheated on, kept until it knows whether they are its
        /// last in the shard (`holdsBack`).
        var honest: [Int: [UInt8]] = [:]
        /// The units this worker returned a wrong output for (a peeker keeps those checked back).
        var cheated: Set<Int> = []
        /// The last checkpoint of each unit a slot started but did not finish.
        var checkpoints: [Int: Data] = [:]
        /// Whether the commit of the outputs was accepted.
        var committed = false
        /// The commit record, handed with the reveal to a second custodian (`witness`).
        var commit: CustodyRecord?
        var failures: [Int: String] = [:]
        var state = State.computing
        var revealed: Set<Int> = []
        /// Seal counts the custodian sent with its answer to the commit; used once, instead of asking.
        var status: [Int: UnitStatus]?
        /// Revealed units whose verdict the worker has seen.
        var judged: Set<Int> = []
        var nextCheck = Date.distantPast
        /// Seconds until the next look at its seals; grows while the quorum is not there.
        var backoff = 0.0
        /// Seconds until a record no custodian answered is sent again (`retryLater`); 0 while all went through.
        var retryBackoff = 0.0
        /// Whether the error records of its failed units were handed in (or refused).
        var errorsSent = false
        init(job: ActiveJob, shard: Int, custodians: [Endpoint], lease: CustodyRecord, units: [Int]? = nil) {
            self.job = job
            self.shard = shard
            self.custodians = custodians
            self.lease = lease
            self.units = units ?? lease.entries.map(\.unit)
        }
        var expires: Date { Date(timeIntervalSince1970: Double(lease.expires) / 1000) }
        /// SHA-256 of each output, hashed once for the seal and reused by the reveal.
        private var digests: [Int: [UInt8]] = [:]
        func digest(of unit: Int) -> [UInt8] {
            if let known = digests[unit] { return known }
            let digest = SHA256.hash(outputs[unit]!).bytes
            digests[unit] = digest
            return digest
        }
    }

    final class ActiveJob: @unchecked Sendable {
        let manifest: JobManifest
        let id: JobID
        let kernel: any ComputeKernel
        var done: Set<Int> = []
        var busyUntil: [Int: Date] = [:]
        /// How long to wait before asking again for units of a shard that had none: doubling, while it has none,
        /// up to a tenth of the time a unit takes this worker (at least 0.1 s, at most 0.5 s), so that units
        /// opening at the end of a shard (a closing check, a replica whose partner failed) are taken soon without
        /// asking often for long. (A flat 0.5 s left a worker idle a third of a unit before it took the closing
        /// check that opened: bench adaptive, mersenne-10k, trusted, 0.3 s of a 5.4 s job.)
        var idleBackoff: [Int: TimeInterval] = [:]
        /// Since when each shard has had no units for this worker (its first answer of none since it last had some).
        var idleSince: [Int: Date] = [:]
        /// The shard had no units for this worker: ask again after the next back-off (called under the lock).
        /// `unitSeconds` is how long a unit takes this worker, nil before its first.
        func hadNone(_ shard: Int, unitSeconds: TimeInterval?) {
            let now = Date()
            let since = idleSince[shard] ?? now
            idleSince[shard] = since
            let backoff = SwarmWorker.idleWait(after: idleBackoff[shard], unitSeconds: unitSeconds, idleFor: now.timeIntervalSince(since))
            idleBackoff[shard] = backoff
            busyUntil[shard] = now + backoff
        }
        /// The shard may have units for this worker now: ask at once, from the shortest back-off (under the lock).
        func mayHaveUnits(_ shard: Int) {
            busyUntil[shard] = nil
            idleBackoff[shard] = nil
            idleSince[shard] = nil
        }
        init(manifest: JobManifest, kernel: any ComputeKernel) {
            self.manifest = manifest
            self.id = manifest.id
            self.kernel = kernel
        }
        var finished: Bool { done.count == manifest.shardCount }
        /// The failed checks a custodian of the job said it knows of (lease answers), at most.
        var failuresTold = 0
        /// Until when shards that said they were done are asked again, every `doneRecheckSeconds`.
        var recheckDoneUntil = Date.distantPast
        /// Whether a shard that said it was done is asked again: for `doneRecheckWindow` after a custodian told of
        /// more failed checks in the job than before, as a failure voids what the worker ran alone in every shard
        /// (an honest job, which has none, asks a done shard no more).
        var rechecksDone: Bool { Date() < recheckDoneUntil }
        /// Notes the failed checks a custodian said it knows of in the job (called under the lock).
        func noteFailures(_ count: Int) {
            guard count > failuresTold else { return }
            failuresTold = count
            let now = Date()
            recheckDoneUntil = now + SwarmWorker.doneRecheckWindow
            // Not at once: the custodians of the other shards gather the shard that failed first.
            for shard in done { busyUntil[shard] = max(busyUntil[shard] ?? .distantPast, now + SwarmWorker.doneRecheckSeconds) }
        }
    }

    struct Task {
        let ticket: Ticket
        let unit: Int
        let input: Data
        var checkpoint: Data? = nil
    }

    let condition = NSCondition()
    var tasks: [Task] = []
    var running: [Int: Running] = [:]
    /// The context of the unit on each slot, read for its progress.
    private var contexts: [Int: KernelContext] = [:]
    /// Running, paused, or finishing its units and then pausing (`SwarmWorker+Pausing.swift`).
    var activity = Activity.running
    /// Slots whose kernel is held in `context.step` while paused.
    var heldSlots: Set<Int> = []
    /// Units this worker gave back because they would not finish in their lease, and how often (`OverrunWatch`).
    var overrunGiveBacks: [JobID: [Int: Int]] = [:]
    /// Set while paused or suspended, read at every kernel step without the lock.
    let pausedFlag = Atomic<Bool>(false)
    /// Slots at or past this number hold their kernels (the machine is in use and `inUseCores` is fewer).
    let activeCores = Atomic<Int>(Int.max)
    /// Percent of each core's time kernels may use now, read by the slots' duty cycles.
    let cpuPercentNow = Atomic<Int>(100)
    /// Decides what the worker may do from the donor's preferences and the machine (`SwarmWorker+Governing.swift`).
    let governor: ComputeGovernor
    /// What the governor last allowed; read under the lock.
    var allowed: ComputeAllowance
    /// Which jobs the donor lets the worker take; read under the lock.
    var admission: JobAdmission
    /// Serializes deciding and storing an allowance, so that one decided under old preferences is never stored
    /// after one decided under new ones (`apply` and the governor thread both decide).
    let deciding = NSLock()
    /// The machine as last sampled, for `apply` to decide on at once.
    var lastSample = MachineSample()
    var samplesTaken = 0
    /// Signalled at each change watchers may wait for (`SwarmWorker+Changes.swift`); `changeCount` counts them.
    let changes = NSCondition()
    var changeCount = 0
    /// Wakes the governor thread early (to stop).
    let governWake = DispatchSemaphore(value: 0)
    var jobs: [JobID: ActiveJob] = [:]
    /// Jobs this worker finished (every shard said it has no open unit) and let go of: not fetched again when found.
    /// The oldest are forgotten past `idsRemembered` (32 bytes each), as are those of `ignored` and `declined`.
    var finishedJobs = RecentIDs<JobID>(limit: idsRemembered)
    static let idsRemembered = 65_536
    /// The latest jobs let go of, with their titles, for status displays (`snapshot`).
    var recentlyFinished: [(id: JobID, title: String)] = []
    static let recentlyFinishedShown = 32
    /// Jobs not worked on: a manifest that did not check out, a kernel not here, or refused by the donor's admission.
    /// Anyone can announce jobs, a thousand in a list, so this too remembers only the latest `idsRemembered`.
    var ignored = RecentIDs<JobID>(limit: idsRemembered)
    /// Jobs ignored because the donor's admission refused them; looked at again when the preferences change.
    var declined = RecentIDs<JobID>(limit: idsRemembered)
    var tickets: [Ticket] = []
    var stats = Statistics()
    private var averageUnitSeconds: Double?
    /// How long a lease request that brought units took, averaged: nil before the first.
    private var averageLeaseSeconds: Double?
    /// When the control thread asks for a look for jobs next; read and written under the lock (`apply` brings it
    /// forward).
    var nextDiscovery = Date.distantPast
    /// A look for jobs is asked of the discovery thread (under the lock): it looks once more when asked while it looks.
    var discoveryWanted = false
    let discoveryWake = DispatchSemaphore(value: 0)
    /// Sources of job lists whose offered manifests did not check out (`sourceFailureLimit` in one look), with when
    /// they are asked again. At most `sourcesRemembered`, the expired dropped first.
    var distrusted: [Endpoint: Date] = [:]
    static let sourceFailureLimit = 2
    static let distrustSeconds = 600.0
    static let sourcesRemembered = 4096
    /// Jobs none of whose offered manifests checked out: looked at again once `unfetchedRetry` seconds have passed
    /// since the set was last cleared (a lister may offer a real job under a root of its own; the job's custodians
    /// may not have answered that look).
    var unfetched = RecentIDs<JobID>(limit: idsRemembered)
    /// Finished jobs taken up again because a source said a shard of theirs reopened (`JobOffer.reopened`), and when
    /// each may be again: each at most once per `retakeSeconds`, and at most `retakesPerLook` in one look, so that a
    /// source saying so of every job costs a few fetches and lease requests a look. (Once a minute, a job that
    /// reopened twice waited a minute the second time: bench adaptive --units 4000 --scenarios occasional, 74.7 s
    /// against 7.8.)
    var retaken: [JobID: Date] = [:]
    static let retakeSeconds = 10.0
    static let retakesPerLook = 4
    /// How long before a worker asks again for units of a shard that said it was done, for `doneRecheckWindow` after a
    /// custodian told of a new failed check in the job (`ActiveJob.noteFailures`): in an adaptive job a failed check
    /// in another shard voids what a done shard had validated. Asked every 3 s whenever other shards were not done,
    /// done shards took requests an honest job never needs (whether they cost its wall time, bench adaptive --units
    /// 4000 could not tell: 6.4–9.4 s against 6.8–6.9 s before, and 8.3–8.8 s after the window).
    static let doneRecheckSeconds = 3.0
    static let doneRecheckWindow = 30.0
    var unfetchedCleared = Date()
    static let unfetchedRetry = 600.0
    private let stopping = Atomic<Bool>(false)
    private let abandoned = Atomic<Bool>(false)
    private let woken = Atomic<Bool>(false)
    private var threads: [Thread] = []
    private let finishedGroup = DispatchGroup()
    /// The slots alone: leases are kept or released only once every running kernel has saved its checkpoint.
    private let slotsGroup = DispatchGroup()
    let wake = DispatchSemaphore(value: 0)
    /// Fetches blob inputs of leased units, one lease at a time.
    private let inputQueue = DispatchQueue(label: "colony.worker.inputs")
    /// Hands records to a second custodian (`witness`), in order.
    let witnessQueue = DispatchQueue(label: "colony.worker.witness")

    public init(peer: ColonyPeer, configuration: Configuration, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.peer = peer
        self.configuration = configuration
        self.log = log
        let cores = max(1, configuration.cores)
        var preferences = configuration.preferences ?? DonorPreferences()
        if configuration.preferences == nil { preferences.cpuPercent = max(1, min(100, configuration.cpuLimit)) }
        self.governor = ComputeGovernor(preferences: preferences, machineCores: cores)
        self.admission = configuration.preferences?.admission ?? configuration.admission
        self.allowed = governor.allowance(for: MachineSample())
        applyAllowance(allowed)
    }

    /// Starts the control thread and the slots.
    public func start() {
        for slot in 0..<max(1, configuration.cores) {
            finishedGroup.enter()
            slotsGroup.enter()
            let thread = Thread { [self] in
                runSlot(slot)
                slotsGroup.leave()
                finishedGroup.leave()
            }
            thread.name = "colony.worker.slot-\(slot)"
            thread.start()
        }
        finishedGroup.enter()
        let control = Thread { [self] in
            controlLoop()
            finishedGroup.leave()
        }
        control.name = "colony.worker.control"
        control.start()
        // Looking for jobs has a thread of its own too: a job list or manifest asked of a source that never answers
        // holds a look for its timeout (10 s a source), and on the control thread it held every lease, seal and
        // reveal with it; anyone can announce itself under a kernel's topic key.
        finishedGroup.enter()
        let discovery = Thread { [self] in
            while !isStopping {
                _ = discoveryWake.wait(timeout: .now() + 1)
                let asked = condition.withLock { () -> Bool in
                    defer { discoveryWanted = false }
                    return discoveryWanted
                }
                guard asked, !isStopping else { continue }
                discover()
                wake.signal()
            }
            finishedGroup.leave()
        }
        discovery.name = "colony.worker.discovery"
        discovery.start()
        // The preferences are applied on a thread of their own: the control thread can wait seconds on a custodian
        // that does not answer, and a busy machine must see the kernels suspended within a few seconds regardless.
        finishedGroup.enter()
        let governing = Thread { [self] in
            while !isStopping {
                govern()
                _ = governWake.wait(timeout: .now() + configuration.governInterval)
            }
            finishedGroup.leave()
        }
        governing.name = "colony.worker.governor"
        governing.start()
    }

    /// Stops: running kernels are asked to stop and checkpoint, finished outputs are revealed, other leases are
    /// given back so their slots reopen at once, and the threads end. Blocks until they have.
    public func stop() {
        requestStop()
        finishedGroup.wait()
    }

    /// Stops, waiting at most `seconds` for the worker to give its leases back (a custodian that does not answer
    /// holds a request for up to its timeout). True when it finished; false when it was still at it: what it did
    /// not give back expires with its lease.
    @discardableResult
    public func stop(within seconds: Double) -> Bool {
        requestStop()
        return finishedGroup.wait(timeout: .now() + seconds) == .success
    }

    /// Asks the worker to stop and returns at once: `isStopping` is true from here on (what `stop()` does first).
    public func requestStop() {
        stopping.store(true, ordering: .relaxed)
        governWake.signal()
        discoveryWake.signal()
        condition.broadcast()
        wake.signal()
    }

    /// Stops without telling anyone, as a crashed process would: its leases simply expire.
    public func abandon() {
        abandoned.store(true, ordering: .relaxed)
        stop()
    }

    public var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// A snapshot for status displays.
    public var snapshot: (statistics: Statistics, running: [Int: Running], jobs: [JobID: String], buffered: Int) {
        condition.lock()
        defer { condition.unlock() }
        var running = running
        for (slot, context) in contexts { running[slot]?.progress = context.progress }
        for slot in heldSlots { running[slot]?.held = true }
        var titles = jobs.mapValues { $0.manifest.title }
        for job in recentlyFinished { titles[job.id] = job.title }
        return (stats, running, titles, tasks.count)
    }

    /// Whether this worker took `job` up: it works on it, or finished it and let go of it.
    func hasTakenUp(_ job: JobID) -> Bool { condition.withLock { jobs[job] != nil || finishedJobs.contains(job) } }

    /// Leases this worker holds results or units of (not yet done with).
    public var leasesHeld: Int { condition.withLock { tickets.filter { $0.state != .done }.count } }

    /// Debugging aid (`COLONY_BENCH_TRACE`): how this worker stands with `job`: shards it takes as done, shards it
    /// waits on, its tickets by state, and units queued.
    public func leasingState(of job: JobID) -> String {
        condition.withLock {
            guard let active = jobs[job] else { return "job unknown" }
            let now = Date()
            let waiting = active.busyUntil.filter { $0.value > now }.map { "\($0.key) \(String(format: "%.1f", $0.value.timeIntervalSince(now)))s" }
            let states = Dictionary(grouping: tickets.filter { $0.job.id == job }, by: { "\($0.state)" }).mapValues(\.count)
            return "done shards \(active.done.sorted()), waiting \(waiting.sorted()), tickets \(states), queued \(tasks.count), "
                + "running \(running.count), activity \(activity), may lease \(allowed.mayLease)"
        }
    }

    // MARK: Slots

    private func runSlot(_ slot: Int) {
        if configuration.lowPriority { _ = WorkerEngine.lowerThreadPriority() }
        let isStopping: @Sendable () -> Bool = { [weak self] in self?.isStopping ?? true }
        let runner = UnitRunner(
            isolation: configuration.isolation, lowPriority: configuration.lowPriority, cpuLimit: configuration.cpuLimit,
            dutyCycleWindow: .milliseconds(100))
        defer { runner.close() }
        // In-process, a paused worker holds the kernel at its next step; isolated, its host is stopped instead.
        let hold = UnitHold(
            isPaused: { [weak self] in self?.isHeld(slot: slot) ?? false },
            held: { [weak self] held in self?.setHeld(slot: slot, held) },
            cpuPercent: { [weak self] in self?.cpuPercentNow.load(ordering: .relaxed) ?? 100 })
        // Isolated, the runner throttles the host by stopping and continuing it; in-process, `step` rests.
        let cycle =
            runner.isIsolated
            ? nil
            : DutyCycle(
                percent: { [weak self] in self?.cpuPercentNow.load(ordering: .relaxed) ?? 100 }, window: .milliseconds(100), isStopping: isStopping)
        // When a held unit is given back rather than kept past its lease (milliseconds since 1970; `Int64.max` none).
        let giveUpAt = GiveUpTime()
        let pace: @Sendable () -> Void = { [weak self] in
            cycle?.pace()
            // Time held is not time run: the duty cycle starts afresh after it.
            if self?.holdWhilePaused(slot: slot, giveUpAt: giveUpAt) == true { cycle?.restart() }
        }
        let overrun = OverrunWatch()
        // A unit held (paused, suspended, past the cores in use) until its lease nearly ends is stopped at a
        // checkpoint and given back, so that its lease is released, not left to expire against this worker. So is
        // one still running then whose kernel checkpointed in this run (`OverrunWatch`): killed at the lease's end
        // it was an error, and a worker never leases a unit it ended with an error again, so on a busy machine a
        // unit two of three workers could not finish in time waited for a fourth (SwarmProcessTests, under load).
        let unitStopping: @Sendable () -> Bool = { [weak self] in
            guard let self else { return true }
            if self.isStopping { return true }
            guard giveUpAt.passed else { return false }
            return self.isHeld(slot: slot) || overrun.givesBack(atLeaseEnd: false)
        }
        while true {
            condition.lock()
            // A paused, finishing or suspended worker starts no new unit, nor does a slot past the cores in use.
            while (tasks.isEmpty || !mayStart(slot: slot)) && !isStopping() { condition.wait() }
            if isStopping() {
                condition.unlock()
                return
            }
            let task = tasks.removeFirst()
            let job = task.ticket.job
            // The time the slot waited for this unit is not time it ran.
            cycle?.restart()
            running[slot] = Running(job: job.id, unit: task.unit, kernel: job.manifest.kernel, started: Date())
            overrun.start(allowed: (overrunGiveBacks[job.id]?[task.unit] ?? 0) < Self.maxOverrunGiveBacks)
            condition.unlock()
            signalChange()

            let started = Date()
            var output: [UInt8]?
            var failure: String?
            let ticket = task.ticket
            guard ticket.expires > started else {
                // Its lease ended while it waited behind another unit (one that hung until killed, say): not the
                // unit's fault and no work done, so it is given back like a unit whose input never came.
                condition.withLock {
                    running[slot] = nil
                    pauseIfFinished()
                    ticket.failures[task.unit] = String(decoding: CustodyRecord.releaseReason(of: ticket.lease.id), as: UTF8.self)
                }
                wake.signal()
                continue
            }
            // Each checkpoint goes to disk as the kernel takes it (DESIGN.md, Data directory), so a worker killed
            // with -9 and leased the unit again resumes from it.
            let leaseSeconds = ticket.expires.timeIntervalSince1970 - Double(ticket.lease.time) / 1000
            giveUpAt.set(ticket.expires - max(Self.heldGiveBackMargin, leaseSeconds / 10))
            let hooks = KernelContextHooks(
                checkpointInterval: .milliseconds(Int(configuration.checkpointInterval * 1000)), isStopping: unitStopping,
                saveCheckpoint: { [weak self, condition] data in
                    overrun.checkpointed()
                    condition.withLock { ticket.checkpoints[task.unit] = data }
                    self?.saveCheckpoint(data, job: job.id, unit: task.unit)
                },
                pace: pace)
            let context = KernelContext(unit: task.unit, checkpoint: task.checkpoint, hooks: hooks)
            condition.withLock { contexts[slot] = context }
            // A unit still running when its lease ends is another worker's by then: its host is killed.
            let deadline = ContinuousClock.now + .milliseconds(Int64(max(0, ticket.expires.timeIntervalSinceNow) * 1000))
            switch runner.run(
                kernel: job.kernel, input: task.input, context: context, hooks: hooks, deadline: deadline, hold: hold)
            {
            case .output(let bytes): output = [UInt8](bytes)
            case .interrupted: output = nil
            case .failed(let reason): failure = reason
            }
            giveUpAt.clear()
            // Killed because its lease ended (it took no checkpoint to be stopped at, or did not stop in time): on a
            // machine too busy to give a low-priority host its turn, that is no error of the unit's. It is given back
            // while this worker may (`OverrunWatch`); past that, a hung kernel's unit ends in an error as before.
            if failure != nil, ContinuousClock.now >= deadline, overrun.givesBack(atLeaseEnd: true) { failure = nil }
            // Interrupted while the worker goes on: it was held, or would not finish, until its lease nearly ended.
            // Its checkpoint stays on disk (leased again, it resumes from it) and the unit is given back.
            let givenBack = output == nil && failure == nil && !isStopping()
            let overran = givenBack && overrun.triggered
            var cheated = false
            var kept: [UInt8]?
            let sleeper = [.sleeper, .carefulSleeper, .peeker].contains(configuration.behaviour)
            if let honest = output,
                configuration.behaviour == .cheater || (sleeper && isAwake() && Double.random(in: 0..<1) < configuration.sleeperCheatRate)
            {
                output = honest + (0..<8).map { _ in UInt8.random(in: 0...255) }
                cheated = true
                if configuration.behaviour == .carefulSleeper { kept = honest }
            }
            if configuration.behaviour == .colluder, let honest = output {
                output = Self.collusion(honest)
                cheated = true
            }
            let seconds = Date().timeIntervalSince(started)
            condition.lock()
            running[slot] = nil
            contexts[slot] = nil
            pauseIfFinished()
            if let output {
                task.ticket.outputs[task.unit] = output
                task.ticket.honest[task.unit] = kept
                task.ticket.checkpoints[task.unit] = nil
                stats.computed += 1
                stats.cheated += cheated ? 1 : 0
                if cheated { task.ticket.cheated.insert(task.unit) }
                averageUnitSeconds = averageUnitSeconds.map { $0 * 0.8 + seconds * 0.2 } ?? seconds
            } else if let failure {
                task.ticket.failures[task.unit] = failure
                task.ticket.checkpoints[task.unit] = nil
                stats.kernelErrors += 1
            } else if givenBack {
                task.ticket.failures[task.unit] = String(
                    decoding: CustodyRecord.releaseReason(of: task.ticket.lease.id), as: UTF8.self)
                if overran {
                    overrunGiveBacks[job.id, default: [:]][task.unit, default: 0] += 1
                    stats.overrunsGivenBack += 1
                } else {
                    stats.heldGivenBack += 1
                }
            }
            condition.unlock()
            if output != nil || failure != nil { removeSavedCheckpoint(job: job.id, unit: task.unit) }
            if let failure { log("unit \(task.unit) of job \(job.id.hex.prefix(12)) failed: \(failure)") }
            signalChange()
            if overran {
                log("gave back unit \(task.unit) of job \(job.id.hex.prefix(12)): it would not finish within its lease; "
                    + "leased again, it resumes from its checkpoint")
            } else if givenBack {
                log("gave back unit \(task.unit) of job \(job.id.hex.prefix(12)): held until its lease nearly ended")
            }
            wake.signal()
        }
    }

    // MARK: Control

    private func controlLoop() {
        // The jobs this worker's own peer keeps custody of: one more is looked for at once, not at the next discovery
        // (a job published to the peer waited up to the idle discovery interval: bench adaptive, 0.1 s on average),
        // but at most once per `custodyDiscoveryInterval`: anyone may publish jobs naming the peer as custodian.
        var kept = 0
        var nextCustodyLook = Date.distantPast
        while !isStopping {
            let keeps = peer.custody.withLock { $0.manifests.count }
            // Fewer when finished jobs were forgotten: the next one kept is new all the same.
            kept = min(kept, keeps)
            let now = Date()
            let custodyLook = keeps > kept && now >= nextCustodyLook
            if custodyLook || now >= condition.withLock({ nextDiscovery }) {
                if custodyLook { nextCustodyLook = now + configuration.custodyDiscoveryInterval }
                // A job that comes while a look is under way is looked for again: the count is read before it,
                // and a look asked for while one runs runs after it.
                kept = keeps
                condition.withLock {
                    discoveryWanted = true
                    // Asked again at the interval if the look has not begun by then.
                    nextDiscovery = max(nextDiscovery, now + min(configuration.idleDiscoveryInterval, configuration.discoveryInterval))
                }
                discoveryWake.signal()
            }
            leaseMore()
            commitFinished()
            revealReady()
            judgeRevealed()
            condition.lock()
            tickets.removeAll { $0.state == .done }
            let letGo = letGoOfFinishedJobs()
            condition.unlock()
            for job in letGo where peer.forgetLearnedJob(job) { log("forgot finished job \(job.hex.prefix(12))") }
            signalChange()
            // Woken by a slot finishing a unit; otherwise look again after a short while (reveals wait on
            // other workers' seals, which nothing here is told about).
            _ = wake.wait(timeout: .now() + configuration.revealPollInterval)
        }
        slotsGroup.wait()
        if !abandoned.load(ordering: .relaxed) { releaseAll() }
    }

    /// Lets go of the finished jobs no ticket holds any more (under the lock): out of `jobs`, into `finishedJobs`,
    /// so that a worker that runs for years holds only the jobs it works on. Returns them, for its peer to forget
    /// those it learned only for this worker (`ColonyPeer.forgetLearnedJob`).
    private func letGoOfFinishedJobs() -> [JobID] {
        let finished = jobs.values.filter(\.finished)
        guard !finished.isEmpty else { return [] }
        let held = Set(tickets.map(\.job.id))
        var letGo: [JobID] = []
        for job in finished where !held.contains(job.id) {
            jobs[job.id] = nil
            stats.jobsFinished += 1
            finishedJobs.insert(job.id)
            recentlyFinished.append((job.id, job.manifest.title))
            letGo.append(job.id)
        }
        if recentlyFinished.count > Self.recentlyFinishedShown { recentlyFinished.removeFirst(recentlyFinished.count - Self.recentlyFinishedShown) }
        return letGo
    }

    /// Looks for jobs of the kernels here (on the discovery thread): asks the sources under each kernel's topic for
    /// their lists, then fetches the manifests of jobs new here, each job in turn from each source (a source listing
    /// a thousand jobs does not stand before another's). A manifest that does not check out is charged to the source
    /// that offered its root; a source charged `sourceFailureLimit` times is passed over for the rest of the look and
    /// not asked again for `distrustSeconds`, so a lister of jobs that do not exist costs a look two fetches.
    private func discover() {
        // A worker whose jobs are all finished has nothing to lease: it looks for work at the idle rate.
        let hasJobs = condition.withLock { jobs.values.contains { !$0.finished } }
        let now = Date()
        let next = now + (hasJobs ? configuration.discoveryInterval : min(configuration.idleDiscoveryInterval, configuration.discoveryInterval))
        let skipping = condition.withLock { () -> Set<Endpoint> in
            nextDiscovery = next
            stats.discoveries += 1
            distrusted = distrusted.filter { $0.value > now }
            if now.timeIntervalSince(unfetchedCleared) >= Self.unfetchedRetry {
                unfetched.removeAll()
                unfetchedCleared = now
            }
            return Set(distrusted.keys)
        }
        var failures: [Endpoint: Int] = [:]
        var retakes = 0
        for kernel in configuration.kernels.kernels {
            for found in Self.inTurn(peer.discoverJobs(kernel: kernel.name, version: kernel.version, skipping: skipping)) {
                if isStopping { return }
                let known = condition.withLock { () -> Bool in
                    if found.reopened, finishedJobs.contains(found.job), (retaken[found.job] ?? .distantPast) < Date(),
                        retakes < Self.retakesPerLook
                    {
                        retakes += 1
                        if retaken.count >= Self.idsRemembered { retaken = retaken.filter { $0.value > Date() } }
                        retaken[found.job] = Date() + Self.retakeSeconds
                        finishedJobs.subtract([found.job])
                        log("job \(found.job.hex.prefix(12)) has units open again: taking it up")
                    }
                    return jobs[found.job] != nil || ignored.contains(found.job) || finishedJobs.contains(found.job) || unfetched.contains(found.job)
                }
                if known { continue }
                var fetched: JobManifest?
                var failure: CustodyError?
                var passedOver = false
                for offer in found.offers {
                    if isStopping { return }
                    // A source passed over in this look, at this job or an earlier one.
                    guard failures[offer.source, default: 0] < Self.sourceFailureLimit else {
                        passedOver = true
                        continue
                    }
                    do {
                        fetched = try peer.fetchManifest(found.job, root: offer.root, hint: [offer.source], forWorker: true)
                        break
                    } catch where error.reason == "custody full" {
                        // This peer holds as many jobs as it may: not the job's fault. Looked at again at the next look,
                        // once jobs finished here are forgotten.
                        log("not fetching job \(found.job.hex.prefix(12)) now: \(error)")
                        return
                    } catch {
                        failure = error
                        // This peer's own storage failing is not the source's doing.
                        guard error.reason != "storage" else { continue }
                        failures[offer.source, default: 0] += 1
                        if failures[offer.source] == Self.sourceFailureLimit {
                            distrust(offer.source, because: error)
                            passedOver = true
                        }
                    }
                }
                // Offered by a source passed over in this look: the next look, which does not ask it, tries the other
                // sources' roots (one that offered bogus roots first would otherwise keep the job from the worker).
                if fetched == nil, passedOver { continue }
                guard let manifest = fetched else {
                    condition.withLock {
                        unfetched.insert(found.job)
                        stats.jobsIgnored += 1
                    }
                    log("ignoring job \(found.job.hex.prefix(12)) for now: \(failure.map { "\($0)" } ?? "no manifest")")
                    continue
                }
                guard let type = configuration.kernels.kernelType(named: manifest.kernel), type.version == manifest.kernelVersion
                else {
                    condition.withLock {
                        ignored.insert(found.job)
                        stats.jobsIgnored += 1
                    }
                    // Its manifest would hold a place in the peer's allowance for good: no job it ignores finishes.
                    peer.forgetLearnedJob(found.job)
                    continue
                }
                let job = ActiveJob(manifest: manifest, kernel: type.init())
                // The donor's preferences are asked and the job taken up under one lock: preferences applied between
                // the two (`apply`, which drops the jobs they refuse) would otherwise let a job they refuse in.
                let refusal = condition.withLock { () -> String? in
                    if let refusal = admission.refusal(kernel: manifest.kernel, publisherHex: manifest.publisher.hex) {
                        // Ignored for good, so this is said once per job.
                        ignored.insert(found.job)
                        declined.insert(found.job)
                        stats.jobsIgnored += 1
                        return refusal
                    }
                    jobs[found.job] = job
                    stats.jobsSeen += 1
                    return nil
                }
                if let refusal {
                    log("not working on job \(found.job.hex.prefix(12)) (\(manifest.title)): \(refusal) by the donor's preferences")
                    peer.forgetLearnedJob(found.job)
                    continue
                }
                log("job \(found.job.hex.prefix(12)): \(manifest.title) (\(manifest.units.count) units, \(manifest.kernel))")
            }
        }
    }

    /// Passes over `source` for `distrustSeconds` (never this worker's own peer).
    private func distrust(_ source: Endpoint, because error: CustodyError) {
        guard source != peer.endpoint else { return }
        let until = Date() + Self.distrustSeconds
        condition.withLock {
            if distrusted[source] == nil, distrusted.count >= Self.sourcesRemembered,
                let soonest = distrusted.min(by: { $0.value < $1.value })?.key
            {
                distrusted[soonest] = nil
            }
            distrusted[source] = until
            stats.sourcesDistrusted += 1
        }
        log("not asking \(source) for jobs for \(Int(Self.distrustSeconds)) s: \(Self.sourceFailureLimit) manifests it offered did not check out (\(error))")
    }

    /// The jobs of `offers` in turn by source (the source of each job's first offer): one from each, then a second
    /// from each, and so on.
    static func inTurn(_ offers: [JobOffer]) -> [JobOffer] {
        var bySource: [Endpoint: [JobOffer]] = [:]
        var sources: [Endpoint] = []
        for offer in offers {
            guard let source = offer.offers.first?.source else { continue }
            if bySource[source] == nil { sources.append(source) }
            bySource[source, default: []].append(offer)
        }
        var ordered: [JobOffer] = []
        var round = 0
        while ordered.count < offers.count {
            var added = false
            for source in sources {
                guard let list = bySource[source], round < list.count else { continue }
                ordered.append(list[round])
                added = true
            }
            if !added { break }
            round += 1
        }
        return ordered
    }

    func fields(_ job: ActiveJob) -> [(String, BencodeValue)] { peer.jobFields(job.id) }

    /// Sends to the ticket's custodians in order, moving past those that do not answer or no longer keep the shard;
    /// when none is left, starts again from the shard's current set.
    func send(_ frame: Frame, custodians: inout [Endpoint], ref: ShardRef) throws(ColonyRequestError) -> Frame {
        var lastError: ColonyRequestError?
        var tried = 0
        while tried < 4 {
            if custodians.isEmpty {
                peer.learnChanges(ref)
                custodians = peer.members(of: ref).map(\.endpoint)
                if custodians.isEmpty { break }
            }
            let target = custodians[0]
            do {
                return try peer.request(frame, to: target)
            } catch {
                lastError = error
                if let refusal = error.refusal, refusal.reason != "not a custodian" { throw error }
                if error.refusal == nil {
                    condition.withLock { stats.requestFailures += 1 }
                    peer.learnChangesSoon(ref)
                }
                custodians.removeFirst()
                tried += 1
            }
        }
        throw lastError ?? ColonyRequestError(endpoint: peer.endpoint, transport: "no custodians found")
    }

    func noteRefusal(_ error: ColonyRequestError) {
        guard let refusal = error.refusal else { return }
        condition.withLock { stats.refused[refusal.reason, default: 0] += 1 }
        log("refused: \(refusal)")
    }

    /// The wait before asking a shard that had nothing for units again, after `previous` (nil: the first):
    /// doubling from 0.1 s up to a tenth of `unitSeconds`, this worker's time for a unit, within 0.1–0.5 s; or up
    /// to a tenth of `idleFor`, the time the shard has had none, when that is longer (at most 5 s). A unit that
    /// opens late (a vanished worker's lease ended) is then taken within a tenth of the wait for it, and a worker
    /// idle for a 60 s lease period asks 54 times, not 600: every idle worker of a job asks each of its shards.
    static func idleWait(after previous: TimeInterval?, unitSeconds: TimeInterval?, idleFor: TimeInterval = 0) -> TimeInterval {
        let longest = max(min(0.5, max(0.1, (unitSeconds ?? 5) / 10)), min(5, idleFor / 10))
        return min(longest, (previous ?? 0.05) * 2)
    }

    /// Whether to lease units while every slot is busy: only while a lease request (`leaseSeconds`, averaged)
    /// takes more than a fiftieth of a unit (`unitSeconds`); true before either is known.
    static func prefetches(unitSeconds: TimeInterval?, leaseSeconds: TimeInterval?) -> Bool {
        guard let unitSeconds, let leaseSeconds else { return true }
        return leaseSeconds * 50 > unitSeconds
    }

    /// The longest wait between asks for a sealed unit's partners within its lease: a tenth of a unit, within the
    /// control thread's `pollInterval` and 0.25 s.
    static func partnerWait(unitSeconds: TimeInterval?, pollInterval: TimeInterval) -> TimeInterval {
        min(0.25, max(pollInterval, (unitSeconds ?? 2.5) / 10))
    }

    private func leaseMore() {
        var requests = 0
        while !isStopping && requests < 4 && condition.withLock({ activity == .running && allowed.mayLease }) {
            let (buffered, job, shard) = condition.withLock { () -> (Int, ActiveJob?, Int?) in
                let pending = tasks.count + running.count
                    + (configuration.behaviour == .copycat ? tickets.filter { $0.state != .done }.count : 0)
                let now = Date()
                for job in jobs.values.sorted(by: { $0.id < $1.id }) where !job.finished {
                    // Every worker walks the shards in the same order: the first `replicas` to ask for a shard's
                    // units get them at about the same time, so their seals meet soon and reveals follow (starting
                    // each worker elsewhere left first seals waiting for a partner to walk round: 360 validated
                    // units/s against 511). Later askers get "none" and move on.
                    // Shards not done first; then, after a new failure in the job, one done a while ago
                    // (`doneRecheckSeconds`).
                    let ready = { (shard: Int) in (job.busyUntil[shard] ?? .distantPast) <= now }
                    if let shard = (0..<job.manifest.shardCount).first(where: { !job.done.contains($0) && ready($0) })
                        ?? (job.rechecksDone ? job.done.sorted().first(where: ready) : nil)
                    {
                        return (pending, job, shard)
                    }
                }
                return (pending, nil, nil)
            }
            let (cores, average, prefetches) = condition.withLock { () -> (Int, Double?, Bool) in
                // A unit leased while every slot is busy waits in this worker's queue, where no other worker can
                // take it: at a shard's end, one worker ran its queued last unit while another sat idle (bench
                // adaptive, mersenne-10k, trusted: 0.3 s of 5.4). It is worth it only while asking takes more than
                // a fiftieth of a unit's time (a far custodian, short units); otherwise a slot asks once it is free.
                let prefetches = Self.prefetches(unitSeconds: averageUnitSeconds, leaseSeconds: averageLeaseSeconds)
                return (min(configuration.cores, allowed.cores), averageUnitSeconds, prefetches)
            }
            guard let job, let shard, buffered < cores + (prefetches ? 1 : 0) else { return }
            requests += 1
            let count = average.map { max(1, min(job.manifest.policy.shardSize, Int(configuration.targetLeaseSeconds / max($0, 1e-6)))) } ?? 1
            let ref = ShardRef(job: job.id, shard: shard)
            do {
                let asked = Date()
                guard let (lease, custodians) = try lease(ref, count: count) else { continue }
                let took = Date().timeIntervalSince(asked)
                condition.withLock { averageLeaseSeconds = averageLeaseSeconds.map { $0 * 0.8 + took * 0.2 } ?? took }
                let ticket = Ticket(job: job, shard: shard, custodians: custodians, lease: lease)
                condition.withLock {
                    job.done.remove(shard)
                    tickets.append(ticket)
                    stats.leases += 1
                    stats.unitsLeased += ticket.units.count
                }
                if configuration.behaviour != .copycat { queueTasks(ticket) }
                if configuration.behaviour == .copycat { commitInvented(ticket) }
            } catch {
                noteRefusal(error)
                condition.withLock { job.busyUntil[shard] = Date() + 1 }
            }
        }
    }

    /// Asks the shard's custodians for a lease of up to `count` units, starting at one that depends on this worker
    /// and the shard (so that the replicas of a unit come from distinct custodians) and moving on while one has
    /// nothing for this worker but says others may. Returns the lease and the custodians to send results to, the
    /// one that leased first; nil when the shard has nothing now (it is marked done or busy).
    private func lease(_ ref: ShardRef, count: Int) throws(ColonyRequestError) -> (CustodyRecord, [Endpoint])? {
        guard let job = condition.withLock({ jobs[ref.job] }) else { return nil }
        var members = peer.members(of: ref)
        if members.isEmpty { return nil }
        let start = (Int(peer.identity.publicKey.rawRepresentation.first ?? 0) + ref.shard) % members.count
        members = Array(members[start...] + members[..<start])
        var lastError: ColonyRequestError?
        var answered = false
        // Units of the shard this worker holds already: no custodian should lease them to it again.
        let holding = condition.withLock {
            tickets.filter { $0.job.id == ref.job && $0.shard == ref.shard && $0.state != .done }.flatMap(\.units)
        }
        for member in members {
            let frame = CustodyWire.leaseRequest(
                fields(job), job: job.id, shard: ref.shard, count: count, by: peer.identity, now: CustodyClock.now(),
                holding: Array(Set(holding)).sorted())
            let reply: Frame
            do {
                reply = try peer.request(frame, to: member.endpoint)
            } catch {
                lastError = error
                if error.refusal == nil {
                    condition.withLock { stats.requestFailures += 1 }
                    peer.learnChangesSoon(ref)
                }
                if error.refusal?.reason == "not a custodian" { peer.learnChanges(ref) }
                continue
            }
            answered = true
            if let failures = CustodyWire.int(reply, "failures") { condition.withLock { job.noteFailures(failures) } }
            if CustodyWire.op(reply) == "none" {
                if CustodyWire.int(reply, "done") == 1 {
                    condition.withLock {
                        job.done.insert(ref.shard)
                        job.busyUntil[ref.shard] = Date() + Self.doneRecheckSeconds
                        if job.finished {
                            log("job \(job.id.hex.prefix(12)) has no open units left")
                            removeSavedCheckpoints(of: job.id)
                            overrunGiveBacks[job.id] = nil
                            // Look for the next job soon rather than at the busy rate: a publisher's next job waited
                            // up to a discovery interval (bench adaptive, trusted: 0.6 s of a 6 s job).
                            nextDiscovery = min(nextDiscovery, Date() + configuration.idleDiscoveryInterval)
                        }
                    }
                    return nil
                }
                if CustodyWire.int(reply, "elsewhere") == 1 { continue }
                break
            }
            // The lease may be one another custodian of the shard granted this worker earlier, whose answer was lost
            // on the way: any custodian that knows it hands it again.
            guard let lease = try? CustodyRecord(try CustodyWire.payload(reply)), lease.isSignatureValid,
                let author = members.first(where: { $0.key == lease.author }), lease.kind == .lease, lease.worker == peer.identity.publicKey, lease.job == job.id,
                lease.shard == ref.shard, lease.entries.allSatisfy({ job.manifest.units(inShard: ref.shard).contains($0.unit) })
            else {
                log("custodian \(member.key.hex.prefix(8)) answered a lease of shard \(ref.shard) this worker cannot use; asking again in 5 s")
                condition.withLock { job.busyUntil[ref.shard] = Date() + 5 }
                return nil
            }
            condition.withLock { job.mayHaveUnits(ref.shard) }
            return (lease, [author.endpoint] + members.map(\.endpoint).filter { $0 != author.endpoint })
        }
        if !answered, let lastError { throw lastError }
        condition.withLock { job.hadNone(ref.shard, unitSeconds: averageUnitSeconds) }
        return nil
    }

    @discardableResult
    func submit(_ record: CustodyRecord, _ ticket: Ticket) -> Bool { submitted(record, ticket) != nil }

    /// Hands a lease's units to the slots. Inline inputs go at once; blob inputs are fetched first on the input
    /// queue, off the control thread, and a unit whose input cannot be fetched or has the wrong size ends in an
    /// error record.
    /// The checkpoint a unit starts from: one this worker saved when it stopped, if any (called under the lock).
    private func checkpoint(_ ticket: Ticket, _ unit: Int) -> Data? {
        guard let saved = ticket.checkpoints[unit] ?? savedCheckpoint(job: ticket.job.id, unit: unit) else { return nil }
        stats.resumed += 1
        return saved
    }

    /// A unit with a checkpoint saved by an earlier stop resumes from it.
    private func queueTasks(_ ticket: Ticket, units: [Int]? = nil) {
        let manifest = ticket.job.manifest
        let units = units ?? ticket.units
        if units.allSatisfy({ if case .inline = manifest.units[$0] { true } else { false } }) {
            condition.withLock {
                for unit in units {
                    if case .inline(let bytes) = manifest.units[unit] {
                        enqueue(Task(ticket: ticket, unit: unit, input: Data(bytes), checkpoint: checkpoint(ticket, unit)))
                    }
                }
            }
            condition.broadcast()
            return
        }
        inputQueue.async { [self] in
            for unit in units {
                guard !isStopping else { return }
                do {
                    let input: Data
                    switch manifest.units[unit] {
                    case .inline(let bytes): input = Data(bytes)
                    case .blob(let root, let size): input = try fetchInput(root: root, size: size, before: ticket.expires)
                    }
                    condition.withLock {
                        enqueue(Task(ticket: ticket, unit: unit, input: input, checkpoint: checkpoint(ticket, unit)))
                    }
                    condition.broadcast()
                } catch {
                    // Not the unit's fault, and no work done: the lease is given back (it counts as no attempt, and
                    // this worker or another may take the unit again once its input has spread).
                    condition.withLock {
                        ticket.failures[unit] = String(decoding: CustodyRecord.releaseReason(of: ticket.lease.id), as: UTF8.self)
                        stats.inputFailures += 1
                    }
                    log("unit \(unit) of job \(ticket.job.id.hex.prefix(12)): input unavailable, given back: \(error)")
                    wake.signal()
                }
            }
        }
    }

    /// A blob input, tried again with backoff while the lease has time left: a job's inputs spread to their holders
    /// in the seconds after it is published, and a worker may lease a unit before then.
    private func fetchInput(root: SHA256Digest, size: Int, before expires: Date) throws -> Data {
        var delay = 0.2
        while true {
            do {
                return try peer.fetchInput(root: root, size: size)
            } catch {
                guard !isStopping, Date() + delay + 5 < expires else { throw error }
                // A sleep, not a wait on an event: the input spreads to its holders on other peers, and nothing
                // here is told when. This runs on the input queue, never the control thread or a slot.
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 4)
            }
        }
    }

    /// Submits a record to the ticket's custodians; their reply, or nil when refused or unanswered.
    func submitted(_ record: CustodyRecord, _ ticket: Ticket) -> Frame? { try? submitting(record, ticket).get() }

    /// `submitted`, with the custodian's refusal when there was one.
    func submitting(_ record: CustodyRecord, _ ticket: Ticket) -> Result<Frame, ColonyRequestError> {
        let frame = CustodyWire.frame("co_submit", fields(ticket.job), payload: record.value)
        var custodians = ticket.custodians
        do {
            let reply = try send(frame, custodians: &custodians, ref: ShardRef(job: ticket.job.id, shard: ticket.shard))
            ticket.custodians = custodians
            if record.kind == .reveal { witness(record, ticket) }
            return .success(reply)
        } catch {
            ticket.custodians = custodians
            noteRefusal(error)
            return .failure(error)
        }
    }

    /// Commits the seals of `computed`. A commit is refused whole when one of its units was decided meanwhile (by
    /// replicas leased while this worker computed, as adaptive replication's custodians may when their views of
    /// the shard differ for a moment): those units are given back and the rest committed again, so that no
    /// custodian hands the lease over again as undelivered and no unit that opens again waits for it.
    private func commit(_ computed: [Int], of ticket: Ticket) -> Delivery<Frame> {
        var units = computed
        for _ in 0..<3 {
            let commit = commitRecord(ticket, units: units)
            condition.withLock { ticket.commit = commit }
            let result = submitting(commit, ticket)
            let error: ColonyRequestError
            switch result {
            case .success(let reply): return .accepted(reply)
            case .failure(let failure): error = failure
            }
            guard error.refusal != nil else { return .unreachable(error) }
            guard error.refusal?.reason == "unit closed", let rows = status(ticket) else { return .refused }
            let open = units.filter { rows[$0]?.state == 0 }
            let closed = units.filter { rows[$0]?.state != 0 }
            // Every unit open again: the custodian's view changed between the refusal and the status (a cheater's
            // results voided, then cleared by a pass that came in). The same units again. (Given up, the lease
            // stayed live and held the units for a lease period: bench adaptive, 1,200 units, 4 peers, sleeper.)
            if closed.isEmpty { continue }
            condition.withLock { for unit in closed { ticket.outputs[unit] = nil } }
            // Given back whether or not others are left to commit: a decided unit may open again (a result run
            // alone, voided by a later failed check), and a lease neither sealed nor given back then holds it to
            // its end (bench adaptive, careful-sleeper: a lease of 3 units dropped so, 62 s instead of 20).
            giveBack(closed, of: ticket)
            if open.isEmpty { return .refused }
            units = open
        }
        giveBack(units, of: ticket)
        return .refused
    }

    /// Gives `units` of `ticket`'s lease back to the shard's custodians, so that none holds them for the rest of
    /// the lease (or hands the lease over again as undelivered).
    private func giveBack(_ units: [Int], of ticket: Ticket) {
        let reason = CustodyRecord.releaseReason(of: ticket.lease.id)
        _ = submit(
            CustodyRecord(
                kind: .error, job: ticket.job.id, shard: ticket.shard, worker: peer.identity.publicKey,
                entries: units.map { CustodyRecord.Entry(unit: $0, data: reason) }, time: clock(), signedBy: peer.identity), ticket)
    }

    /// Hands a reveal, with the lease and seal it rests on, to a second custodian of the shard as well: a custodian
    /// that withholds what workers hand it (SECURITY.md, one corrupt custodian per shard) cannot hide this worker's
    /// result from the others. Sent off the control thread; the custodian merges it with every check. (Doing the
    /// same for each commit cost a tenth of bench swarm's rate; a withheld seal only delays its partner's reveal.)
    func witness(_ reveal: CustodyRecord, _ ticket: Ticket) {
        guard ticket.custodians.count > 1, let commit = condition.withLock({ ticket.commit }) else { return }
        let second = ticket.custodians[1]
        let frame = CustodyWire.frame("co_merge", fields(ticket.job), payload: CustodyWire.itemList([ticket.lease, commit, reveal]))
        witnessQueue.async { [peer] in _ = try? peer.request(frame, to: second, timeout: 30) }
    }

    /// Commits each ticket whose units all finished (and reports its errors). A custodian that cannot be reached
    /// loses nothing: the ticket is tried again, less and less often, while its lease lasts. (Dropping it left the
    /// unit's lease live and its partner's seal waiting for 5 minutes: netlab nat-only, 30 of 31 validated.)
    private func commitFinished() {
        let now = Date()
        let ready = condition.withLock {
            tickets.filter { ticket in
                ticket.state == .computing && ticket.nextCheck <= now
                    && ticket.units.allSatisfy { ticket.outputs[$0] != nil || ticket.failures[$0] != nil }
                    && !holdsBack(ticket, now: now)
            }
        }
        for ticket in ready {
            let identity = peer.identity
            let worker = identity.publicKey
            let computed = ticket.units.filter { ticket.outputs[$0] != nil }
            let failures = ticket.units.compactMap { unit in
                ticket.failures[unit].map { CustodyRecord.Entry(unit: unit, data: Array($0.utf8.prefix(200))) }
            }
            if !failures.isEmpty, !ticket.errorsSent {
                let record = CustodyRecord(
                    kind: .error, job: ticket.job.id, shard: ticket.shard, worker: worker, entries: failures, time: clock(), signedBy: identity)
                if case .failure(let error) = submitting(record, ticket), error.refusal == nil {
                    if retryLater(ticket, "the errors of", error) { continue }
                }
                condition.withLock { ticket.errorsSent = true }
            }
            var outcome = Delivery<[Int: UnitStatus]?>.accepted(nil)
            if !computed.isEmpty {
                outcome = commit(computed, of: ticket).map(Self.statusRows)
                if case .unreachable(let error) = outcome, retryLater(ticket, "the seals of", error) { continue }
            }
            condition.withLock {
                if case .accepted(let status) = outcome {
                    stats.committed += computed.count
                    ticket.state = computed.isEmpty ? .done : .committed
                    ticket.committed = !computed.isEmpty
                    ticket.status = status
                    ticket.nextCheck = .distantPast
                    ticket.backoff = 0
                } else {
                    ticket.state = .done
                }
            }
        }
    }

    /// What became of a record handed to the shard's custodians.
    enum Delivery<Value> {
        case accepted(Value)
        /// A custodian answered with a refusal (or there was nothing left to send): trying again would not help.
        case refused
        /// No custodian answered.
        case unreachable(ColonyRequestError)

        func map<T>(_ transform: (Value) -> T) -> Delivery<T> {
            switch self {
            case .accepted(let value): .accepted(transform(value))
            case .refused: .refused
            case .unreachable(let error): .unreachable(error)
            }
        }
    }

    /// After no custodian answered a ticket's record: true (and the ticket is looked at again after a back-off
    /// from 1 s doubling to 15 s) while trying again can still help, that is until `until` (the lease's end
    /// when nil); false once it cannot, after saying what was lost.
    func retryLater(_ ticket: Ticket, _ what: String, _ error: ColonyRequestError, until: Date? = nil) -> Bool {
        let now = Date()
        let units = "unit\(ticket.units.count == 1 ? "" : "s") \(ticket.units.map(String.init).joined(separator: ","))"
        guard now < until ?? ticket.expires else {
            log("gave up sending \(what) \(units) of job \(ticket.job.id.hex.prefix(12)): no custodian answered before the lease ended (\(error))")
            return false
        }
        let first = condition.withLock { () -> Bool in
            ticket.retryBackoff = min(15, max(1, ticket.retryBackoff * 2))
            ticket.nextCheck = now + ticket.retryBackoff
            return ticket.retryBackoff == 1
        }
        if first { log("no custodian answered with \(what) \(units) of job \(ticket.job.id.hex.prefix(12)) (\(error)); trying again") }
        return true
    }

    /// The seals of `units`' outputs, signed: SHA-256(worker ‖ job ‖ unit ‖ output digest) each.
    func commitRecord(_ ticket: Ticket, units: [Int]) -> CustodyRecord {
        let worker = peer.identity.publicKey
        let entries = units.map { unit in
            CustodyRecord.Entry(
                unit: unit, hash: CustodyRecord.seal(worker: worker, job: ticket.job.id, unit: unit, digest: ticket.digest(of: unit)))
        }
        return CustodyRecord(
            kind: .commit, job: ticket.job.id, shard: ticket.shard, worker: worker, entries: entries, time: clock(), signedBy: peer.identity)
    }

    /// The outputs of `units` with their digests, signed, stamped no earlier than `after` (the latest partner seal).
    func revealRecord(_ ticket: Ticket, units: [Int], after: Int64 = 0) -> CustodyRecord {
        let entries = units.map { CustodyRecord.Entry(unit: $0, hash: ticket.digest(of: $0), data: ticket.outputs[$0]!) }
        return CustodyRecord(
            kind: .reveal, job: ticket.job.id, shard: ticket.shard, worker: peer.identity.publicKey, entries: entries,
            time: max(clock(), after), signedBy: peer.identity)
    }

    /// The time this worker stamps on its custody records, in milliseconds.
    func clock() -> Int64 { CustodyClock.now() + configuration.clockOffset }

    private func revealReady() {
        let now = Date()
        let due = condition.withLock { tickets.filter { $0.state == .committed && $0.nextCheck <= now } }
        for ticket in due {
            if configuration.behaviour == .copycat {
                revealCopied(ticket)
                continue
            }
            // A seal waits for partners past the end of its lease (a reveal needs no live lease): revealed alone,
            // a result could never pair with a seal made after it (DESIGN.md, Copy-proof). It waits for as long as
            // a partner may come: the unit's attempts could all have been leased and run out by then. (Revealed
            // alone half a lease after its lease, a partner leased late never paired with it, and with 3 workers
            // all of them could act on a unit without a quorum: SwarmProcessTests under load, 7 of 13 units.)
            // Waiting costs nothing but a status request now and then: a sealed unit holds no core.
            let policy = ticket.job.manifest.policy
            let lease = Double(policy.leaseSeconds)
            let givingUp = now.timeIntervalSince(ticket.expires) > lease * Double(policy.maxAttempts)
            var ready: [Int] = []
            var after: Int64 = 0
            if givingUp {
                ready = ticket.units.filter { ticket.outputs[$0] != nil && !ticket.revealed.contains($0) && !withholds(ticket, $0, nil) }
            } else if let status = condition.withLock({ ticket.status.take() }) ?? status(ticket) {
                ready = ticket.units.filter { unit in
                    guard ticket.outputs[unit] != nil, !ticket.revealed.contains(unit), let row = status[unit] else { return false }
                    return (row.partners >= ticket.job.manifest.policy.quorum || row.state != 0) && !withholds(ticket, unit, row)
                }
                // A partner's seal time is in its clock; up to the slack a seal may have against its lease.
                after = min(ready.compactMap { status[$0]?.latestSeal }.max() ?? 0, clock() + ShardLedger.sealSlack)
            }
            if !ready.isEmpty {
                let result = submitting(revealRecord(ticket, units: ready, after: after), ticket)
                // Not lost when no custodian answers: tried again while the ledger waits for it (its seal keeps
                // the unit in flight until a lease period after the lease ends).
                if case .failure(let error) = result, error.refusal == nil,
                    retryLater(ticket, "the outputs of", error, until: ticket.expires + lease)
                {
                    continue
                }
                let ok = (try? result.get()) != nil
                condition.withLock {
                    ticket.retryBackoff = 0
                    // A result in may open units of the shard to this worker (the closing check of another's).
                    ticket.job.mayHaveUnits(ticket.shard)
                    ticket.revealed.formUnion(ready)
                    if ok { stats.revealed += ready.count }
                }
            }
            condition.withLock {
                if ticket.units.allSatisfy({ ticket.revealed.contains($0) || ticket.outputs[$0] == nil }) {
                    ticket.state = ticket.revealed.isEmpty ? .done : .judging
                    ticket.backoff = 0.5
                    ticket.nextCheck = Date() + ticket.backoff
                } else {
                    // Partners come within the lease, or much later (a new lease after an expiry): ask less often
                    // then, and less still once the seal is out of flight (a lease period after its lease), while
                    // it waits for a partner that may come. Within the lease, a partner running the unit beside
                    // this worker seals about a unit's time later: at most a tenth of that between asks (a flat
                    // 0.25 s kept a spot-checked unit, and the shard's closing checks, 0.2 s waiting: bench
                    // adaptive, mersenne-10k, trusted, units of 0.3 s).
                    let late = Date().timeIntervalSince(ticket.expires)
                    let soon = Self.partnerWait(unitSeconds: averageUnitSeconds, pollInterval: configuration.revealPollInterval)
                    let cap = late > lease ? 10.0 : late > 0 ? 2.0 : soon
                    ticket.backoff = min(cap, max(configuration.revealPollInterval, ticket.backoff * 2))
                    ticket.nextCheck = Date() + ticket.backoff
                }
            }
        }
    }

    /// Learns how the units this worker revealed were decided, for the validated and invalid counts: asks the
    /// custodian again, less and less often, until each is decided or the lease is long over.
    private func judgeRevealed() {
        let now = Date()
        let due = condition.withLock { tickets.filter { $0.state == .judging && $0.nextCheck <= now } }
        var judgedNow = false
        for ticket in due {
            let status = status(ticket)
            condition.withLock {
                let judgedBefore = ticket.judged.count
                for unit in ticket.revealed where !ticket.judged.contains(unit) {
                    guard let row = status?[unit], row.state != 0 else { continue }
                    ticket.judged.insert(unit)
                    if row.mine == 1 {
                        stats.validated += 1
                        // Its own tally of credit: the work of the unit with the output the quorum agreed on, which
                        // was its own. Inputs kept as blobs are not held after the unit ran: those units count here
                        // as the kernel counts an empty input (usually nothing); `colony credit` weighs them all.
                        if let output = ticket.outputs[unit] {
                            let kernel = ticket.job.kernel
                            var input = Data()
                            if case .inline(let bytes)? = ticket.job.manifest.units.indices.contains(unit)
                                ? ticket.job.manifest.units[unit] : nil
                            {
                                input = Data(bytes)
                            }
                            stats.credit[type(of: kernel).workUnit, default: 0] +=
                                kernel.work(input: input, output: Data(output))
                        }
                    } else if row.mine == -1 || row.state == 1 {
                        stats.invalid += 1
                    } else {
                        stats.failedUnits += 1
                    }
                }
                if judgedBefore != ticket.judged.count { judgedNow = true }
                if ticket.judged.count == ticket.revealed.count || now > ticket.expires + 120 {
                    ticket.state = .done
                } else {
                    ticket.backoff = min(4, ticket.backoff * 2)
                    ticket.nextCheck = now + ticket.backoff
                }
            }
        }
        if judgedNow { configuration.onJudged?() }
    }

    /// Per unit: state, distinct seals and this worker's standing, from the ticket's custodian.
    private func status(_ ticket: Ticket) -> [Int: UnitStatus]? {
        let frame = CustodyWire.frame(
            "co_status",
            fields(ticket.job) + [
                ("shard", .integer(Int64(ticket.shard))), ("worker", .bytes([UInt8](peer.identity.publicKey.rawRepresentation))),
                ("units", .list(ticket.units.map { .integer(Int64($0)) })),
            ])
        var custodians = ticket.custodians
        guard let reply = try? send(frame, custodians: &custodians, ref: ShardRef(job: ticket.job.id, shard: ticket.shard)) else {
            return nil
        }
        ticket.custodians = custodians
        return Self.statusRows(reply)
    }

    /// The rows of a `co_status` reply, or of a commit's reply (only its units).
    private static func statusRows(_ reply: Frame) -> [Int: UnitStatus]? {
        guard let rows = try? CustodyWire.payload(reply).list, !rows.isEmpty else { return nil }
        var result: [Int: UnitStatus] = [:]
        for row in rows {
            guard let values = row.list?.compactMap(\.integer), values.count >= 3 else { continue }
            result[Int(values[0])] = UnitStatus(
                state: Int(values[1]), partners: Int(values[2]), mine: values.count >= 7 ? Int(values[6]) : 0,
                latestSeal: values.count >= 8 ? values[7] : 0)
        }
        return result
    }
}

extension NSCondition {
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
