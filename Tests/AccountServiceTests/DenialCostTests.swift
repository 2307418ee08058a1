import AccountService
import AccountStore
import Authentication
import Testing

// A denied or locked login must cost the same durable writes whether or not the account exists: a whole
// synced commit more for an account would tell it apart by time (an fsync is 0.3 ms on this machine's disk,
// milliseconds on a busy one). Counted with LMDBAccountStore.durableCommits, as in LoginCostTests.

private let wrongPassword = Array("pass-Phrase".utf8)

@Suite struct DenialCostTests {
    /// An account with 2FA on, one without, one pending, a name without an account and a name no account
    /// could have.
    private static let subjects = ["on", "off", "pending", "nobody-here", "not a name!"]

    private func fixtureWithEverySubject() throws -> Fixture {
        let fixture = try Fixture()
        _ = try fixture.enrolled("on")
        try fixture.add("off")
        try fixture.add("pending", requireTwoFactor: true)
        return fixture
    }

    private func newestAuditRecord(_ fixture: Fixture) throws -> AuditRecord? {
        try fixture.store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first
    }

    @Test func wrongPasswordWithACode_commitsAlike_forAnAccountAndANameWithoutOne() throws {
        let fixture = try fixtureWithEverySubject()
        var commits: [String: Int] = [:]
        for (index, user) in Self.subjects.enumerated() {
            let before = fixture.store.durableCommits
            let answer = try fixture.service.login(
                user: user,
                password: wrongPassword,
                code: .totp("123456"),
                origin: .peer(uid: 2000 + UInt32(index))
            )
            #expect(answer == .denied, "\(user)")
            commits[user] = fixture.store.durableCommits - before
        }
        // One write: the attempt counted, with the denial's audit record or the write in its place.
        #expect(commits == Dictionary(uniqueKeysWithValues: Self.subjects.map { ($0, 1) }))
    }

    /// The two-step login of the clients: without a code first (`codeNeeded` for everyone), then with one.
    @Test func wrongPasswordInTwoSteps_commitsAlike_forAnAccountAndANameWithoutOne() throws {
        let fixture = try fixtureWithEverySubject()
        var commits: [String: [Int]] = [:]
        for (index, user) in Self.subjects.enumerated() {
            let origin = ThrottleOrigin.peer(uid: 3000 + UInt32(index))
            let memo = PasswordMemo()
            let start = fixture.store.durableCommits
            let first = try fixture.service.login(
                user: user,
                password: wrongPassword,
                code: .none,
                origin: origin,
                passwordMemo: memo
            )
            #expect(first == .codeNeeded, "\(user)")
            let afterFirst = fixture.store.durableCommits
            let second = try fixture.service.login(
                user: user,
                password: wrongPassword,
                code: .totp("123456"),
                origin: origin,
                attemptHeld: true,
                passwordMemo: memo
            )
            #expect(second == .denied, "\(user)")
            commits[user] = [afterFirst - start, fixture.store.durableCommits - afterFirst]
        }
        #expect(commits == Dictionary(uniqueKeysWithValues: Self.subjects.map { ($0, [1, 1]) }))
    }

    /// Only an account's denial is audited: names sprayed by an attacker must not push real records out of the
    /// capped trail.
    @Test func aNameWithoutAnAccount_leavesNoAuditRecord_anAccountItsDenial() throws {
        let fixture = try fixtureWithEverySubject()
        let origin = ThrottleOrigin.peer(uid: 4000)
        let newest = try newestAuditRecord(fixture)
        for _ in 0..<3 {
            let answer = try fixture.service.login(
                user: "nobody-here",
                password: wrongPassword,
                code: .totp("123456"),
                origin: origin
            )
            #expect(answer == .denied)
        }
        #expect(try newestAuditRecord(fixture) == newest)

        _ = try fixture.service.login(user: "off", password: wrongPassword, code: .totp("123456"), origin: origin)
        let denial = try newestAuditRecord(fixture)
        #expect(denial?.target?.value == "off" && denial?.outcome == .denied && denial?.detail == "wrong password")
    }

