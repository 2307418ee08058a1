import AccountService
import AccountStore
import Authentication
import ConfigurationFile
import Logging
import PasswordHashing

/// Everything an operator may set, from three sources in rising order: the built-in defaults,
/// the configuration file (twofactord.conf(5)), and command-line flags.
///
/// MUSTs:
/// - Every key of the file is also a flag, and one table (`keys`) defines both, so they cannot drift:
///   a key in [daemon] is the flag `--KEY`, a key in another section the flag `--SECTION-KEY`.
/// - A flag wins over the file; an unknown key or section is an error, never ignored.
/// - `reloadable` keys take effect on SIGHUP; a change to any other key is logged as needing a restart.
public struct DaemonSettings: Sendable, Equatable {
    public var socket = "/run/twofactord/socket"
    public var socketMode: UInt32 = 0o666
    public var stateDirectory = "/var/lib/twofactord"
    /// nil: the systemd credential twofactord-key when present, else secrets.key in the state directory.
    public var secretsKeyFile: String?
    /// A `postgresql://` URL for a store shared by a fleet of hosts; nil: LMDB in the state directory.
    public var store: String?
    /// The file holding the PostgreSQL password; nil: the systemd credential twofactord-db-password, if any.
    public var storePasswordFile: String?
    public var operatorGroup = "twofactord-operators"
    /// Members may check a code without a password (pam_twofactor.so code_only); nil: root and operators only.
    public var codeCheckGroup: String?
    public var workers = 2
    public var maximumConnections = 1000
    /// Seconds a client may take to send one request once it started it, and to read an answer the daemon wrote.
    public var requestDeadline: Int64 = 10
    public var enrollmentLifetime: Int64 = 900
    public var auditRetention: AuditRetention = .standard
    public var scryptLogN: UInt8 = ScryptCost.owasp.logN
    public var issuer = "twofactord"
    public var logLevel: Logger.Level = .info
    public var throttle: ThrottlePolicy = .standard
    /// Seconds a login that checked a code spares later logins from its host or session the code; 0: off.
    public var gracePeriod: Int64 = 0
    /// The longest grace period the daemon or an organization may set: one day.
    public static let maximumGracePeriod = AccountService.maximumGracePeriod
    /// The largest clock drift, in steps, an authenticator learns from its accepted codes.
    public var maximumDriftSteps: Int32 = DriftPolicy.defaultMaximumDrift
    /// Seconds a connection acts for the account it logged in as; then it must log in again.
    public var sessionLifetime: Int64 = ServiceConfiguration.defaultSessionLifetime

    /// The installed configuration file, read when it exists.
    public static let defaultPath = "/etc/twofactord/twofactord.conf"

    public init() {}

    /// One setting: where it lives in the file, its flag, and how to read and show it.
    public struct Key: Sendable {
        public let section: String
        public let name: String
        public let reloadable: Bool
        let parse: @Sendable (inout DaemonSettings, String) -> String?
        let show: @Sendable (DaemonSettings) -> String

        /// Sets this key in `settings` to its value in `source`.
        func copy(from source: DaemonSettings, to settings: inout DaemonSettings) {
            _ = parse(&settings, show(source))
        }

        /// The command-line flag that sets the same value.
        public var flag: String { section == "daemon" ? "--\(name)" : "--\(section)-\(name)" }
    }

    /// Why a value was refused; `description` says where it came from and what is allowed.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Applies a configuration file's text; `path` names the file in errors.
    public mutating func apply(file text: String, path: String) throws(Problem) {
        let parsed: ConfigurationText
        do {
            parsed = try ConfigurationText(parsing: text)
        } catch {
            throw Problem(description: "\(path) \(error)")
        }
        for entry in parsed.entries {
            guard let key = Self.keys.first(where: { $0.section == entry.section && $0.name == entry.key }) else {
                let known = Self.keys.filter { $0.section == entry.section }.map(\.name)
                let hint =
                    known.isEmpty
                    ? "sections are \(Set(Self.keys.map(\.section)).sorted().map { "[\($0)]" }.joined(separator: ", "))"
                    : "keys of [\(entry.section)] are \(known.joined(separator: ", "))"
                throw Problem(
                    description: "\(path) line \(entry.line): unknown key '\(entry.key)' in [\(entry.section)]; \(hint)"
                )
            }
            if let reason = key.parse(&self, entry.value) {
                throw Problem(description: "\(path) line \(entry.line): \(entry.key) \(reason)")
            }
        }
    }

