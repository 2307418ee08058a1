import ArgumentParser
import CommandLineUI
import Glibc
import Wire

/// Reads one code: `-` or no argument reads a line of standard input (prompting without echo on a terminal).
private func readCode(prompt: String, options: CommonOptions) throws -> String {
    let typed = Terminal.standardInputIsTerminal ? Terminal.readSecret(prompt: prompt) : Terminal.readLine()
    guard let code = typed.map({ String(decoding: $0, as: UTF8.self).filter { $0 != " " } }), !code.isEmpty else {
        throw options.fail("no code given: nothing was changed", code: "usage", exitCode: 64)
    }
    return code
}

struct TwoFactorAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add another authenticator to an account whose two-factor authentication is on.",
        discussion: """
            Shows a QR code to scan with the new authenticator, asks for its first code, and adds it under \
            --label only when that code is right. A code from any of the account's authenticators then logs \
            in; each has its own replay guard. The recovery codes stay as they are. For scripts: --begin \
            prints the otpauth URI, and --confirm CODE (or '-' to read it from standard input) finishes. An \
            account adds its own with --as; an operator may add one to any account.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name; the --as account when not given.") var name: String?
    @Option(help: "The new authenticator's name: 1 to 32 letters, digits and . _ @ -.") var label: String
    @OptionGroup var enrollment: EnrollmentOptions

    func validate() throws { _ = try options.account(name) }

    func run() throws {
        let account = try options.account(name)
        let session = try options.open()
        defer { session.close() }
        if var code = enrollment.confirm {
            if code == "-" { code = try readCode(prompt: "Code: ", options: options) }
            try finish(account, code: code, session: session)
            return
        }
        let response = try session.send(
            .authenticatorAddBegin(
                user: account,
                label: label,
                algorithm: enrollment.algorithm.wire,
                digits: enrollment.digits,
                period: enrollment.period
            )
        )
        guard try enrollment.present(response, options: options) else { return }
        let prompt = "Enter the \(enrollment.digits)-digit code the new authenticator shows: "
        let confirmed = try session.confirm(
            reading: { try readCode(prompt: prompt, options: options) },
            { confirmation(account, code: $0) }
        )
        try finish(account, with: confirmed)
    }

    private func confirmation(_ account: String, code: String) -> Request {
        .authenticatorAddConfirm(user: account, label: label, code: code.filter { $0 != " " })
    }

    private func finish(_ account: String, code: String, session: DaemonSession) throws {
        try finish(account, with: session.send(confirmation(account, code: code)))
    }

    private func finish(_ account: String, with response: Response) throws {
        guard case .done = response else { throw options.unexpected(response) }
        options.reportDone("Authenticator '\(label)' added to '\(account)'.")
    }
}

struct TwoFactorList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List an account's authenticators (never their secrets).",
        discussion: """
            Shows each authenticator's label, code parameters, enrollment time, last use and learned clock \
            drift in steps. `default` is the one enrolled with `2fa enroll` or at a login.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name; the --as account when not given.") var name: String?

    func validate() throws { _ = try options.account(name) }

    func run() throws {
        let response = try options.send(.authenticatorList(user: try options.account(name)))
        guard case .authenticatorList(let list) = response else { throw options.unexpected(response) }
        print(options.json ? AuthenticatorText.json(list).text : AuthenticatorText.table(list))
    }
}

struct TwoFactorRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove one of an account's authenticators.",
        discussion: """
            Its codes stop working at once. Removing the last one turns two-factor authentication off, and is \
            allowed to whoever may turn it off (`2fa disable`): an account only when it turned it on itself and \
            its organization does not require it; in an organization that requires it, the account is left \
            pending.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name; the --as account when not given.") var name: String?
    @Option(help: "The authenticator to remove.") var label: String

    func validate() throws { _ = try options.account(name) }

    func run() throws {
        let account = try options.account(name)
        try options.expectDone(
            .authenticatorRemove(user: account, label: label),
            leaving: account,
            success: "Authenticator '\(label)' removed from '\(account)'.",
            pending: {
                "Authenticator '\(label)' removed from '\(account)', its last, and '\($0)' requires two-factor "
                    + "authentication"
            }
        )
    }
}

struct TwoFactorResync: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resync",
        abstract: "Resynchronize an authenticator whose clock is off, from two consecutive codes.",
        discussion: """
            Reads two codes the authenticator shows one after the other (from the terminal, or two lines of \
            standard input), finds them within 10 time steps (5 minutes at 30 s) of the daemon's clock, and \
            sets the authenticator's drift to where they are. Neither code, nor any earlier one, works \
            afterwards. For an operator, or an admin (with --as) of the account's organization.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String
    @Option(help: "The authenticator to resynchronize.") var label: String

    /// Logs in first (with `--as`), as every command does, then reads the two codes: fresh when they are sent.
    func run() throws {
        let session = try options.open()
        defer { session.close() }
        let first = try readCode(prompt: "First code: ", options: options)
        let second = try readCode(prompt: "Next code (wait for it to change): ", options: options)
        let response = try session.send(
            .authenticatorResync(user: name, label: label, firstCode: first, secondCode: second)
        )
        guard case .done = response else { throw options.unexpected(response) }
        options.reportDone("Authenticator '\(label)' of '\(name)' resynchronized.")
    }
}

/// How authenticators are shown: a table, or JSON for scripts.
enum AuthenticatorText {
    static func table(_ list: [AuthenticatorInfo]) -> String {
        TextTable.render(
            header: ["LABEL", "TOTP", "ENROLLED", "LAST USED", "DRIFT"],
            rows: list.map { info in
                [
                    info.label,
                    "\(AccountText.algorithm(info.algorithm)), \(info.digits) digits, \(info.period) s",
                    info.enrolledAt > 0 ? TimeText.format(info.enrolledAt) : "-",
                    info.lastUsedAt > 0 ? TimeText.format(info.lastUsedAt) : "never",
                    info.drift == 0 ? "0" : (info.drift > 0 ? "+" : "") + "\(info.drift)",
                ]
            }
        )
    }

    /// One line per authenticator for `user show`.
    static func lines(_ list: [AuthenticatorInfo]) -> [String] {
        list.map { info in
            "authenticator:  \(info.label), enrolled "
                + (info.enrolledAt > 0 ? TimeText.format(info.enrolledAt) : "at an unknown time")
        }
    }

    static func json(_ list: [AuthenticatorInfo]) -> JSONValue {
        .array(
            list.map { info in
                .object([
                    ("label", .string(info.label)),
                    ("algorithm", .string(AccountText.algorithm(info.algorithm))),
                    ("digits", .number(Int64(info.digits))),
                    ("period", .number(Int64(info.period))),
                    ("enrolledAt", info.enrolledAt > 0 ? .number(Int64(clamping: info.enrolledAt)) : .null),
                    ("lastUsedAt", info.lastUsedAt > 0 ? .number(Int64(clamping: info.lastUsedAt)) : .null),
                    ("drift", .number(Int64(info.drift))),
                ])
            }
        )
    }
}
