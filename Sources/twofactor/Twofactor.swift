import ArgumentParser
import CommandLineOptions
import Glibc

@main
struct Twofactor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twofactor",
        abstract: "Log in to twofactord with a password and a one-time code.",
        // Paragraphs, not lines: ArgumentParser wraps them to the terminal's width.
        discussion: """
            Exit status: 0 the login succeeded, 1 it was denied, 2 the account is locked for a while, \
            3 the daemon could not be reached or failed, 64 a usage error.
            """,
        subcommands: [Login.self, PAMExec.self, Shell.self, Helper.self]
    )

    /// Parsed here wherever it stands, so `twofactor --socket S login alice` works; subcommands
    /// receive it through their own `@OptionGroup var options: ConnectionOptions`.
    @OptionGroup var options: ConnectionOptions

    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        do throws(ExitCode) {
            if let quick = QuickLoginArguments(arguments) {
                return try LoginSession(
                    socketPath: ConnectionOptions.socketPath(given: quick.socket),
                    user: quick.user,
                    invertColors: quick.invert
                ).run()
            }
            if let quick = QuickPAMArguments(arguments) {
                return try PAMCheck(
                    socketPath: ConnectionOptions.socketPathIgnoringEnvironment(given: quick.socket),
                    singlePrompt: quick.singlePrompt,
                    digits: quick.digits,
                    timeout: quick.timeout,
                    daemonUser: quick.daemonUser
                ).run()
            }
        } catch {
            Glibc.exit(error.rawValue)
        }
        main(sharedOptions: ConnectionOptions.self)
    }
}

/// The documented exit statuses: scripts and PAM glue depend on them.
enum LoginExit: Int32 {
    case ok = 0
    case denied = 1
    case locked = 2
    case daemonUnavailable = 3
    case usage = 64
}
