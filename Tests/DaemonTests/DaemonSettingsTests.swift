import Logging
import Synchronization
import Testing

@testable import Daemon

@Suite struct DaemonSettingsTests {
    @Test func file_setsKeys_andFlagsWin() throws {
        var settings = DaemonSettings()
        try settings.apply(
            file: "[daemon]\nworkers = 3\nlog-level = debug\n[throttle]\nfree-failures = 2\nmax-delay = 60\n",
            path: "/etc/t.conf"
        )
        try settings.apply(flags: [(flag: "--workers", value: "4"), (flag: "--throttle-base-delay", value: "10")])
        #expect(settings.workers == 4)
        #expect(settings.logLevel == .debug)
        #expect(settings.throttle.freeFailures == 2)
        #expect(settings.throttle.baseDelay == 10)
        #expect(settings.throttle.maximumDelay == 60)
        #expect(settings.socket == DaemonSettings().socket)
    }

    @Test func sessionLifetime_isAReloadableKey_fromAMinuteToADay() throws {
        #expect(DaemonSettings().sessionLifetime == 3600)
        var settings = DaemonSettings()
        try settings.apply(file: "[daemon]\nsession-lifetime = 600\n", path: "/etc/t.conf")
        #expect(settings.sessionLifetime == 600)
        #expect(throws: DaemonSettings.Problem.self) {
            try settings.apply(flags: [(flag: "--session-lifetime", value: "59")])
        }
        #expect(DaemonSettings.keys.first { $0.name == "session-lifetime" }?.reloadable == true)
    }

    @Test(arguments: [
        (
            "[daemon]\nwokers = 3\n",
            "/etc/t.conf line 2: unknown key 'wokers' in [daemon]; keys of [daemon] are socket,"
        ),
        (
            "[deamon]\nworkers = 3\n",
            "unknown key 'workers' in [deamon]; sections are [audit], [daemon], [enrollment], [throttle]"
        ),
        ("[daemon]\nworkers = many\n", "/etc/t.conf line 2: workers must be 1 to 64"),
        ("[daemon]\nsocket-mode = 999\n", "line 2: socket-mode takes an octal mode"),
        ("[daemon]\nlog-level = loud\n", "log-level must be trace, debug"),
        ("workers = 3\n", "/etc/t.conf line 1: 'workers' comes before any [section]"),
        // Audit round b, finding 4: control characters reached otpauth URIs, and a relative state directory
        // depended on the directory the daemon was started from.
        (
            "[daemon]\nissuer = tw\u{0}o\u{1b}[31mRED\n",
            "/etc/t.conf line 2: issuer must be a non-empty name of printable"
        ),
        ("[daemon]\nissuer = Example\u{7f}\n", "/etc/t.conf line 2: issuer must be a non-empty name of printable"),
        ("[daemon]\nissuer = Ex\u{202e}elpma\n", "/etc/t.conf line 2: issuer must be a non-empty name of printable"),
        ("[daemon]\n\nstate-dir = relative/dir\n", "/etc/t.conf line 3: state-dir must be an absolute path"),
    ])
    func file_refusesBadKeysAndValues_sayingWhere(text: String, message: String) {
        var settings = DaemonSettings()
        #expect {
            try settings.apply(file: text, path: "/etc/t.conf")
        } throws: { "\($0)".contains(message) }
    }

    @Test func flags_followTheFileRules_forTheIssuerAndTheStateDirectory() throws {
        for (flag, value) in [("--issuer", "tw\u{1b}[31mRED"), ("--issuer", "a\u{85}b"), ("--state-dir", "state")] {
            var settings = DaemonSettings()
            #expect("\(flag) \(value.debugDescription) is refused") {
                try settings.apply(flags: [(flag: flag, value: value)])
            } throws: { "\($0)".contains(flag) }
        }
        var settings = DaemonSettings()
        try settings.apply(flags: [
            (flag: "--issuer", value: "Exämple Corp · 東京"), (flag: "--state-dir", value: "/srv/tfd"),
        ])
        #expect(settings.issuer == "Exämple Corp · 東京" && settings.stateDirectory == "/srv/tfd")
    }

    @Test func validate_refusesAMaximumDelayBelowTheBase() throws {
        var settings = DaemonSettings()
        try settings.apply(flags: [
            (flag: "--throttle-base-delay", value: "100"), (flag: "--throttle-max-delay", value: "50"),
        ])
        #expect(throws: DaemonSettings.Problem.self) { try settings.validate() }
    }

    @Test func rendered_readsBackToTheSameSettings_andNamesEveryKey() throws {
        var settings = DaemonSettings()
        try settings.apply(
            flags: [
                (flag: "--socket-mode", value: "0660"), (flag: "--issuer", value: "Example Corp"),
                (flag: "--throttle-max-delay", value: "1800"),
            ]
        )
        let text = settings.rendered()
        var reread = DaemonSettings()
        try reread.apply(file: text, path: "rendered")
        #expect(reread == settings)
        #expect(text.contains("socket-mode = 0660\n"))
        for key in DaemonSettings.keys { #expect(text.contains("\n\(key.name) = "), "\(key.name)") }
    }

    /// max-drift-steps sat after [enrollment] in the key table, so --check-config printed a second [daemon].
    @Test func rendered_printsEachSectionHeaderOnce() {
        let headers = DaemonSettings().rendered().split(separator: "\n").filter { $0.hasPrefix("[") }.map(String.init)
        #expect(headers.count == Set(headers).count, "\(headers)")
        #expect(Set(headers) == Set(DaemonSettings.keys.map { "[\($0.section)]" }))
    }

    @Test func everyKeyHasItsOwnFlag() {
        let flags = DaemonSettings.keys.map(\.flag)
        #expect(Set(flags).count == flags.count)
        #expect(flags.contains("--state-dir") && flags.contains("--throttle-free-failures"))
    }
}