    /// Applies flags given on the command line, as (flag, value) pairs such as ("--workers", "4").
    public mutating func apply(flags: [(flag: String, value: String)]) throws(Problem) {
        for (flag, value) in flags {
            guard let key = Self.keys.first(where: { $0.flag == flag }) else {
                throw Problem(description: "\(flag) is not a setting")
            }
            if let reason = key.parse(&self, value) { throw Problem(description: "\(flag) \(reason)") }
        }
    }

    /// Checks what no single key can: the throttle's delays must grow.
    public func validate() throws(Problem) {
        guard throttle.maximumDelay >= throttle.baseDelay else {
            throw Problem(
                description:
                    "throttle max-delay (\(throttle.maximumDelay)) is shorter than base-delay (\(throttle.baseDelay))"
            )
        }
    }

    /// The settings as a configuration file that reads back to the same values (`--check-config`).
    public func rendered() -> String {
        var text = ""
        var section = ""
        for key in Self.keys {
            if key.section != section {
                text += (section.isEmpty ? "" : "\n") + "[\(key.section)]\n"
                section = key.section
            }
            text += "\(key.name) = \(key.show(self))\n"
        }
        return text
    }

    /// The keys whose values differ between `self` and `other`.
    public func changedKeys(comparedTo other: DaemonSettings) -> [Key] {
        Self.keys.filter { $0.show(self) != $0.show(other) }
    }
}

