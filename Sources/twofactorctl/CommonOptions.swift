import ArgumentParser
import CommandLineOptions
import CommandLineUI
import DaemonClient
import Glibc
import Wire

/// Options every command takes, before or after its name. The root command declares them with
/// `@OptionGroup` too: it parses them wherever they stand, and each subcommand's `@OptionGroup`
/// receives the root's values. A new subcommand gets them with one line:
/// `@OptionGroup var options: CommonOptions`.
struct CommonOptions: ParsableArguments {
    @OptionGroup var connection: ConnectionOptions

    @Flag(name: .long, help: "Print results as JSON on standard output.")
    var json = false

    @Option(
        name: .customLong("as"),
        help: ArgumentHelp(
            "Act as this account instead of as an operator: an admin on its organization, or an account on "
                + "itself. Asks for the account's password, and its code when two-factor authentication is on.",
            valueName: "account"
        )
    )
    var actingAccount: String?

    @Flag(
        name: .customLong("password-stdin"),
        help:
            "Read passwords from standard input, one line each: the --as account's password first, then a new password."
    )
    var passwordStdin = false

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The --as account's current code (or a recovery code); '-' reads it from the next line of standard "
                + "input, out of the process list. Without it, the code is asked for when needed.",
            valueName: "code"
        )
    )
    var code: String?

    var socket: String { connection.socketPath }

    /// The account a command that an account may run on itself acts on: NAME, or the --as account when NAME is
    /// not given (`twofactorctl --as carol 2fa disable`).
    func account(_ name: String?) throws -> String {
        guard let account = name ?? actingAccount else {
            throw ValidationError("name the account, or act as it with --as ACCOUNT")
        }
        return account
    }

    func validate() throws {
        if code != nil, actingAccount == nil { throw ValidationError("--code goes with --as ACCOUNT") }
    }

    /// Connects and, with `--as`, logs in as that account, so that every request sent on the returned
    /// session acts for it. An unreachable daemon or a refused login is reported and ends the program.
    func open() throws -> DaemonSession {
        try open(preparing: { _ in }).session
    }

    /// `open()` for a request that needs more input first (a new password): `prepare` reads it before a recovery
    /// code is sent, so that input that ends the program (passwords that differ) never spends one; it then gets
    /// no session. With any other login, `prepare` runs once the login is done, so a wrong password is told
    /// before it asks, and gets the session, to ask the daemon first.
    func open<Input>(
        preparing prepare: (DaemonSession?) throws -> Input
    ) throws -> (session: DaemonSession, input: Input) {
        let connection: DaemonConnection
        do {
            connection = try DaemonConnection(socketPath: socket)
        } catch {
            throw fail("\(error)", code: "daemonUnavailable", exitCode: 3)
        }
        let session = DaemonSession(connection: connection, options: self)
        var input: Input?
        if let actingAccount {
            try session.logIn(as: actingAccount, beforeRecoveryCode: { input = try prepare(nil) })
        }
        return (session, try input ?? prepare(session))
    }

    /// Sends one request on a new session; a refusal or an unreachable daemon is reported and ends the program.
    func send(_ request: Request) throws -> Response {
        let session = try open()
        defer { session.close() }
        return try session.send(request)
    }

    /// Sends a request whose only good answer is `done`.
    func expectDone(_ request: Request, success message: String) throws {
        let response = try send(request)
        guard case .done = response else { throw unexpected(response) }
        reportDone(message)
    }

    /// Sends a request that may leave `user` without a second factor (`2fa disable`, removing the last
    /// authenticator), and says what it left. The daemon answers Done either way; on the same session the account
    /// is read back, so that an account left `pending` (its organization requires two-factor authentication, so
    /// its next login enrolls) is told as such, and JSON output carries the state as `twoFactor`.
    /// `pending` gets the organization's name and says what happened.
    func expectDone(
        _ request: Request,
        leaving user: String,
        success message: String,
        pending: (_ organization: String) -> String
    ) throws {
        let session = try open()
        defer { session.close() }
        let response = try session.send(request)
        guard case .done = response else { throw unexpected(response) }
        let info = try session.account(named: user)
        let state = info.map { AccountText.state($0.twoFactor).name }
        if json {
            print(JSONValue.object([("ok", .bool(true))] + (state.map { [("twoFactor", .string($0))] } ?? [])).text)
        } else if let info, info.twoFactor == .pending {
            print(
                pending(info.organization) + ": '\(user)' is pending, and enrolls a new authenticator at its next "
                    + "login."
            )
        } else {
            print(message)
        }
    }

    func reportDone(_ message: String) {
        if json {
            print(JSONValue.object([("ok", .bool(true))]).text)
        } else {
            print(message)
        }
    }

    /// Names the answer by its type alone: it may carry recovery codes or an otpauth URI, no text for an error.
    func unexpected(_ response: Response) -> ExitCode {
        fail(
            "the daemon sent an unexpected answer (\(response.type)): are client and daemon the same version?",
            code: "protocolViolation",
            exitCode: 3
        )
    }

    /// Reports a failure in the chosen output format and returns the exit code to throw.
    func fail(_ message: String, code: String, exitCode: Int32) -> ExitCode {
        if json {
            printJSONError(message, code: code)
        } else {
            printError(message)
        }
        return ExitCode(exitCode)
    }

    /// Reads a new password: the next line of standard input with `--password-stdin`, otherwise typed
    /// twice on the terminal without echo.
    func readNewPassword() throws -> [UInt8] {
        if passwordStdin {
            guard let password = Terminal.readLine(), !password.isEmpty else {
                throw fail("no new password on standard input", code: "usage", exitCode: 64)
            }
            return password
        }
        guard var first = Terminal.readSecret(prompt: "New password: "), !first.isEmpty else {
            throw fail("no password given", code: "usage", exitCode: 64)
        }
        var second = Terminal.readSecret(prompt: "Repeat the password: ") ?? []
        defer { wipe(&second) }
        guard second == first else {
            wipe(&first)
            throw fail("the passwords differ: nothing was changed", code: "usage", exitCode: 1)
        }
        return first
    }
}

