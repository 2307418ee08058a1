import ArgumentParser
import CommandLineUI
import Wire

struct UserAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Create an account.",
        discussion: """
            An operator creates accounts in any organization ('default' when --org is not given). An admin \
            (with --as) creates agents in its own organization. A member of an organization that requires \
            two-factor authentication starts in the pending state, as with --require-2fa: its first login \
            shows the QR code to scan.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String
    @Option(help: "The account's organization; it must exist (see `org add`).") var org: String?
    @Option(help: "admin or agent.") var role: RoleArgument = .agent
    @Flag(name: .customLong("require-2fa"), help: "Require two-factor authentication: the first login enrolls it.")
    var requireTwoFactor = false

    func run() throws {
        let (session, newPassword) = try options.open(preparing: { session in
            // A name the caller can see is taken: said before the new password is asked. Another organization's
            // is not shown to an admin, and the add itself says it is taken (docs/security.md).
            if let session, try session.shows(account: name) {
                throw options.fail(
                    "an account named '\(name)' already exists",
                    code: "\(ErrorCode.accountExists)",
                    exitCode: 1
                )
            }
            return try options.readNewPassword()
        })
        defer { session.close() }
        var password = newPassword
        defer { wipe(&password) }
        let request = Request.userAdd(
            user: name,
            organization: org ?? "",
            role: role.wire,
            requireTwoFactor: requireTwoFactor,
            password: password
        )
        let response = try session.send(request, afterWriting: { wipe(&password) })
        guard case .done = response else { throw options.unexpected(response) }
        options.reportDone(
            requireTwoFactor
                ? "Created '\(name)'; two-factor enrollment happens at the first login."
                : "Created '\(name)'."
        )
    }
}

enum RoleArgument: String, ExpressibleByArgument, CaseIterable {
    case admin, agent
    var wire: WireRole { self == .admin ? .admin : .agent }
}

struct UserPasswd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Set an account's password.",
        discussion: "An operator, the account's admin, or the account itself (with --as) may set it."
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name; the --as account when not given.") var name: String?

    func validate() throws { _ = try options.account(name) }

    func run() throws {
        let name = try options.account(name)
        let (session, newPassword) = try options.open(preparing: { _ in try options.readNewPassword() })
        defer { session.close() }
        var password = newPassword
        defer { wipe(&password) }
        let response = try session.send(
            .userSetPassword(user: name, password: password),
            afterWriting: { wipe(&password) }
        )
        guard case .done = response else { throw options.unexpected(response) }
        options.reportDone("Password of '\(name)' changed.")
    }
}

struct UserShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show an account: role, organization, two-factor state and who set it, locks, graces, exemptions.",
        discussion: "An account sees itself, an admin its organization, an operator every account."
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name; the --as account when not given.") var name: String?

    func validate() throws { _ = try options.account(name) }

    func run() throws {
        let name = try options.account(name)
        let session = try options.open()
        defer { session.close() }
        let response = try session.send(.userShow(user: name))
        guard case .userInfo(let info, let originLocks) = response else { throw options.unexpected(response) }
        let access = try session.send(.accessShow(user: name))
        guard case .accessInfo(let graces, let exemptions) = access else { throw options.unexpected(access) }
        var authenticators: [AuthenticatorInfo] = []
        if info.digits > 0 {
            let listed = try session.send(.authenticatorList(user: name))
            guard case .authenticatorList(let list) = listed else { throw options.unexpected(listed) }
            authenticators = list
        }
        if options.json, case .object(var members) = AccountText.json(info) {
            members.append(("originLocks", .array(originLocks.map(AccountText.json))))
            members.append(("authenticators", AuthenticatorText.json(authenticators)))
            members.append(("graces", .array(graces.map(AccessText.json))))
            members.append(("exemptions", .array(exemptions.map(AccessText.json))))
            print(JSONValue.object(members).text)
        } else {
            let lines =
                [AccountText.details(info)] + AccountText.originLockLines(info, originLocks)
                + AuthenticatorText.lines(authenticators) + AccessText.graceLines(graces)
                + AccessText.exemptionLines(exemptions)
            print(lines.joined(separator: "\n"))
        }
    }
}

struct UserList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List accounts.",
        discussion: "An operator lists every account or one organization's; an admin (with --as) its own organization."
    )

    @OptionGroup var options: CommonOptions
    @Option(help: "Only accounts of this organization.") var org: String?

    func run() throws {
        let session = try options.open()
        defer { session.close() }
        var all: [AccountInfo] = []
        var after = ""
        repeat {
            let response = try session.send(
                .userList(organization: org ?? "", after: after, limit: UInt16(WireProtocol.maximumPageSize))
            )
            guard case .userList(let page, let next) = response else { throw options.unexpected(response) }
            all += page
            after = next
        } while !after.isEmpty
        if options.json {
            print(JSONValue.array(all.map(AccountText.json)).text)
        } else {
            print(AccountText.table(all), terminator: "")
        }
    }
}

struct UserRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove an account.")

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String

    func run() throws {
        try options.expectDone(.userRemove(user: name), success: "Removed '\(name)'.")
    }
}

struct Unlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Clear an account's failed logins and lock, and its failed resyncs' locks.",
        discussion: "For an operator, or an admin (with --as) of the account's organization."
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String

    func run() throws {
        try options.expectDone(.unlock(user: name), success: "Unlocked '\(name)'.")
    }
}
