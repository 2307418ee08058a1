import Foundation
import Testing
import TestSupport
import Wire

/// An account reads its own audit records by walking its organization's part of the trail (up to 100,000 records
/// by default). One AuditQuery examines a bounded number of records, so that one request of one local user cannot
/// hold a worker's CPU for a walk of the whole trail, many times over within the user's share of the workers.
@Suite struct AuditPagingTests {
    static let examinedPerPage = 1000

    @Test func ownRecords_behindMoreOfOthersThanAPageExamines_comeInBoundedPages() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "quiet", "--password-stdin"], input: "quiet-pass-phrase\n")
        _ = try daemon.ctl(["user", "add", "busy", "--password-stdin"], input: "busy-pass-phrase\n")
        // Each login of `busy` is a record of the organization newer than `quiet`'s account-add.
        let failures = Locked(0)
        let group = DispatchGroup()
        for _ in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                let client = WireClient(path: daemon.socketPath)
                for _ in 0..<(Self.examinedPerPage / 8 + 20) {
                    let answer = client?.call(
                        .login(user: "busy", password: Array("busy-pass-phrase".utf8), codeKind: .none, code: "")
                    )
                    guard case .loginResult(.ok, _, _)? = answer else {
                        failures.mutate { $0 += 1 }
                        return
                    }
                }
            }.start()
        }
        group.wait()
        #expect(failures.value == 0, "\(daemon.log().suffix(2000))")

        let agent = try #require(WireClient(path: daemon.socketPath))
        let login = agent.call(
            .login(user: "quiet", password: Array("quiet-pass-phrase".utf8), codeKind: .none, code: "")
        )
        guard case .loginResult(.ok, _, _)? = login else {
            Issue.record("quiet's login: \(String(describing: login))")
            return
        }
        // The newest record is that login; its account-add lies behind every login of `busy`.
        let first = agent.call(.auditQuery(user: "", organization: "", since: 0, before: 0, limit: 2))
        guard case .auditList(let records, let next)? = first else {
            Issue.record("the first page: \(String(describing: first))")
            return
        }
        #expect(records.map(\.action) == ["login"])
        #expect(next != 0, "one page walked past \(Self.examinedPerPage) records of others")

        var actions = records.map(\.action)
        var before = next
        var pages = 1
        while before != 0, pages < 10 {
            guard
                case .auditList(let more, let after)? = agent.call(
                    .auditQuery(user: "", organization: "", since: 0, before: before, limit: 2)
                )
            else { break }
            actions += more.map(\.action)
            before = after
            pages += 1
        }
        #expect(actions == ["login", "account-add"])
        #expect(before == 0 && pages == 2, "pages: \(pages)")

        // The real client goes on from page to page.
        let listed = try daemon.ctl(
            ["audit", "--json", "--as", "quiet", "--password-stdin"],
            input: "quiet-pass-phrase\n"
        )
        #expect(listed.status == 0, "\(listed.standardError)")
        #expect(listed.standardOutput.contains("\"account-add\""), "\(listed.standardOutput)")
    }
}
