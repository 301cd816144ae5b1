import ColonyCore
import ColonyKernel
import Foundation
import Testing

@testable import ColonyWork

@Suite struct RunStoreTests {
    let dataDirectory = DataDirectory(
        url: FileManager.default.temporaryDirectory.appendingPathComponent("colony-runstore-\(UUID().uuidString)"))

    @Test func outputsAndCheckpointsSurviveANewStore() throws {
        defer { try? FileManager.default.removeItem(at: dataDirectory.url) }
        var store: RunStore? = try RunStore(dataDirectory: dataDirectory, workID: "abc")
        try store?.saveCheckpoint(Data("half".utf8), unit: 3)
        try store?.saveOutput(Data("done".utf8), unit: 1)
        store = nil
        let reopened = try RunStore(dataDirectory: dataDirectory, workID: "abc")
        #expect(try reopened.checkpoint(unit: 3) == Data("half".utf8))
        #expect(try reopened.output(unit: 1) == Data("done".utf8))
        #expect(try reopened.output(unit: 3) == nil)
        #expect(reopened.counts() == (1, 1))
    }

    @Test func aSecondStoreForTheSameRunIsRefusedUntilTheFirstCloses() throws {
        defer { try? FileManager.default.removeItem(at: dataDirectory.url) }
        var first: RunStore? = try RunStore(dataDirectory: dataDirectory, workID: "abc")
        #expect(first != nil)
        let error = #expect(throws: RunLockedError.self) { try RunStore(dataDirectory: dataDirectory, workID: "abc") }
        #expect(error?.description.hasPrefix("another colony process is already computing this job") == true)
        _ = try RunStore(dataDirectory: dataDirectory, workID: "other")
        first = nil
        _ = try RunStore(dataDirectory: dataDirectory, workID: "abc")
    }

    @Test func savingAnOutputDropsTheCheckpoint() throws {
        defer { try? FileManager.default.removeItem(at: dataDirectory.url) }
        let store = try RunStore(dataDirectory: dataDirectory, workID: "abc")
        try store.saveCheckpoint(Data("half".utf8), unit: 2)
        try store.saveOutput(Data("done".utf8), unit: 2)
        #expect(try store.checkpoint(unit: 2) == nil)
        #expect(store.counts() == (1, 0))
    }

    @Test func filesArePrivate() throws {
        defer { try? FileManager.default.removeItem(at: dataDirectory.url) }
        let store = try RunStore(dataDirectory: dataDirectory, workID: "abc")
        try store.saveOutput(Data("x".utf8), unit: 0)
        let attributes = try FileManager.default.attributesOfItem(
            atPath: store.folder.appendingPathComponent("unit-000000.out").path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let folder = try FileManager.default.attributesOfItem(atPath: dataDirectory.url.path)
        #expect((folder[.posixPermissions] as? Int) == 0o700)
    }

    @Test func aLocalRunResumesAndAssemblesThenClearsItsState() throws {
        defer { try? FileManager.default.removeItem(at: dataDirectory.url) }
        let registry = KernelRegistry([StepperKernel.self])
        let job = try PreparedJob(
            spec: JobSpec(kernel: "stepper", parameters: ["units": 6, "steps": 500]), registry: registry)
        let output = dataDirectory.url.appendingPathComponent("out")
        let run = try LocalRun(job: job, dataDirectory: dataDirectory, outputFolder: output)
        // Pretend an earlier run finished unit 2 with a wrong output: a rerun must reuse it, not recompute it.
        try run.store.saveOutput(KernelCoding.encode(UInt64(7)), unit: 2)
        #expect(run.earlierProgress.finished == 1)
        let result = try run.execute(with: WorkerEngine())
        #expect(result.engine.reused == 1)
        #expect(result.engine.computed == 5)
        let summary = try #require(result.summary)
        #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("fold.txt").path))
        #expect(summary.files.count == 1)
        #expect(!FileManager.default.fileExists(atPath: run.store.folder.path))
    }
}

@Suite struct AtomicFileTests {
    @Test func writesReplaceAtomicallyWithTheGivenMode() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-atomic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try AtomicFile.createFolder(folder)
        let file = folder.appendingPathComponent("key")
        try AtomicFile.write(Data("one".utf8), to: file, mode: 0o600)
        try AtomicFile.write(Data("two".utf8), to: file, mode: 0o600)
        #expect(try AtomicFile.read(file) == Data("two".utf8))
        #expect((try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int) == 0o600)
        // No temporary files are left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["key"])
    }

    @Test func writingIntoAMissingFolderNamesThePath() {
        let error = #expect(throws: FileSystemError.self) {
            try AtomicFile.write(Data(), to: URL(fileURLWithPath: "/nonexistent-colony/x"))
        }
        #expect(error?.description.contains("/nonexistent-colony/") == true)
    }

    @Test func theDataDirectoryIsResolvedFlagFirst() {
        let environment = ["COLONY_DATA_DIR": "/env/dir", "HOME": "/home/u"]
        #expect(DataDirectory.resolve(flag: "/flag/dir", environment: environment).url.path == "/flag/dir")
        #expect(DataDirectory.resolve(flag: nil, environment: environment).url.path == "/env/dir")
        #expect(DataDirectory.resolve(flag: nil, environment: ["HOME": "/home/u"]).url.path == "/home/u/.colony")
    }
}
