import CommandLineUI

/// The figures of one run. `json` is the machine-readable form (`--json`); `text` the human one.
public struct BenchReport: Sendable {
    public var mode: BenchMode
    public var connections: Int
    public var accounts: Int
    public var period: Int
    public var setupSeconds: Double
    public var elapsedSeconds: Double
    public var daemonPeakRSSKiB: Int?
    /// Whether the accounts were written straight into the store (`--preload`) rather than through the protocol.
    public var preloaded = false
    /// The started daemon's `data.mdb` at the end of the run: its size, and the bytes it occupies on disk
    /// (as du counts them); nil with `--socket`.
    public var storeBytes: Int?
    public var storeDiskBytes: Int?
    /// In `login` mode, the machine's raw scrypt rate measured in the same run.
    public var rawScrypt: RawScryptRate?
    var tally: WorkerTally

    /// Every answered or failed request per second of the run (wrong codes and replays included).
    public var checksPerSecond: Double { elapsedSeconds > 0 ? Double(tally.requests) / elapsedSeconds : 0 }
    /// Logins per second as a fraction of the raw scrypt rate: what the daemon adds to each derivation.
    public var ofRawScrypt: Double? {
        rawScrypt.flatMap { $0.perSecond > 0 ? checksPerSecond / $0.perSecond : nil }
    }
    /// Requests that did not get the answer they must get: errors, transport failures, valid codes
    /// refused, wrong or replayed codes not denied.
    public var errors: Int { tally.errorResponses + tally.transportErrors + tally.validRefused + tally.badNotDenied }
    public var requests: Int { tally.requests }
    public var validAccepted: Int { tally.validAccepted }
    public var replaysSent: Int { tally.replaysSent }
    public var replaysDenied: Int { tally.replaysDenied }

    public mutating func percentileMicroseconds(_ fraction: Double) -> UInt32 { tally.latencies.percentile(fraction) }

