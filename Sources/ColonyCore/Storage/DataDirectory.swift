import Foundation

/// The peer's data directory: identity, node ID, routing table, blobs, custody records, checkpoints.
///
/// Its location is, in order: the `--data-dir` flag, the `COLONY_DATA_DIR` environment variable, `~/.colony`.
/// The folder is private to its owner (0700): it holds the identity key.
public struct DataDirectory: Sendable, Hashable {
    /// The environment variable that overrides the default location.
    public static let environmentVariable = "COLONY_DATA_DIR"

    /// The folder itself.
    public let url: URL

    /// The data directory at `url`.
    public init(url: URL) {
        self.url = url.standardizedFileURL
    }

    /// Resolves the location from a flag value, then the environment, then the home folder.
    public static func resolve(
        flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> DataDirectory {
        if let flag, !flag.isEmpty { return DataDirectory(url: URL(fileURLWithPath: expandTilde(flag))) }
        if let value = environment[environmentVariable], !value.isEmpty {
            return DataDirectory(url: URL(fileURLWithPath: expandTilde(value)))
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return DataDirectory(url: URL(fileURLWithPath: home).appendingPathComponent(".colony"))
    }

    /// Creates the folder (mode 0700) if it does not exist yet.
    public func create() throws(FileSystemError) {
        try AtomicFile.createFolder(url, mode: 0o700)
    }

    /// A sub-folder, created on demand: `folder("runs")`.
    public func folder(_ components: String...) throws(FileSystemError) -> URL {
        try create()
        var result = url
        for component in components { result.appendPathComponent(component, isDirectory: true) }
        try AtomicFile.createFolder(result, mode: 0o700)
        return result
    }

    private static func expandTilde(_ path: String) -> String {
        (path as NSString).expandingTildeInPath
    }
}