/// One connection to the daemon, logged in as the `--as` account when one was given.
final class DaemonSession {
    private let connection: DaemonConnection
    private let options: CommonOptions

    init(connection: DaemonConnection, options: CommonOptions) {
        self.connection = connection
        self.options = options
    }

    func close() { connection.close() }

    /// Sends a request; an Error answer is reported and ends the program. `afterWriting` as in
    /// `DaemonConnection.send`: where a request's password is wiped once written.
    func send(_ request: Request, afterWriting: () -> Void = {}) throws -> Response {
        try reported(exchange(request, afterWriting: afterWriting))
    }

    /// The account `name` as UserShow answers it, or nil when the daemon shows it not to this caller (after a
    /// request that changed the account: it may have been removed, or the session ended, since).
    func account(named name: String) throws -> AccountInfo? {
        if case .userInfo(let info, _) = try exchange(.userShow(user: name)) { return info }
        return nil
    }

    /// Whether the daemon shows this caller the account `name` (UserShow answers with it). Its Error answer,
    /// the same for a name without an account and for one out of the caller's scope, is false, not reported.
    func shows(account name: String) throws -> Bool {
        try account(named: name) != nil
    }

    /// The answer as `send` takes it: an Error answer is reported and ends the program.
    private func reported(_ response: Response) throws -> Response {
        if case .error(let code, let message) = response {
            throw options.fail(message, code: "\(code)", exitCode: 1)
        }
        return response
    }

    /// The last step of a QR-code dialogue: reads a code and sends `confirmation` of it. A wrong code is said
    /// and the next one read, `codesAsked` in all (one with JSON output, which takes one answer), each wrong one
    /// in the audit trail. Returns the answer to the accepted code; any other Error answer ends the program.
    func confirm(reading readCode: () throws -> String, _ confirmation: (String) -> Request) throws -> Response {
        for attempt in 1...(options.json ? 1 : Self.codesAsked) {
            let response = try exchange(confirmation(try readCode()))
            if case .error(.wrongCode, let message) = response, attempt < Self.codesAsked, !options.json {
                printError(message)
                continue
            }
            return try reported(response)
        }
        preconditionFailure("the last code's answer is always returned")
    }

