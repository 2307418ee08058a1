import Glibc
import Logging
import Synchronization

/// twofactord's log lines on standard error: one line per event, `message key=value ...`.
///
/// MUSTs:
/// - One event is one line, written with one write(2): newlines in a message or value are escaped,
///   so nothing a client sends can forge a second line.
/// - Under systemd ($JOURNAL_STREAM set) each line starts with its syslog priority as `<N>` (the
///   form sd-daemon(3) describes) and carries no timestamp, which the journal adds; otherwise
///   lines start with a UTC timestamp and the level's name.
/// - The level is shared by every logger of the process and can change while it runs (SIGHUP).
public struct DaemonLogHandler: LogHandler {
    /// The threshold shared by all handlers, changed by a configuration reload.
    public final class Threshold: Sendable {
        private let level: Atomic<UInt8>

        public init(_ level: Logger.Level) { self.level = Atomic(Self.index(level)) }

        public var current: Logger.Level {
            get { Logger.Level.allCases[Int(level.load(ordering: .relaxed))] }
            set { level.store(Self.index(newValue), ordering: .relaxed) }
        }

        private static func index(_ level: Logger.Level) -> UInt8 {
            UInt8(Logger.Level.allCases.firstIndex(of: level) ?? 2)
        }
    }

    public let threshold: Threshold
    public let journal: Bool
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    /// `journal` defaults to whether systemd connected standard error to the journal.
    public init(threshold: Threshold, journal: Bool = getenv("JOURNAL_STREAM") != nil) {
        self.threshold = threshold
        self.journal = journal
    }

    public var logLevel: Logger.Level {
        get { threshold.current }
        set { threshold.current = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        guard event.level >= threshold.current else { return }
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let line = Self.format(level: event.level, message: "\(event.message)", metadata: all, journal: journal)
        let bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written > 0 {
                offset += written
            } else if !(written < 0 && errno == EINTR) {
                return
            }
        }
    }

    /// The line for one event, ending in "\n".
    static func format(level: Logger.Level, message: String, metadata: Logger.Metadata, journal: Bool) -> String {
        var line = journal ? "<\(priority(level))>" : "\(timestamp()) \(level.rawValue): "
        line += escaped(message)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(escaped(key))=\(escaped("\(value)"))"
        }
        return line + "\n"
    }

    /// The syslog(3) priority of a level: LOG_DEBUG 7 down to LOG_CRIT 2.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func escaped(_ text: String) -> String {
        guard text.contains(where: { $0.isNewline || $0 == "\\" }) else { return text }
        var result = ""
        for character in text {
            switch character {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\\": result += "\\\\"
            case _ where character.isNewline: result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }

    static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
