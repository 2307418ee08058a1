import Foundation
import Testing

/// The load generator `twofactor-bench` against a real daemon: a test of the tool's answers, never
/// of the machine's speed (no figure it measures is compared with a limit).
@Suite struct BenchmarkToolTests {
    /// The keys `twofactor-bench --json` promises to scripts (issue 9).
    static let promisedKeys = ["checks_per_s", "p50_us", "p99_us", "p999_us", "errors", "daemon_peak_rss_kib"]

    /// Runs the bench briefly with `arguments` after the mode and returns its JSON object.
    static func bench(_ mode: String, _ arguments: [String]) throws -> (status: Int32, json: [String: Any]) {
        let result = try run(
            Binaries.url("twofactor-bench"),
            [mode, "--connections", "2", "--seconds", "2", "--accounts", "12", "--json"] + arguments
        )
        let lines = result.standardOutput.split(separator: "\n")
        #expect(lines.count == 1, "one JSON object on one line:\n\(result.standardOutput)\n\(result.standardError)")
        let object = try JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8))
        let json = try #require(object as? [String: Any], "\(result.standardOutput)\n\(result.standardError)")
        return (result.status, json)
    }

    static func int(_ json: [String: Any], _ key: String) -> Int { (json[key] as? NSNumber)?.intValue ?? -1 }

    @Test func verify_againstARunningDaemon_acceptsEveryValidCode_andReportsThePromisedFields() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let pid = try #require(daemon.process?.processIdentifier)
        let (status, json) = try Self.bench("verify", ["--socket", daemon.socketPath, "--daemon-pid", "\(pid)"])

        for key in Self.promisedKeys { #expect(json[key] is NSNumber, "\(key) is missing or not a number: \(json)") }
        #expect(status == 0, "\(json)")
        #expect(Self.int(json, "errors") == 0, "\(json)\n\(daemon.log())")
        #expect(Self.int(json, "valid_accepted") > 0, "\(json)")
        #expect(Self.int(json, "valid_accepted") == Self.int(json, "valid_sent"), "\(json)")
        #expect(Self.int(json, "requests") == Self.int(json, "valid_sent"), "verify sends only valid codes: \(json)")
        #expect(Self.int(json, "daemon_peak_rss_kib") > 0, "\(json)")
        #expect(Self.int(json, "p50_us") <= Self.int(json, "p99_us"), "\(json)")
        #expect(Self.int(json, "p99_us") <= Self.int(json, "p999_us"), "\(json)")
    }

    @Test func replay_withItsOwnDaemon_reportsEveryReplayDenied() throws {
        let (status, json) = try Self.bench("replay", [])
        #expect(status == 0, "\(json)")
        #expect(Self.int(json, "replays_sent") > 0, "\(json)")
        #expect(Self.int(json, "replays_denied") == Self.int(json, "replays_sent"), "\(json)")
        #expect(Self.int(json, "bad_accepted") == 0, "\(json)")
        #expect(
            Self.int(json, "valid_accepted") == Self.int(json, "replays_sent"),
            "each accepted code is replayed: \(json)"
        )
        #expect(Self.int(json, "errors") == 0, "\(json)")
        #expect(Self.int(json, "daemon_peak_rss_kib") > 0, "the bench started the daemon, so it knows its pid: \(json)")
    }

    @Test func mixed_deniesEveryWrongCode_andAcceptsEveryValidOne() throws {
        let (status, json) = try Self.bench("mixed", [])
        #expect(status == 0, "\(json)")
        #expect(Self.int(json, "wrong_sent") > 0, "\(json)")
        #expect(Self.int(json, "wrong_sent") * 10 <= Self.int(json, "requests") + 10, "one check in ten: \(json)")
        #expect(Self.int(json, "wrong_denied") == Self.int(json, "wrong_sent"), "\(json)")
        #expect(Self.int(json, "valid_accepted") == Self.int(json, "valid_sent"), "\(json)")
        #expect(Self.int(json, "errors") == 0, "\(json)")
    }
}

extension BenchmarkToolTests {
    @Test func login_withPasswordAndCode_acceptsEveryValidLogin() throws {
        let (status, json) = try Self.bench("login", [])
        #expect(status == 0, "\(json)")
        #expect(Self.int(json, "valid_accepted") > 0, "\(json)")
        #expect(Self.int(json, "valid_accepted") == Self.int(json, "valid_sent"), "\(json)")
        #expect(Self.int(json, "errors") == 0, "\(json)")
    }
}

extension BenchmarkToolTests {
    @Test func login_measuresRawScryptInTheSameRun_andReportsLoginsAsAFractionOfIt() throws {
        let (status, json) = try Self.bench("login", ["--raw-scrypt-seconds", "0.3", "--workers", "1"])
        #expect(status == 0, "\(json)")
        let raw = try #require((json["raw_scrypt_per_s"] as? NSNumber)?.doubleValue, "\(json)")
        let before = try #require((json["raw_scrypt_before_per_s"] as? NSNumber)?.doubleValue, "\(json)")
        let after = try #require((json["raw_scrypt_after_per_s"] as? NSNumber)?.doubleValue, "\(json)")
        let fraction = try #require((json["of_raw_scrypt"] as? NSNumber)?.doubleValue, "\(json)")
        let logins = try #require((json["checks_per_s"] as? NSNumber)?.doubleValue, "\(json)")
        #expect(before > 0 && after > 0, "\(json)")
        #expect(abs(raw - (before + after) / 2) <= 0.1, "the rate is the mean of both measurements: \(json)")
        #expect(Self.int(json, "raw_scrypt_threads") == 1, "one thread per hash the daemon runs at once: \(json)")
        #expect(abs(fraction - logins / raw) <= 0.001, "\(json)")
    }

    @Test func rawScrypt_isMeasuredOnlyForLogins_andNotWhenSkipped() throws {
        let (_, verify) = try Self.bench("verify", ["--raw-scrypt-seconds", "0.3"])
        let (_, skipped) = try Self.bench("login", ["--raw-scrypt-seconds", "0"])
        for json in [verify, skipped] {
            #expect(json["raw_scrypt_per_s"] is NSNull, "\(json)")
            #expect(json["of_raw_scrypt"] is NSNull, "\(json)")
        }
    }
}
