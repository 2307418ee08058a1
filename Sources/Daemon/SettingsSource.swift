import ConfigurationFile

/// Where the daemon's settings come from: an optional configuration file and the command-line
/// flags, read again on every SIGHUP so that flags keep winning over the file.
public struct SettingsSource: Sendable {
    /// The file to read; nil means the installed one, which may be missing.
    public var file: String?
    /// (flag, value) pairs from the command line, such as ("--workers", "4").
    public var flags: [Flag]

    public struct Flag: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(file: String?, flags: [Flag]) {
        self.file = file
        self.flags = flags
    }

    /// The path read, and whether a file was there.
    public var path: String { file ?? DaemonSettings.defaultPath }

    /// Defaults, then the file (refused unless only root or the daemon can write it), then the flags.
    public func load() throws(DaemonSettings.Problem) -> (settings: DaemonSettings, fileFound: Bool) {
        var settings = DaemonSettings()
        let text: String?
        do {
            text = try TrustedFile.read(path, mayBeMissing: file == nil)
        } catch {
            throw DaemonSettings.Problem(description: "\(error)")
        }
        if let text { try settings.apply(file: text, path: path) }
        try settings.apply(flags: flags.map { (flag: $0.name, value: $0.value) })
        try settings.validate()
        return (settings, text != nil)
    }
}
