import Foundation
import Testing
import TestSupport

/// A running daemon with two organizations, as an operator (root, the test) set them up:
/// `acme` with its admin `amy` and agents `ann` and `bob`, and `other` with its agent `olga`. amy may add
/// agents of any name (`org set acme --agent-name '*'`). Every account's password is `<name>-Passw0rd!`.
final class OrganizationFixture {
    let daemon: DaemonProcess
    /// The secrets key's folder of a daemon on PostgreSQL, kept as long as the daemon runs.
    private let keys = TemporaryDirectory()

    /// The daemon serves from its own LMDB state directory, or with `postgresql`, from a database of its own
    /// on the shared test cluster.
    init(postgresql: Bool = false) throws {
        daemon = try DaemonProcess()
        if postgresql {
            let cluster = try PostgresCluster.shared.get()
            try daemon.start(
                extraArguments: FleetTests.storeArguments(
                    url: try cluster.makeDatabase(),
                    cluster: cluster,
                    keyDirectory: keys
                )
            )
        } else {
            try daemon.start()
        }
        for organization in ["acme", "other"] {
            let added = try daemon.ctl(["org", "add", organization])
            guard added.status == 0 else { throw Failure("org add: \(added.standardError)") }
        }
        let allowed = try daemon.ctl(["org", "set", "acme", "--agent-name", "*"])
        guard allowed.status == 0 else { throw Failure("org set: \(allowed.standardError)") }
        try add("amy", organization: "acme", role: "admin")
        try add("ann", organization: "acme")
        try add("bob", organization: "acme")
        try add("olga", organization: "other")
    }

    func password(_ name: String) -> String { "\(name)-Passw0rd!" }

    func add(_ name: String, organization: String, role: String = "agent") throws {
        let added = try daemon.ctl(
            ["user", "add", name, "--org", organization, "--role", role, "--password-stdin"],
            input: password(name) + "\n"
        )
        guard added.status == 0 else { throw Failure("user add \(name): \(added.standardError)") }
    }

    /// Runs twofactorctl as `account` (`--as`, its password on standard input, and `code` after it when
    /// given), or as the operator when `account` is nil. `input` follows on standard input.
    func ctl(
        _ arguments: [String],
        as account: String? = nil,
        code: String? = nil,
        input: String = ""
    ) throws
        -> CommandResult
    {
        guard let account else { return try daemon.ctl(arguments, input: input) }
        var all = arguments + ["--as", account, "--password-stdin"]
        var standardInput = password(account) + "\n"
        if let code {
            all += ["--code", "-"]
            standardInput += code + "\n"
        }
        return try daemon.ctl(all, input: standardInput + input)
    }

    /// The account as `user show --json` reports it to the operator.
    func show(_ name: String) throws -> [String: Any] {
        let shown = try daemon.ctl(["user", "show", name, "--json"])
        guard shown.status == 0,
            let object = try JSONSerialization.jsonObject(with: Data(shown.standardOutput.utf8))
                as? [String: Any]
        else { throw Failure("user show \(name): \(shown.standardError)") }
        return object
    }

    /// The two-factor state as `off`, `pending`, `on/self` or `on/enforced`.
    func state(_ name: String) throws -> String {
        let account = try show(name)
        let state = account["twoFactor"] as? String ?? "?"
        guard let enabledBy = account["enabledBy"] as? String else { return state }
        return state + "/" + enabledBy
    }

    /// The account enrolls itself with `2fa enable --as`, at a period of an hour so that the next step's
    /// code is valid now. Returns the secret, the confirmed step and the recovery codes.
    func enable(_ name: String) throws -> (secret: String, step: Int64, recoveryCodes: [String]) {
        let begun = try ctl(["2fa", "enable", "--begin", "--period", "3600"], as: name)
        let uri = begun.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        guard begun.status == 0, let secret = secretParameter(ofURI: uri) else {
            throw Failure("2fa enable --begin: \(begun.standardError)")
        }
        let now = unixNow()
        let code = try OathTool.code(secret: secret, at: now, period: 3600)
        let confirmed = try ctl(["2fa", "enable", "--confirm", "-", "--json"], as: name, input: code + "\n")
        guard confirmed.status == 0,
            let object = try JSONSerialization.jsonObject(with: Data(confirmed.standardOutput.utf8)) as? [String: Any],
            let codes = object["recoveryCodes"] as? [String]
        else { throw Failure("2fa enable --confirm: \(confirmed.standardError) \(confirmed.standardOutput)") }
        return (secret, now / 3600, codes)
    }

    /// The code of the step after `step` at an hour's period: accepted once, right now.
    func nextCode(_ secret: String, after step: Int64) throws -> String {
        try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
    }

    /// Logs in with `twofactor login` as a person would, scanning the QR code of a pending account and
    /// typing the first code. Returns the result and the secret it scanned.
    func loginEnrolling(_ name: String) throws -> (result: CommandResult, secret: String?) {
        var secret: String?
        let result = try runInteractive(
            Binaries.url("twofactor"),
            ["login", "--socket", daemon.socketPath, name],
            firstInput: password(name) + "\n",
            markerOnStandardError: true,
            marker: "URI: "
        ) { shown in
            let uri = try #require(line(after: "URI: ", in: shown))
            secret = secretParameter(ofURI: uri)
            return try OathTool.code(secret: secret!, at: unixNow()) + "\n"
        }
        return (result, secret)
    }

    /// The audit trail as `audit --json` shows it to `account` (the operator when nil).
    func audit(as account: String? = nil, code: String? = nil, _ arguments: [String] = []) throws -> [[String: Any]] {
        let result = try ctl(["audit", "--json"] + arguments, as: account, code: code)
        guard result.status == 0,
            let records = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]]
        else { throw Failure("audit: \(result.standardError)") }
        return records
    }
}
