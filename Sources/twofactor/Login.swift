import ArgumentParser
import CommandLineOptions
import CommandLineUI
import DaemonClient
import Glibc
import Wire

struct Login: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log in as USER.",
        discussion: """
            Asks for the password and, when the account needs one, the code from the authenticator app, \
            on the terminal without echo. When standard input is not a terminal, reads them as two lines. \
            An account whose two-factor authentication is required but not yet set up is shown a QR code \
            to scan, and its first code finishes the enrollment and the login; the account's one-time \
            recovery codes are then shown once. A recovery code (four groups of four characters) is accepted \
            at the code prompt in place of a code from the app, once.

            On a terminal, a successful login says so on standard error; scripted, it prints nothing \
            and only the exit status tells.
            """
    )

    @OptionGroup var options: ConnectionOptions

    @Flag(help: "Draw the QR code for a terminal with dark text on a light background.") var invert = false

    @Argument(help: "The account to log in as.") var user: String

    func run() throws {
        try LoginSession(socketPath: options.socketPath, user: user, invertColors: invert).run()
    }
}

/// One `twofactor login`, whatever parsed its command line: ArgumentParser through `Login`, or
/// `QuickLoginArguments` for the plain command lines that scripts and login wrappers run.
struct LoginSession {
    let socketPath: String
    let user: String
    let invertColors: Bool

    func run() throws(ExitCode) {
        let interactive = Terminal.standardInputIsTerminal
        guard var password = interactive ? Terminal.readSecret(prompt: "Password: ") : Terminal.readLine() else {
            throw finish(.usage, "no password given")
        }
        defer { wipe(&password) }
        let connection: DaemonConnection
        do {
            connection = try DaemonConnection(socketPath: socketPath)
        } catch {
            throw finish(.daemonUnavailable, "\(error)")
        }
        defer { connection.close() }

        // The first answer may ask for a code, and the password goes again with it: it is kept until then.
        var answer = try attempt(connection, password: &password, code: nil, last: false)
        if case .loginResult(.codeNeeded, _, _) = answer {
            guard let code = readCode("Verification code: ", interactive: interactive) else {
                throw finish(.denied, "no code given: login denied")
            }
            answer = try attempt(connection, password: &password, code: code, last: true)
        } else if case .loginResult(.enroll, _, var uri) = answer {
            showEnrollment(&uri, user: user, invertColors: invertColors)
            guard let code = readCode("Enter the code the app shows: ", interactive: interactive) else {
                throw finish(
                    .denied,
                    "no code given: enrollment not finished, login denied; run `twofactor login \(user)` on a "
                        + "terminal, scan the QR code with your authenticator app and type the code it shows"
                )
            }
            answer = try attempt(connection, password: &password, code: code, last: true)
        }

        switch answer {
        case .loginResult(.ok, _, _):
            // A person at a terminal wants to see it worked; a script has the exit status.
            if interactive, isatty(STDERR_FILENO) == 1 { Terminal.writeError("Logged in as '\(user)'.\n") }
            return
        case .recoveryCodes(let codes):
            Terminal.writeError(LoginTexts.enrolled(user: user, recoveryCodes: codes) + "Logged in as '\(user)'.\n")
            return
        case .recoveryLogin(let remaining):
            Terminal.writeError(LoginTexts.recoveryLogin(user: user, remaining: remaining))
            return
        case .loginResult(.locked, let retryAfter, _):
            throw finish(.locked, LoginTexts.locked(user: user, retryAfter: retryAfter))
        case .loginResult(.enroll, _, _), .loginResult(.codeNeeded, _, _), .loginResult(.denied, _, _):
            // One sentence for a wrong password, a wrong code, a replayed code and an unknown user alike.
            throw finish(
                .denied,
                "login denied: the password or the code is wrong, or the code was used before "
                    + "(a code works once: wait for the app's next one)"
            )
        case .error(_, let message):
            throw finish(.daemonUnavailable, message)
        default:
            throw finish(
                .daemonUnavailable,
                "the daemon sent an unexpected answer: are client and daemon the same version?"
            )
        }
    }

    /// Sends a Login; when it is the `last` one, the password is wiped once it is written.
    private func attempt(
        _ connection: DaemonConnection,
        password: inout [UInt8],
        code: String?,
        last: Bool
    ) throws(ExitCode) -> Response {
        let request = Request.login(
            user: user,
            password: password,
            codeKind: code.map(CodeKind.init(typed:)) ?? .none,
            code: code ?? ""
        )
        do {
            return try connection.send(request, afterWriting: { if last { wipe(&password) } })
        } catch {
            throw finish(.daemonUnavailable, "\(error)")
        }
    }

    private func readCode(_ prompt: String, interactive: Bool) -> String? {
        let line = interactive ? Terminal.readSecret(prompt: prompt) : Terminal.readLine()
        // People copy codes as "123 456"; the daemon wants the digits alone.
        let code = String(decoding: line ?? [], as: UTF8.self).filter { $0 != " " }
        return code.isEmpty ? nil : code
    }

    private func finish(_ status: LoginExit, _ message: String) -> ExitCode {
        Terminal.writeError("twofactor: \(message)\n")
        return ExitCode(status.rawValue)
    }
}

/// Tells `user` it must enroll and shows the screen of `uri` on standard error, wiping the screen and `uri`: the
/// wait for the first code follows (`twofactor login`, `twofactor shell`).
func showEnrollment(_ uri: inout [UInt8], user: String, invertColors: Bool = false) {
    Terminal.writeError(LoginTexts.enrollmentRequired(user: user))
    EnrollmentScreen.show(otpauthURI: &uri, invertColors: invertColors, with: Terminal.writeError)
}
