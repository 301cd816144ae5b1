import Foundation
import Synchronization
import Testing

@testable import ColonyCLI

/// Under systemd (contrib/colony-worker.service), a service's standard output is the journal, which stamps every
/// line itself: log lines then carry a syslog priority (`<6>`) instead of a timestamp of their own.
@Suite struct JournalLogTests {
    @Test func theJournalIsRecognisedByTheDeviceAndInodeSystemdNames() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID().uuidString)")
        try Data().write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let fd = open(url.path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var status = stat()
        try #require(fstat(fd, &status) == 0)
        let (device, inode) = (UInt64(status.st_dev), UInt64(status.st_ino))
        #expect(EventLog.outputIsJournal("\(device):\(inode)", fd: fd))
        #expect(!EventLog.outputIsJournal("\(device):\(inode + 1)", fd: fd), "another stream")
        #expect(!EventLog.outputIsJournal(nil, fd: fd), "not under systemd")
        #expect(!EventLog.outputIsJournal("\(device)", fd: fd))
        #expect(!EventLog.outputIsJournal("a:b", fd: fd))
        #expect(!EventLog.outputIsJournal("\(device):\(inode)", fd: -1))
    }

    @Test func linesIntoTheJournalCarryAPriorityInsteadOfATimestamp() {
        let lines = Mutex<[String]>([])
        let console = Console(writeOutput: { text in lines.withLock { $0.append(text) } }, writeError: { _ in }, errorIsTerminal: false)
        EventLog(console: console, json: false, journal: true).emit("started", [:], text: "worker started")
        EventLog(console: console, json: false, journal: false).emit("started", [:], text: "worker started")
        let written = lines.withLock { $0 }
        #expect(written.first == "<6>worker started\n")
        let stamped = try? #require(written.last)
        #expect(stamped?.hasSuffix(" worker started\n") == true && stamped?.first?.isNumber == true, "\(written)")
    }
}