    /// How many codes a QR-code dialogue reads before it gives up.
    static let codesAsked = 3

    /// Sends a request and returns the answer, an Error answer too; only a daemon out of reach ends the program.
    private func exchange(_ request: Request, afterWriting: () -> Void = {}) throws -> Response {
        do {
            return try connection.send(request, afterWriting: afterWriting)
        } catch {
            throw options.fail("\(error)", code: "daemonUnavailable", exitCode: 3)
        }
    }

    /// Logs in as `account` with its password and, when the daemon asks for one, its code. `beforeRecoveryCode`
    /// runs just before a recovery code is sent (the Login spends it), and only then.
    func logIn(as account: String, beforeRecoveryCode: () throws -> Void = {}) throws {
        var password =
            (options.passwordStdin ? Terminal.readLine() : Terminal.readSecret(prompt: "Password for '\(account)': "))
            ?? []
        defer { wipe(&password) }
        guard !password.isEmpty else {
            throw options.fail("no password given for '\(account)'", code: "usage", exitCode: 64)
        }
        // Kept through the first answer, which may ask for a code to send with the password again.
        var answer = try exchange(.login(user: account, password: password, codeKind: .none, code: ""))
        if case .loginResult(.codeNeeded, _, _) = answer {
            let code = try readCode(for: account)
            if CodeKind(typed: code) == .recovery { try beforeRecoveryCode() }
            answer = try exchange(
                .login(user: account, password: password, codeKind: CodeKind(typed: code), code: code),
                afterWriting: { wipe(&password) }
            )
        } else {
            wipe(&password)
        }
        switch answer {
        case .loginResult(.ok, _, _):
            return
        case .recoveryLogin(let remaining):
            Terminal.writeError(LoginTexts.recoveryLogin(user: account, remaining: remaining))
        case .loginResult(.enroll, _, _):
            throw options.fail(
                "'\(account)' must enroll an authenticator first (two-factor authentication is required, and only "
                    + "an admin or operator can lift the requirement): log in once with `twofactor login \(account)`",
                code: "enrollmentRequired",
                exitCode: 1
            )
        case .loginResult(.locked, let wait, _):
            throw options.fail(
                LoginTexts.locked(user: account, retryAfter: wait),
                code: "locked",
                exitCode: 1
            )
        case .loginResult:
            throw options.fail(
                "the password or code for '\(account)' is wrong: nothing was done",
                code: "denied",
                exitCode: 1
            )
        case .error(let code, let message):
            throw options.fail(message, code: "\(code)", exitCode: 1)
        default:
            throw options.unexpected(answer)
        }
    }

    private func readCode(for account: String) throws -> String {
        var typed: String?
        switch options.code {
        case "-":
            typed = Terminal.readLine().map { String(decoding: $0, as: UTF8.self) }
        case let code?:
            typed = code
        case nil:
            let line =
                Terminal.standardInputIsTerminal
                ? Terminal.readSecret(prompt: "Verification code for '\(account)': ") : Terminal.readLine()
            typed = line.map { String(decoding: $0, as: UTF8.self) }
        }
        // People copy codes as "123 456"; the daemon wants the characters alone.
        guard let code = typed?.filter({ $0 != " " }), !code.isEmpty else {
            // The daemon asks for a code after a wrong password too (it tells no password apart before a code).
            throw options.fail(
                "'\(account)' needs a code, and none was given: nothing was done (with --password-stdin, give the "
                    + "code with --code - on the next line; if the account has no second factor, the password is wrong)",
                code: "codeNeeded",
                exitCode: 1
            )
        }
        return code
    }
}

func printError(_ message: String) {
    Terminal.writeError("twofactorctl: \(message)\n")
}

/// An error as `--json` reports it on standard output: `{"error":{"code":CODE,"message":SENTENCE}}`.
func printJSONError(_ message: String, code: String) {
    print(JSONValue.object([("error", .object([("code", .string(code)), ("message", .string(message))]))]).text)
}