    /// One JSON object on one line, keys in a fixed order.
    public mutating func json() -> String {
        let fields: [(String, String)] = [
            ("mode", quoted(mode.rawValue)),
            ("connections", "\(connections)"),
            ("accounts", "\(accounts)"),
            ("period_s", "\(period)"),
            ("setup_s", fixed(setupSeconds, 3)),
            ("elapsed_s", fixed(elapsedSeconds, 3)),
            ("requests", "\(tally.requests)"),
            ("checks_per_s", fixed(checksPerSecond, 1)),
            ("accepted_per_s", fixed(elapsedSeconds > 0 ? Double(tally.validAccepted) / elapsedSeconds : 0, 1)),
            ("p50_us", "\(percentileMicroseconds(0.5))"),
            ("p99_us", "\(percentileMicroseconds(0.99))"),
            ("p999_us", "\(percentileMicroseconds(0.999))"),
            ("max_us", "\(percentileMicroseconds(1))"),
            ("errors", "\(errors)"),
            ("error_responses", "\(tally.errorResponses)"),
            ("transport_errors", "\(tally.transportErrors)"),
            ("valid_sent", "\(tally.validSent)"),
            ("valid_accepted", "\(tally.validAccepted)"),
            ("valid_refused", "\(tally.validRefused)"),
            ("repeated_codes_skipped", "\(tally.repeatedCodesSkipped)"),
            ("wrong_sent", "\(tally.wrongSent)"),
            ("wrong_denied", "\(tally.wrongDenied)"),
            ("replays_sent", "\(tally.replaysSent)"),
            ("replays_denied", "\(tally.replaysDenied)"),
            ("bad_accepted", "\(tally.badAccepted)"),
            ("account_wait_s", fixed(tally.accountWaitSeconds, 3)),
            ("daemon_peak_rss_kib", daemonPeakRSSKiB.map { "\($0)" } ?? "null"),
            ("first_error", tally.firstError.map(quoted) ?? "null"),
            ("preloaded", preloaded ? "true" : "false"),
            ("store_bytes", storeBytes.map { "\($0)" } ?? "null"),
            ("store_disk_bytes", storeDiskBytes.map { "\($0)" } ?? "null"),
            ("raw_scrypt_per_s", rawScrypt.map { fixed($0.perSecond, 1) } ?? "null"),
            ("raw_scrypt_before_per_s", rawScrypt.map { fixed($0.before, 1) } ?? "null"),
            ("raw_scrypt_after_per_s", rawScrypt.map { fixed($0.after, 1) } ?? "null"),
            ("raw_scrypt_threads", rawScrypt.map { "\($0.threads)" } ?? "null"),
            ("of_raw_scrypt", ofRawScrypt.map { fixed($0, 3) } ?? "null"),
        ]
        return "{" + fields.map { quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// A few lines for a person.
    public mutating func text() -> String {
        var lines = [
            "\(mode.rawValue): \(connections) connections, \(accounts) accounts (period \(period) s), "
                + "setup \(fixed(setupSeconds, 1)) s, run \(fixed(elapsedSeconds, 2)) s",
            "  \(fixed(checksPerSecond, 1)) checks/s (\(tally.requests) requests, \(tally.validAccepted) accepted)",
            "  latency p50 \(percentileMicroseconds(0.5)) us, p99 \(percentileMicroseconds(0.99)) us, "
                + "p99.9 \(percentileMicroseconds(0.999)) us, max \(percentileMicroseconds(1)) us",
            "  errors \(errors) (error answers \(tally.errorResponses), transport \(tally.transportErrors), "
                + "valid codes refused \(tally.validRefused), "
                + "wrong or replayed codes not denied \(tally.badNotDenied))",
        ]
        if tally.repeatedCodesSkipped > 0 {
            lines.append(
                "  fresh steps skipped, their code being that of a step just used: \(tally.repeatedCodesSkipped)"
            )
        }
        if tally.wrongSent > 0 { lines.append("  wrong codes: \(tally.wrongSent) sent, \(tally.wrongDenied) denied") }
        if tally.replaysSent > 0 { lines.append("  replays: \(tally.replaysSent) sent, \(tally.replaysDenied) denied") }
        if tally.accountWaitSeconds > 0 {
            lines.append(
                "  connections waited \(fixed(tally.accountWaitSeconds, 2)) s in all for a fresh time step: "
                    + "use more --accounts to measure the daemon rather than the account pool"
            )
        }
        lines.append("  daemon peak RSS: " + (daemonPeakRSSKiB.map { "\($0) KiB" } ?? "unknown (pass --daemon-pid)"))
        if let storeBytes, let storeDiskBytes {
            let how = preloaded ? " (accounts preloaded)" : ""
            lines.append("  store: data.mdb \(storeBytes) bytes, \(storeDiskBytes) bytes on disk" + how)
        }
        if let rawScrypt, let ofRawScrypt {
            lines.append(
                "  raw scrypt on \(rawScrypt.threads) threads: \(fixed(rawScrypt.perSecond, 1))/s "
                    + "(\(fixed(rawScrypt.before, 1)) before the load, \(fixed(rawScrypt.after, 1)) after); "
                    + "logins reached \(fixed(ofRawScrypt * 100, 1))% of it"
            )
        }
        if let first = tally.firstError { lines.append("  first error: \(first)") }
        return lines.joined(separator: "\n")
    }
}

/// `value` with `places` decimals (no Foundation, so no String(format:)).
func fixed(_ value: Double, _ places: Int) -> String {
    var scale = 1.0
    for _ in 0..<places { scale *= 10 }
    let scaled = (value * scale).rounded()
    guard scaled.isFinite, abs(scaled) < 9e15 else { return "0" }
    let whole = Int(scaled)
    let sign = whole < 0 ? "-" : ""
    let magnitude = abs(whole)
    guard places > 0 else { return sign + String(magnitude) }
    var fraction = String(magnitude % Int(scale))
    while fraction.count < places { fraction = "0" + fraction }
    return sign + String(magnitude / Int(scale)) + "." + fraction
}

/// A JSON string literal.
func quoted(_ text: String) -> String { JSONValue.string(text).text }
