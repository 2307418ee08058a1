import ArgumentParser
import CommandLineUI
import Wire

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Show the audit trail, newest first.",
        discussion: """
            Every enrollment, login, force, enable, disable, reset, recovery-code use, unlock and refused \
            administrative action, with its time, actor, target and outcome; never a password, secret or code. \
            An account sees its own records, an admin its organization's, an operator all. An account's \
            refusals are recorded under its own organization, at most 5 a minute (the rest are logged, and \
            its next record says how many). Denied logins from one uid, remote host or local console are \
            recorded at most 20 an hour per organization, the next one saying how many were not. A request that \
            changes nothing is not recorded.
            """
    )

    @OptionGroup var options: CommonOptions
    @Argument(help: "Only records about this account.") var name: String?
    @Option(help: "Only records of this organization.") var org: String?
    @Option(
        help: ArgumentHelp(
            "Only records since this time: Unix seconds, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS (UTC), or an age such as 12h or 7d.",
            valueName: "time"
        )
    )
    var since: String?
    @Option(help: ArgumentHelp("At most this many records.", valueName: "count")) var limit: Int = 100

    func validate() throws {
        if let since, TimeText.parse(since) == nil {
            throw ValidationError("--since takes Unix seconds, YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS or an age such as 7d")
        }
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let session = try options.open()
        defer { session.close() }
        var entries: [AuditEntry] = []
        var before: UInt64 = 0
        repeat {
            let page = min(limit - entries.count, WireProtocol.maximumAuditPageSize)
            let response = try session.send(
                .auditQuery(
                    user: name ?? "",
                    organization: org ?? "",
                    since: since.flatMap { TimeText.parse($0) }.map { UInt64($0) } ?? 0,
                    before: before,
                    limit: UInt16(page)
                )
            )
            guard case .auditList(let records, let next) = response else { throw options.unexpected(response) }
            entries += records
            before = next
        } while before != 0 && entries.count < limit
        if options.json {
            print(JSONValue.array(entries.map(Self.json)).text)
        } else {
            print(
                TextTable.render(
                    header: ["TIME", "ACTOR", "ACTION", "TARGET", "ORGANIZATION", "OUTCOME", "DETAIL"],
                    rows: entries.map { entry in
                        [
                            TimeText.format(entry.time), AccountText.actor(entry.actor) ?? "-", entry.action,
                            entry.target.isEmpty ? "-" : entry.target,
                            entry.organization.isEmpty ? "-" : entry.organization, entry.outcome, entry.detail,
                        ]
                    }
                ),
                terminator: ""
            )
        }
    }

    static func json(_ entry: AuditEntry) -> JSONValue {
        .object([
            ("sequence", .number(Int64(clamping: entry.sequence))),
            ("time", .number(Int64(clamping: entry.time))),
            ("actor", AccountText.json(entry.actor)),
            ("action", .string(entry.action)),
            ("target", entry.target.isEmpty ? .null : .string(entry.target)),
            ("organization", entry.organization.isEmpty ? .null : .string(entry.organization)),
            ("outcome", .string(entry.outcome)),
            ("detail", .string(entry.detail)),
        ])
    }
}
