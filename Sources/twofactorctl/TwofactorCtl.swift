import ArgumentParser
import CommandLineOptions

@main
struct TwofactorCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twofactorctl",
        abstract: "Administer twofactord accounts and enroll authenticator apps.",
        // Paragraphs, not lines: ArgumentParser wraps them to the terminal's width.
        discussion: """
            Talks to twofactord over its Unix socket. Administration needs operator rights: root, \
            the daemon's own user, or a member of the daemon's operator group.

            Exit status: 0 success, 1 the daemon refused the request (the message says why), \
            3 the daemon could not be reached, 64 a usage error.
            """,
        subcommands: [User.self, TwoFactor.self]
    )

    @OptionGroup var options: CommonOptions

    static func main() { main(sharedOptions: CommonOptions.self) }
}

struct User: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Create, inspect and remove accounts.",
        subcommands: [UserAdd.self, UserPasswd.self, UserShow.self, UserList.self, UserRemove.self]
    )
}

struct TwoFactor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "2fa",
        abstract: "Enroll or disable an account's authenticator.",
        subcommands: [TwoFactorEnroll.self, TwoFactorDisable.self]
    )
}
