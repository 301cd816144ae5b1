import ColonyTestSupport
import Foundation
import Testing

/// Colony's DHT against a real libtorrent DHT on 127.0.0.1: runs `Tests/Interop/dht_interop.py` with the built
/// `colony` executable. Runs in CI (`.ci/run` installs libtorrent's Python bindings) and wherever `python3` can
/// import libtorrent.
@Suite struct DHTInteropTests {
    /// The interop script, found from this file's place in the repository.
    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Interop").appendingPathComponent("dht_interop.py")
    }

    /// Issue 12, discovery: Colony peers each bootstrapped from a different libtorrent node (no Colony address
    /// known in advance) find their network under its rendezvous key and complete a job; a worker of another
    /// network on the same DHT takes no part (`Tests/Interop/rendezvous.py`).
    @Test(ExternalTool.libtorrent.gate)
    func colonyPeersFindEachOtherThroughLibtorrentAndNetworksStayApart() throws {
        try ExternalTool.libtorrent.require()
        let colony = try #require(colonyExecutable(), "the colony executable is built next to the tests")
        let log = try Self.runScript("rendezvous.py", colony: colony)
        #expect(log.status == 0, "rendezvous.py failed:\n\(log.text)")
        #expect(log.text.contains(" 0 failed"), "rendezvous.py did not report its checks:\n\(log.text)")
    }

    /// Runs a script of Tests/Interop with the colony executable; its exit status and everything it printed.
    static func runScript(_ name: String, colony: URL) throws -> (status: Int32, text: String) {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // The script bounds every wait itself and ends every process it started, also when a check fails.
        python.arguments = ["python3", script.deletingLastPathComponent().appendingPathComponent(name).path, "--colony", colony.path]
        let output = Pipe()
        python.standardOutput = output
        python.standardError = output
        try python.run()
        // Read to the end before waiting, so a full pipe never blocks the script.
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        return (python.terminationStatus, text)
    }

    @Test(ExternalTool.libtorrent.gate)
    func colonyAndLibtorrentExchangeItemsAndKnowEachOther() throws {
        try ExternalTool.libtorrent.require()
        let colony = try #require(colonyExecutable(), "the colony executable is built next to the tests")
        let (status, log) = try Self.runScript("dht_interop.py", colony: colony)
        #expect(status == 0, "dht_interop.py failed:\n\(log)")
        #expect(log.contains(" 0 failed"), "dht_interop.py did not report its checks:\n\(log)")
    }
}