extension DaemonSettings {
    /// The one table of settings; twofactord.conf(5) documents each.
    public static let keys: [Key] = [
        Key(
            section: "daemon",
            name: "socket",
            reloadable: false,
            parse: { settings, value in
                guard value.hasPrefix("/") else { return "must be an absolute path" }
                settings.socket = value
                return nil
            },
            show: { $0.socket }
        ),
        Key(
            section: "daemon",
            name: "socket-mode",
            reloadable: false,
            parse: { settings, value in
                guard let mode = UInt32(value, radix: 8), mode <= 0o777 else {
                    return "takes an octal mode such as 0660"
                }
                settings.socketMode = mode
                return nil
            },
            show: { "0" + String($0.socketMode, radix: 8) }
        ),
        Key(
            section: "daemon",
            name: "state-dir",
            reloadable: false,
            parse: { settings, value in
                guard value.hasPrefix("/") else { return "must be an absolute path" }
                settings.stateDirectory = value
                return nil
            },
            show: { $0.stateDirectory }
        ),
        Key(
            section: "daemon",
            name: "secrets-key-file",
            reloadable: false,
            parse: { settings, value in
                // Empty: the default place (a systemd credential, else the state directory).
                guard value.isEmpty || value.hasPrefix("/") else { return "must be an absolute path, or empty" }
                settings.secretsKeyFile = value.isEmpty ? nil : value
                return nil
            },
            show: { $0.secretsKeyFile ?? "" }
        ),
        Key(
            section: "daemon",
            name: "store",
            reloadable: false,
            parse: { settings, value in
                // Empty: LMDB in the state directory. The URL is read in full when the store opens.
                guard value.isEmpty || StoreLocation.isPostgresURL(value) else {
                    return "must be a postgresql:// URL, or empty for LMDB in the state directory"
                }
                let parts = value.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
                let authority = parts.count > 2 ? parts[2] : ""
                let userInfo = authority.lastIndex(of: "@").map { authority[..<$0] } ?? ""
                if userInfo.contains(":") || value.contains("password=") {
                    return "must not carry a password: put it in store-password-file or the systemd credential "
                        + "twofactord-db-password"
                }
                settings.store = value.isEmpty ? nil : value
                return nil
            },
            show: { $0.store ?? "" }
        ),
        Key(
            section: "daemon",
            name: "store-password-file",
            reloadable: false,
            parse: { settings, value in
                guard value.isEmpty || value.hasPrefix("/") else { return "must be an absolute path, or empty" }
                settings.storePasswordFile = value.isEmpty ? nil : value
                return nil
            },
            show: { $0.storePasswordFile ?? "" }
        ),
        Key(
            section: "daemon",
            name: "operator-group",
            reloadable: false,
            parse: { settings, value in
                guard !value.isEmpty else { return "must name a group" }
                settings.operatorGroup = value
                return nil
            },
            show: { $0.operatorGroup }
        ),
        Key(
            section: "daemon",
            name: "code-check-group",
            reloadable: false,
            parse: { settings, value in
                settings.codeCheckGroup = value.isEmpty ? nil : value
                return nil
            },
            show: { $0.codeCheckGroup ?? "" }
        ),
        .integer("daemon", "workers", reloadable: false, \.workers, in: 1...64),
        .integer("daemon", "max-connections", reloadable: false, \.maximumConnections, in: 2...1_000_000),
        .integer("daemon", "request-deadline", reloadable: false, \.requestDeadline, in: 1...3600, unit: " seconds"),
        .integer("daemon", "scrypt-log-n", reloadable: false, \.scryptLogN, in: 10...22),
        Key(
            section: "daemon",
            name: "issuer",
            reloadable: true,
            parse: { settings, value in
                guard !value.isEmpty, !value.contains(":"), value.unicodeScalars.allSatisfy(isPrintable) else {
                    return "must be a non-empty name of printable characters, without ':'"
                }
                settings.issuer = value
                return nil
            },
            show: { $0.issuer }
        ),
        .integer(
            "daemon",
            "max-drift-steps",
            reloadable: true,
            \.maximumDriftSteps,
            in: 0...Int32(DriftPolicy.defaultResyncRange),
            unit: " steps"
        ),
        Key(
            section: "daemon",
            name: "log-level",
            reloadable: true,
            parse: { settings, value in
                guard let level = Logger.Level(rawValue: value) else {
                    return "must be trace, debug, info, notice, warning, error or critical"
                }
                settings.logLevel = level
                return nil
            },
            show: { $0.logLevel.rawValue }
        ),
        Key(
            section: "daemon",
            name: "grace-period",
            reloadable: true,
            parse: { settings, value in
                guard let seconds = Int64(value), (0...DaemonSettings.maximumGracePeriod).contains(seconds) else {
                    return "must be 0 (off) to \(DaemonSettings.maximumGracePeriod) seconds"
                }
                settings.gracePeriod = seconds
                return nil
            },
            show: { "\($0.gracePeriod)" }
        ),
        .integer("daemon", "session-lifetime", reloadable: true, \.sessionLifetime, in: 60...86_400, unit: " seconds"),
        .integer("throttle", "free-failures", reloadable: true, \.throttle.freeFailures, in: 0...1000),
        .integer("throttle", "base-delay", reloadable: true, \.throttle.baseDelay, in: 1...86_400, unit: " seconds"),
        .integer("throttle", "max-delay", reloadable: true, \.throttle.maximumDelay, in: 1...604_800, unit: " seconds"),
        .integer("enrollment", "lifetime", reloadable: true, \.enrollmentLifetime, in: 60...86_400, unit: " seconds"),
        Key(
            section: "audit",
            name: "max-records",
            reloadable: false,
            parse: { settings, value in
                guard let count = UInt64(value), count >= 1 else { return "must be at least 1" }
                settings.auditRetention.maximumRecords = count
                return nil
            },
            show: { "\($0.auditRetention.maximumRecords)" }
        ),
        Key(
            section: "audit",
            name: "max-days",
            reloadable: false,
            parse: { settings, value in
                guard let days = Int64(value), (1...36_500).contains(days) else { return "must be 1 to 36500" }
                settings.auditRetention.maximumAge = days * 86_400
                return nil
            },
            show: { "\($0.auditRetention.maximumAge / 86_400)" }
        ),
    ]
}

extension DaemonSettings.Key {
    /// A key holding a whole number within `range`; `unit` (such as " seconds") follows the bounds in the error.
    static func integer<Number: FixedWidthInteger & Sendable>(
        _ section: String,
        _ name: String,
        reloadable: Bool,
        _ path: WritableKeyPath<DaemonSettings, Number> & Sendable,
        in range: ClosedRange<Number>,
        unit: String = ""
    ) -> Self {
        Self(
            section: section,
            name: name,
            reloadable: reloadable,
            parse: { settings, value in
                guard let number = Number(value), range.contains(number) else {
                    return "must be \(range.lowerBound) to \(range.upperBound)\(unit)"
                }
                settings[keyPath: path] = number
                return nil
            },
            show: { "\($0[keyPath: path])" }
        )
    }
}

/// Whether `scalar` shows as itself: not a control character (C0, DEL, C1, NUL), a format character (such as a
/// bidirectional override) or a line or paragraph separator, none of which belongs in a name shown to users.
private func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned: false
    default: true
    }
}
