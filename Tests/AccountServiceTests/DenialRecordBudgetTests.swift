import AccountService
import AccountStore
import Authentication
import Testing

// A stranger who knows account names can have denied logins audited against all of them, each within the throttle
// of (account, its uid): 5 at once and 34 a day per account. Against an organization of 3,000 accounts one uid
// turned its 100,000-record part of the trail over in a day, pushing out the records an admin needs. The denials
// of one origin in one organization are audited within a budget per hour; the rest are counted, and still
// commit once each, as an audited one does (docs/security.md, "Denied logins cannot turn the trail over").

private let wrongPassword = Array("not-the-pass-phrase".utf8)

@Suite struct DenialRecordBudgetTests {
    /// Denied logins of `accounts`, each `times` times from `origin`, with a wrong password; returns the commits
    /// of each.
    private func deny(
        _ fixture: Fixture,
        _ accounts: [String],
        times: Int,
        from origin: ThrottleOrigin,
        code: CodeInput = .totp("123456")
    ) throws -> [Int] {
        var commits: [Int] = []
        for _ in 0..<times {
            for name in accounts {
                let before = fixture.store.durableCommits
                let answer = try fixture.service.login(
                    user: name,
                    password: wrongPassword,
                    code: code,
                    origin: origin
                )
                #expect(answer == .denied, "\(name)")
                commits.append(fixture.store.durableCommits - before)
            }
        }
        return commits
    }

    private func denials(_ fixture: Fixture, after sequence: UInt64) throws -> [AuditRecord] {
        try fixture.auditRecords(after: sequence).filter { $0.action == .login && $0.outcome == .denied }
    }

    @Test func aFloodOfDenialsFromOneUid_leavesTheBudgetOfRecords_andTheNextHourCountsTheRest() throws {
        let fixture = try Fixture()
        let names = (0..<10).map { "agent\($0)" }
        for name in names { try fixture.add(name) }
        let start = try fixture.newestAuditSequence()

        // 5 free failures of each of 10 accounts from one uid: 50 denials, each one commit as before.
        let commits = try deny(fixture, names, times: 5, from: .peer(uid: 4000))
        #expect(commits == Array(repeating: 1, count: 50))
        let flood = try denials(fixture, after: start)
        #expect(flood.count == AccountLimits.denialRecordsPerOrigin, "\(flood.map(\.detail))")
        #expect(
            flood.first?.detail == "wrong password (the last from uid 4000 audited this hour: later ones are counted)",
            "\(flood.first?.detail ?? "none")"
        )

        // Another origin keeps its own budget: its denial is audited.
        let other = try fixture.newestAuditSequence()
        _ = try deny(fixture, ["agent0"], times: 1, from: .peer(uid: 4001))
        #expect(try denials(fixture, after: other).map(\.detail) == ["wrong password"])

        // An hour later (the throttle's 30 s long over), the uid's next denial counts the 30 not audited.
        fixture.clock.advance(by: AccountLimits.denialInterval)
        let later = try fixture.newestAuditSequence()
        _ = try deny(fixture, ["agent1"], times: 1, from: .peer(uid: 4000))
        #expect(
            try denials(fixture, after: later).map(\.detail) == [
                "wrong password (+30 more from uid 4000 not audited since its last record)"
            ]
        )
    }

    /// The two-step login (no code, then the same password with one) and a wrong code of an account with 2FA
    /// spend the same budget.
    @Test func denialsWithACodeAndInTwoSteps_spendTheSameBudget() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("on")
        try fixture.add("off")
        let start = try fixture.newestAuditSequence()
        let origin = ThrottleOrigin.host("192.0.2.7")
        var answers: [LoginResult] = []
        for _ in 0..<5 {
            let memo = PasswordMemo()
            _ = try fixture.service.login(
                user: "off",
                password: wrongPassword,
                code: .none,
                origin: origin,
                passwordMemo: memo
            )
            answers.append(
                try fixture.service.login(
                    user: "off",
                    password: wrongPassword,
                    code: .totp("123456"),
                    origin: origin,
                    attemptHeld: true,
                    passwordMemo: memo
                )
            )
        }
        for _ in 0..<5 {
            let wrong = try oathtool(secret, at: fixture.clock.now + 3600)
            answers.append(
                try fixture.service.login(
                    user: "on",
                    password: Array("pass-phrase".utf8),
                    code: .totp(wrong),
                    origin: origin
                )
            )
        }
        #expect(answers == Array(repeating: .denied, count: 10))
        // 10 denials more from the same host: 20 in all, then folded.
        let names = (0..<4).map { "agent\($0)" }
        for name in names { try fixture.add(name) }
        _ = try deny(fixture, names, times: 3, from: origin)
        let records = try denials(fixture, after: start)
        #expect(records.count == AccountLimits.denialRecordsPerOrigin, "\(records.map(\.detail))")
        #expect(
            records.first?.detail.hasSuffix("(the last from host 192.0.2.7 audited this hour: later ones are counted)")
                == true
        )
    }
}
