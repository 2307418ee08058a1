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
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The organization's name.") var name: String
    @Flag(name: .customLong("require-2fa"), inversion: .prefixedNo, help: "Whether every member must use two-factor authentication.")
    var requireTwoFactor: Bool

    func run() throws {
        try options.expectDone(
            .organizationSet(organization: name, requireTwoFactor: requireTwoFactor),
            success: requireTwoFactor
                ? "Two-factor authentication is required in '\(name)'."
                : "Two-factor authentication is no longer required in '\(name)'."
        )
    }
}

struct OrganizationShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show an organization.")

    @OptionGroup var options: CommonOptions
    @Argument(help: "The organization's name.") var name: String

    func run() throws {
        let response = try options.send(.organizationShow(organization: name))
        guard case .organizationInfo(let info) = response else { throw options.unexpected(response) }
        print(options.json ? OrganizationText.json(info).text : OrganizationText.details(info))
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
