import ArgumentParser
import CommandLineUI
import Glibc
import Wire

struct Grace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grace",
        abstract: "End an account's grace periods (see twofactord --grace-period).",
        subcommands: [GraceRevoke.self]
    )
}

struct GraceRevoke: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "End every grace period of an account: its next login from anywhere asks for a code.",
        discussion: "For an operator, an admin (with --as) of the account's organization, or the account itself."
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name; the --as account when not given.") var name: String?

    func validate() throws { _ = try options.account(name) }

    func run() throws {
        let name = try options.account(name)
        try options.expectDone(.graceRevoke(user: name), success: "Ended every grace period of '\(name)'.")
    }
}

struct Exempt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exempt",
        abstract: "Let automation log in with the password alone, through one PAM service, until a set time.",
        subcommands: [ExemptAdd.self, ExemptList.self, ExemptRemove.self]
    )
}

struct ExemptAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Exempt an account from the code through one PAM service until a time.",
        discussion: """
            Through the PAM service SERVICE (as the PAM module reports it: sshd, sudo, ...), until TIME, the \
            account's password alone is enough; each such login is audited. Without --from-uid the service is \
            believed only from a privileged client (the PAM module running as root); with it, only a client \
            running as that uid qualifies. For an operator, or an admin (with --as) of the account's organization.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String
    @Option(help: "The PAM service, such as sshd or sudo.") var service: String
    @Option(
        help: ArgumentHelp(
            "When it ends: Unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC), or +90m, +12h, +7d from now.",
            valueName: "time"
        )
    )
    var until: String
    @Option(
        name: .customLong("from-uid"),
        help: ArgumentHelp("Only for clients running as this uid.", valueName: "uid")
    ) var fromUID: UInt32?

    func validate() throws {
        guard ExemptAdd.parseUntil(until) != nil else {
            throw ValidationError("--until takes Unix seconds, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS or +90m, +12h, +7d")
        }
    }

    func run() throws {
        let end = ExemptAdd.parseUntil(until) ?? 0
        try options.expectDone(
            .exemptAdd(user: name, service: service, until: UInt64(max(0, end)), fromUID: fromUID),
            success: "'\(name)' needs no code through '\(service)'"
                + (fromUID.map { " from uid \($0)" } ?? "") + " until \(TimeText.format(UInt64(max(0, end))))."
        )
    }

    /// `+N[smhd]` counts forward from now; anything else is read as `TimeText` reads a time.
    static func parseUntil(_ text: String, now: Int64 = Int64(Glibc.time(nil))) -> Int64? {
        guard text.hasPrefix("+") else {
            guard let first = text.first, first.isNumber, text.contains("-") || Int64(text) != nil else { return nil }
            return TimeText.parse(text, now: now)
        }
        let body = text.dropFirst()
        guard let unit = body.last, let count = Int64(body.dropLast()), count > 0 else { return nil }
        let scale: Int64? =
            switch unit {
            case "s": 1
            case "m": 60
            case "h": 3600
            case "d": 86_400
            default: nil
            }
        return scale.map { now + count * $0 }
    }
}

struct ExemptList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List running exemptions: of one account, or of every account the caller may see."
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String?

    func run() throws {
        let session = try options.open()
        defer { session.close() }
        var all: [ExemptionInfo] = []
        if let name {
            let response = try session.send(.accessShow(user: name))
            guard case .accessInfo(_, let exemptions) = response else { throw options.unexpected(response) }
            all = exemptions
        } else {
            var after = ""
            repeat {
                let response = try session.send(
                    .exemptList(after: after, limit: UInt16(WireProtocol.maximumExemptionPageSize))
                )
                guard case .exemptionList(let page, let next) = response else { throw options.unexpected(response) }
                all += page
                after = next
            } while !after.isEmpty
        }
        if options.json {
            print(JSONValue.array(all.map(AccessText.json)).text)
        } else {
            print(AccessText.table(all), terminator: "")
        }
    }
}

struct ExemptRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove an account's exemption for one PAM service."
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "The account's login name.") var name: String
    @Option(help: "The PAM service the exemption is for.") var service: String

    func run() throws {
        try options.expectDone(
            .exemptRemove(user: name, service: service),
            success: "'\(name)' needs its code through '\(service)' again."
        )
    }
}

enum AccessText {
    static func graceLines(_ graces: [GraceInfo]) -> [String] {
        graces.map { grace in
            let key = grace.kind == .remoteHost ? "host \(grace.key)" : "session \(grace.key)"
            return "grace:          \(key) until \(TimeText.format(grace.expiresAt))"
        }
    }

    static func exemptionLines(_ exemptions: [ExemptionInfo]) -> [String] {
        exemptions.map { exemption in
            "exemption:      service \(exemption.service)" + (exemption.fromUID.map { " from uid \($0)" } ?? "")
                + " until \(TimeText.format(exemption.until))"
        }
    }

    static func table(_ exemptions: [ExemptionInfo]) -> String {
        TextTable.render(
            header: ["USER", "SERVICE", "FROM UID", "UNTIL"],
            rows: exemptions.map {
                [$0.user, $0.service, $0.fromUID.map { "\($0)" } ?? "any privileged", TimeText.format($0.until)]
            }
        )
    }

    static func json(_ exemption: ExemptionInfo) -> JSONValue {
        .object([
            ("user", .string(exemption.user)),
            ("service", .string(exemption.service)),
            ("fromUID", exemption.fromUID.map { .number(Int64($0)) } ?? .null),
            ("until", .number(Int64(clamping: exemption.until))),
        ])
    }

    static func json(_ grace: GraceInfo) -> JSONValue {
        .object([
            (grace.kind == .remoteHost ? "host" : "session", .string(grace.key)),
            ("expiresAt", .number(Int64(clamping: grace.expiresAt))),
        ])
    }
}
