import ArgumentParser
import CommandLineUI
import Wire

struct UserAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Create an account.")

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String
    @Option(help: "The account's organization.") var org: String = "default"
    @Option(help: "admin or agent.") var role: RoleArgument = .agent
    @Flag(name: .customLong("require-2fa"), help: "Require two-factor authentication: the first login enrolls it.")
    var requireTwoFactor = false
    @Flag(name: .customLong("password-stdin"), help: "Read the password as one line from standard input.")
    var passwordStdin = false

    func run() throws {
        let password = try readNewPassword(fromStandardInput: passwordStdin)
        let request = Request.userAdd(
            user: name,
            organization: org,
            role: role.wire,
            requireTwoFactor: requireTwoFactor,
            password: password
        )
        try options.expectDone(
            request,
            success: requireTwoFactor
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
    static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Set an account's password.")

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String
    @Flag(name: .customLong("password-stdin"), help: "Read the password as one line from standard input.")
    var passwordStdin = false

    func run() throws {
        let password = try readNewPassword(fromStandardInput: passwordStdin)
        try options.expectDone(
            .userSetPassword(user: name, password: password),
            success: "Password of '\(name)' changed."
        )
    }
}

struct UserShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show an account.")

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String

    func run() throws {
        let response = try options.send(.userShow(user: name))
        guard case .userInfo(let info) = response else { throw options.unexpected(response) }
        print(options.json ? AccountText.json(info).text : AccountText.details(info))
    }
}

struct UserList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List accounts.")

    @OptionGroup var options: CommonOptions
    @Option(help: "Only accounts of this organization.") var org: String?

    func run() throws {
        var all: [AccountInfo] = []
        var after = ""
        repeat {
            let response = try options.send(.userList(organization: org ?? "", after: after, limit: 200))
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
