import ColonyCore
import Foundation
import Testing

/// Issue 12: two processes ran on one data directory with one identity, and nothing warned. A serving command
/// claims its data directory; a second is refused, exit 1, naming the holder; one-shot commands still run beside it.
@Suite(.serialized) struct DataDirectoryLockTests {
    @Test func aSecondServingProcessOnOneDataDirectoryIsRefusedNamingTheFirst() throws {
        let colony = try #require(colonyExecutable())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-lock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let support = BlobSwarmTests()
        let (first, output) = try support.start(
            colony, ["dht", "serve", "--host", "127.0.0.1", "--port", "0", "--json", "--data-dir", folder.path])
        defer {
            if first.isRunning {
                first.terminate()
                first.waitUntilExit()
            }
        }
        let line = try #require(support.firstLine(of: output), "the first node starts")
        #expect(line.contains("endpoint"))

        for arguments in [
            ["dht", "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir", folder.path],
            ["node", "--host", "127.0.0.1", "--port", "0", "--no-local-discovery", "--data-dir", folder.path],
            ["worker", "--host", "127.0.0.1", "--port", "0", "--no-local-discovery", "--data-dir", folder.path],
        ] {
            let (status, text) = try support.run(colony, arguments)
            #expect(status == 1, "\(arguments): \(text)")
            #expect(text.contains("data directory \(folder.standardizedFileURL.path) is in use"), "\(text)")
            #expect(text.contains("pid \(first.processIdentifier), colony dht serve"), "\(text)")
            #expect(text.contains("--data-dir"), "\(text)")
        }
        // A one-shot command beside it works.
        let (status, text) = try support.run(colony, ["blob", "ls", "--data-dir", folder.path])
        #expect(status == 0, "\(text)")

        // Killed without warning, the holder's lock goes with it: the next process takes the directory.
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let lock = try DataDirectoryLock.acquire(DataDirectory(url: folder), command: "test")
        lock.release()
    }
}
