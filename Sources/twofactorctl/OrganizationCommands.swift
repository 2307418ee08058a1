import ArgumentParser
import CommandLineUI
import Wire

struct OrganizationAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Create an organization.")

    @OptionGroup var options: CommonOptions
    @Argument(help: "The organization's name.") var name: String
    @Flag(name: .customLong("require-2fa"), help: "Every member must use two-factor authentication.")
    var requireTwoFactor = false

    func run() throws {
        try options.expectDone(
            .organizationAdd(organization: name, requireTwoFactor: requireTwoFactor),
            success: "Created the organization '\(name)'."
        )
    }
}

struct OrganizationSet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change an organization's rules.",
        discussion: """
            --require-2fa moves every member whose two-factor authentication is off to pending (they enroll at \
            their next login), and new members start in pending. --no-require-2fa changes no member.

            --grace-period SECONDS: after a login that checked a code, the members' later logins from the same \
            remote host or local login session need only the password for that long (0: off; default: the \
            daemon's --grace-period). --trusted-network CIDR (repeatable, replaces the list): logins whose \
            remote host is an address in one of these networks need only the password; --no-trusted-networks \
            clears the list. Only the PAM module running as root reports a remote host the daemon believes.

            --agent-name PATTERN (repeatable, replaces the list): the names the organization's admin may give \
            new agents, where * stands for any characters and ? for one (acme-*, ann, *); --no-agent-names \
            clears the list, and then only an operator adds accounts to it, as for a new organization. An \
            account's name is its login on the hosts that ask twofactord: an admin allowed * may claim the login \
            of any user who has no account yet, root too.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The organization's name.") var name: String
    @Flag(
        name: .customLong("require-2fa"),
        inversion: .prefixedNo,
        help: "Whether every member must use two-factor authentication."
    )
    var requireTwoFactor: Bool?
    @Option(
        name: .customLong("grace-period"),
        help: ArgumentHelp(
            "Seconds of grace after a login that checked a code (0: off), or 'default' for the daemon's.",
            valueName: "seconds"
        )
    )
    var gracePeriod: String?
    @Option(
        name: .customLong("trusted-network"),
        help: ArgumentHelp(
            "A network (192.0.2.0/24, 2001:db8::/32) whose hosts log in without a code; repeat for several.",
            valueName: "cidr"
        )
    )
    var trustedNetworks: [String] = []
    @Flag(name: .customLong("no-trusted-networks"), help: "Trust no network.") var noTrustedNetworks = false
    @Option(
        name: .customLong("agent-name"),
        help: ArgumentHelp(
            "A name, or a pattern with * and ?, that the admin may give new agents; repeat for several.",
            valueName: "pattern"
        )
    )
    var agentNames: [String] = []
    @Flag(name: .customLong("no-agent-names"), help: "Let only operators add accounts.") var noAgentNames = false

    private var changesAccess: Bool {
        gracePeriod != nil || !trustedNetworks.isEmpty || noTrustedNetworks || !agentNames.isEmpty || noAgentNames
    }

    func validate() throws {
        guard requireTwoFactor != nil || changesAccess else {
            throw ValidationError(
                "say what to change: --require-2fa, --no-require-2fa, --grace-period, --trusted-network, "
                    + "--no-trusted-networks, --agent-name or --no-agent-names"
            )
        }
        guard !(noTrustedNetworks && !trustedNetworks.isEmpty) else {
            throw ValidationError("--no-trusted-networks and --trusted-network contradict each other: give one")
        }
        guard !(noAgentNames && !agentNames.isEmpty) else {
            throw ValidationError("--no-agent-names and --agent-name contradict each other: give one")
        }
        if let gracePeriod, gracePeriod != "default", UInt32(gracePeriod) == nil {
            throw ValidationError("--grace-period takes a number of seconds, or 'default'")
        }
    }

    func run() throws {
        let session = try options.open()
        defer { session.close() }
        var done: [String] = []
        // The access settings go first: the daemon checks every one of them before it changes any, so a value it
        // refuses ends the command before the requirement (which moves members to `pending`) is changed.
        if changesAccess {
            let grace: GracePeriodSetting =
                switch gracePeriod {
                case nil: .unchanged
                case "default": .daemonDefault
                case let text?: .seconds(UInt32(text) ?? 0)
                }
            let networks: [String]? = noTrustedNetworks ? [] : trustedNetworks.isEmpty ? nil : trustedNetworks
            let names: [String]? = noAgentNames ? [] : agentNames.isEmpty ? nil : agentNames
            let response = try session.send(
                .organizationAccessSet(
                    organization: name,
                    gracePeriod: grace,
                    trustedNetworks: networks,
                    agentNames: names
                )
            )
            guard case .organizationAccess(let access) = response else { throw options.unexpected(response) }
            done.append(OrganizationText.accessSummary(access))
        }
        if let requireTwoFactor {
            let response = try session.send(.organizationSet(organization: name, requireTwoFactor: requireTwoFactor))
            guard case .done = response else { throw options.unexpected(response) }
            done.insert(
                requireTwoFactor
                    ? "Two-factor authentication is required in '\(name)'."
                    : "Two-factor authentication is no longer required in '\(name)'.",
                at: 0
            )
        }
        options.reportDone(done.joined(separator: "\n"))
    }
}

struct OrganizationShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show an organization.")

    @OptionGroup var options: CommonOptions
    @Argument(help: "The organization's name.") var name: String

    func run() throws {
        let session = try options.open()
        defer { session.close() }
        let response = try session.send(.organizationShow(organization: name))
        guard case .organizationInfo(let info) = response else { throw options.unexpected(response) }
        let accessResponse = try session.send(.organizationAccessShow(organization: name))
        guard case .organizationAccess(let access) = accessResponse else { throw options.unexpected(accessResponse) }
        if options.json, case .object(var members) = OrganizationText.json(info) {
            members.append(("gracePeriod", access.gracePeriod.map { .number(Int64($0)) } ?? .null))
            members.append(("trustedNetworks", .array(access.trustedNetworks.map { .string($0) })))
            members.append(("agentNames", .array(access.agentNames.map { .string($0) })))
            print(JSONValue.object(members).text)
        } else {
            print(OrganizationText.details(info) + "\n" + OrganizationText.accessDetails(access))
        }
    }
}

struct OrganizationList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List organizations.")

    @OptionGroup var options: CommonOptions

    func run() throws {
        let session = try options.open()
        defer { session.close() }
        var all: [OrganizationInfo] = []
        var after = ""
        repeat {
            let response = try session.send(
                .organizationList(after: after, limit: UInt16(WireProtocol.maximumOrganizationPageSize))
            )
            guard case .organizationList(let page, let next) = response else { throw options.unexpected(response) }
            all += page
            after = next
        } while !after.isEmpty
        if options.json {
            print(JSONValue.array(all.map(OrganizationText.json)).text)
        } else {
            print(OrganizationText.table(all), terminator: "")
        }
    }
}

struct OrganizationRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove an organization that has no accounts."
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The organization's name.") var name: String

    func run() throws {
        try options.expectDone(.organizationRemove(organization: name), success: "Removed the organization '\(name)'.")
    }
}

enum OrganizationText {
    static func details(_ info: OrganizationInfo) -> String {
        [
            "organization: \(info.name)",
            "2fa required: \(info.requiresTwoFactor ? "yes" : "no")",
            "members:      \(info.members)",
        ].joined(separator: "\n")
    }

    static func accessDetails(_ access: OrganizationAccessInfo) -> String {
        [
            "grace period: " + (access.gracePeriod.map { $0 == 0 ? "off" : "\($0) s" } ?? "the daemon's"),
            "trusted:      "
                + (access.trustedNetworks.isEmpty ? "none" : access.trustedNetworks.joined(separator: " ")),
            "agent names:  " + agentNames(access),
        ].joined(separator: "\n")
    }

    static func accessSummary(_ access: OrganizationAccessInfo) -> String {
        "In '\(access.name)': grace period "
            + (access.gracePeriod.map { $0 == 0 ? "off" : "\($0) s" } ?? "the daemon's") + "; trusted networks "
            + (access.trustedNetworks.isEmpty ? "none" : access.trustedNetworks.joined(separator: " "))
            + "; agent names " + agentNames(access) + "."
    }

    private static func agentNames(_ access: OrganizationAccessInfo) -> String {
        access.agentNames.isEmpty ? "none (only operators add accounts)" : access.agentNames.joined(separator: " ")
    }

    static func table(_ infos: [OrganizationInfo]) -> String {
        TextTable.render(
            header: ["ORGANIZATION", "2FA REQUIRED", "MEMBERS"],
            rows: infos.map { [$0.name, $0.requiresTwoFactor ? "yes" : "no", "\($0.members)"] }
        )
    }

    static func json(_ info: OrganizationInfo) -> JSONValue {
        .object([
            ("organization", .string(info.name)),
            ("requiresTwoFactor", .bool(info.requiresTwoFactor)),
            ("members", .number(Int64(info.members))),
            ("createdAt", .number(Int64(clamping: info.createdAt))),
        ])
    }
}