@Suite struct SettingsReloaderTests {
    final class Loader: Sendable {
        let next = Mutex<Result<DaemonSettings, DaemonSettings.Problem>>(.success(DaemonSettings()))
        let applied = Mutex<[DaemonSettings]>([])
    }

    static func reloader(_ loader: Loader) -> SettingsReloader {
        SettingsReloader(
            running: DaemonSettings(),
            load: { () throws(DaemonSettings.Problem) in try loader.next.withLock { $0 }.get() },
            apply: { settings in loader.applied.withLock { $0.append(settings) } },
            logger: Logger(label: "test")
        )
    }

    @Test func reload_appliesWhatCanChange_andNamesWhatNeedsARestart() throws {
        let loader = Loader()
        let reloader = Self.reloader(loader)
        var changed = DaemonSettings()
        try changed.apply(
            flags: [
                (flag: "--log-level", value: "debug"), (flag: "--throttle-free-failures", value: "1"),
                (flag: "--workers", value: "7"), (flag: "--socket", value: "/run/other"),
            ]
        )
        loader.next.withLock { $0 = .success(changed) }

        let needRestart = reloader.reload()
        #expect(needRestart == ["daemon.socket", "daemon.workers"])
        let applied = try #require(loader.applied.withLock { $0.last })
        #expect(applied.logLevel == .debug && applied.throttle.freeFailures == 1)
        #expect(applied.workers == DaemonSettings().workers && applied.socket == DaemonSettings().socket)
        #expect(reloader.current == applied)
    }

    @Test func reload_ofABadFile_keepsTheRunningSettings() {
        let loader = Loader()
        let reloader = Self.reloader(loader)
        loader.next.withLock { $0 = .failure(DaemonSettings.Problem(description: "refusing '/etc/x'")) }
        #expect(reloader.reload().isEmpty)
        #expect(loader.applied.withLock { $0.isEmpty })
        #expect(reloader.current == DaemonSettings())
    }
}
