import ArgumentParser

@main
struct Twofactor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twofactor",
        abstract: "Log in to twofactord with a password and a one-time code.",
        discussion: """
            Exit status: 0 the login succeeded, 1 it was denied, 2 the account is locked for a while,
            3 the daemon could not be reached or failed, 64 a usage error.
            """,
        subcommands: [Login.self, PAMExec.self, Shell.self, Helper.self]
    )
}

/// The documented exit statuses: scripts and PAM glue depend on them.
enum LoginExit: Int32 {
    case ok = 0
    case denied = 1
    case locked = 2
    case daemonUnavailable = 3
    case usage = 64
}
