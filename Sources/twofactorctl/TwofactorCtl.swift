import ArgumentParser
import CommandLineOptions

@main
struct TwofactorCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twofactorctl",
        abstract: "Administer twofactord accounts and enroll authenticator apps.",
        // Paragraphs, not lines: ArgumentParser wraps them to the terminal's width.
        discussion: """
            Talks to twofactord over its Unix socket. Who may do what: an operator (root, the daemon's \
            own user, or a member of the daemon's operator group) may do everything to every account. \
            With --as ACCOUNT the command acts as that account after its password (and code) are \
            checked: an admin manages the agents of its own organization, and every account may show \
            itself, change its password, and turn on two-factor authentication for itself.

            Two-factor states: off; pending (required, enrolls at the next login); on/self (turned on by \
            the account, which may turn it off again); on/enforced (required by an admin or operator, \
            who alone may turn it off).

            Exit status: 0 success, 1 the daemon refused the request (the message says why), \
            3 the daemon could not be reached, 64 a usage error.
            """,
        subcommands: [
            User.self, TwoFactor.self, Organization.self, Unlock.self, Audit.self, Grace.self, Exempt.self,
            Backup.self, Key.self,
        ]
    )

    @OptionGroup var options: CommonOptions

    static func main() {
        // twofactorctl(8): with --json every error is JSON on standard output, ArgumentParser's usage errors too.
        // They come before anything is parsed, so --json is looked for as a word of its own before a `--`.
        let json = CommandLine.arguments.dropFirst().prefix { $0 != "--" }.contains("--json")
        main(
            sharedOptions: CommonOptions.self,
            reportError: json ? { message, _ in printJSONError(message, code: "usage") } : nil
        )
    }
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
        abstract: "Enroll, enable, require, disable or reset an account's authenticators.",
        subcommands: [
            TwoFactorEnroll.self, TwoFactorEnable.self, TwoFactorDisable.self, TwoFactorForce.self,
            TwoFactorReset.self, TwoFactorRecoveryCodes.self, TwoFactorAdd.self, TwoFactorList.self,
            TwoFactorRemove.self, TwoFactorResync.self,
        ]
    )
}

struct Organization: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org",
        abstract: "Create, change, inspect and remove organizations (operators).",
        subcommands: [
            OrganizationAdd.self, OrganizationSet.self, OrganizationShow.self, OrganizationList.self,
            OrganizationRemove.self,
        ]
    )
}