    /// Each subject is locked after exactly the free failures (the write in place of a denial record leaves the
    /// count as it was). Retrying a locked login writes nothing and audits nothing, for an account as for a
    /// name without one:
    /// before, every refusal of an account appended an audit record in its own synced commit, so an
    /// unprivileged peer retrying its own locked key pushed thousands of records a second out of the trail.
    @Test func aLockedLogin_writesNothing_andAuditsNothing_forAnAccountOrANameWithoutOne() throws {
        let fixture = try fixtureWithEverySubject()
        for (index, user) in Self.subjects.enumerated() {
            let origin = ThrottleOrigin.peer(uid: 5000 + UInt32(index))
            for _ in 0..<ThrottlePolicy.standard.freeFailures {
                let answer = try fixture.service.login(
                    user: user,
                    password: wrongPassword,
                    code: .totp("123456"),
                    origin: origin
                )
                #expect(answer == .denied, "\(user)")
            }
            let commits = fixture.store.durableCommits
            let newest = try newestAuditRecord(fixture)
            for _ in 0..<20 {
                let answer = try fixture.service.login(user: user, password: wrongPassword, code: .none, origin: origin)
                guard case .locked = answer else {
                    Issue.record("\(user): \(answer)")
                    return
                }
            }
            #expect(fixture.store.durableCommits == commits, "\(user)")
            #expect(try newestAuditRecord(fixture) == newest, "\(user)")
        }
    }

    /// A locked Login writes nothing, so nothing would mask the time of reading the account first: before, its
    /// record was decoded and its secrets opened before the throttle decision, and locked retries took 213 µs
    /// for an account with 2FA, 178 µs for one without and 185 µs for a name without one (review of
    /// 2026-12-06). Now only whether it exists is read before the decision.
    @Test func aLockedLogin_opensNoAccountRecord_forAnyName() throws {
        let fixture = try fixtureWithEverySubject()
        for (index, user) in Self.subjects.enumerated() {
            let origin = ThrottleOrigin.peer(uid: 6000 + UInt32(index))
            var answer = LoginResult.denied
            for _ in 0..<20 where answer == .denied {
                answer = try fixture.service.login(
                    user: user,
                    password: wrongPassword,
                    code: .totp("123456"),
                    origin: origin
                )
            }
            guard case .locked = answer else {
                Issue.record("\(user) was not locked: \(answer)")
                return
            }
            let opened = fixture.store.accountRecordsOpened
            for _ in 0..<10 {
                _ = try fixture.service.login(user: user, password: wrongPassword, code: .none, origin: origin)
            }
            #expect(fixture.store.accountRecordsOpened == opened, "\(user)")
        }
    }

    /// A denied or `codeNeeded` login reads as much for every name: an account's record, or a stand-in's in
    /// place of one that does not exist (`AccountStore.accountForLogin`). Before, a name without an account read
    /// nothing, and a denial of an account with 2FA took 67 to 85 µs longer than one of an unknown name.
    @Test func aDeniedLogin_opensOneRecord_forEveryName() throws {
        let fixture = try fixtureWithEverySubject()
        // The first login learns the stored scrypt costs, reading the accounts once.
        _ = try fixture.service.login(
            user: "nobody-here",
            password: wrongPassword,
            code: .none,
            origin: .peer(uid: 6999)
        )
        var opened: [String: [Int]] = [:]
        for (index, user) in Self.subjects.enumerated() {
            let origin = ThrottleOrigin.peer(uid: 7000 + UInt32(index))
            var counts: [Int] = []
            for code in [CodeInput.none, .totp("123456")] {
                let before = fixture.store.accountRecordsOpened
                _ = try fixture.service.login(user: user, password: wrongPassword, code: code, origin: origin)
                counts.append(fixture.store.accountRecordsOpened - before)
            }
            opened[user] = counts
        }
        #expect(opened == Dictionary(uniqueKeysWithValues: Self.subjects.map { ($0, [1, 1]) }))
    }
}
