import AccountService
import AccountStore
import Authentication
import Logging
import PasswordHashing
import Synchronization
import Testing

// What a login costs, counted rather than timed: scrypt derivations (PasswordHasher.derivationCount) and
// durable commits (LMDBAccountStore.durableCommits).

private let password = Array("pass-phrase".utf8)
private let wrongPassword = Array("pass-Phrase".utf8)

@Suite struct LoginCostTests {
    @Test func twoStepLogin_samePassword_costsOneScrypt() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("ann")
        fixture.clock.advance(by: 30)
        let memo = PasswordMemo()
        let before = fixture.hasher.derivationCount
        let first = try fixture.service.login(user: "ann", password: password, code: .none, passwordMemo: memo)
        #expect(first == .codeNeeded)
        let code = try oathtool(secret, at: fixture.clock.now)
        let second = try fixture.service.login(
            user: "ann",
            password: password,
            code: .totp(code),
            attemptHeld: true,
            passwordMemo: memo
        )
        #expect(second == .ok)
        #expect(fixture.hasher.derivationCount - before == 1)
    }

    /// The memo answers for a wrong password and an unknown user exactly as for a right one: the second
    /// request costs nothing more when the password is the same, one scrypt when it differs.
    @Test func twoStepLogin_costsTheSame_forRightAndWrongPasswordAndUnknownUser() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("bea")
        var costs: [[Int]] = []
        var uid: UInt32 = 1000
        for (user, first) in [("bea", password), ("bea", wrongPassword), ("nobody", password)] {
            for second in [first, first.reversed()] {
                fixture.clock.advance(by: 30)
                // Each from its own peer, so that no throttle lock changes what is counted.
                uid += 1
                let memo = PasswordMemo()
                let start = fixture.hasher.derivationCount
                let answer = try fixture.service.login(
                    user: user,
                    password: first,
                    code: .none,
                    origin: .peer(uid: uid),
                    passwordMemo: memo
                )
                #expect(answer == .codeNeeded)
                let afterFirst = fixture.hasher.derivationCount
                _ = try fixture.service.login(
                    user: user,
                    password: second,
                    code: .totp(try oathtool(secret, at: fixture.clock.now)),
                    origin: .peer(uid: uid),
                    attemptHeld: true,
                    passwordMemo: memo
                )
                costs.append([afterFirst - start, fixture.hasher.derivationCount - afterFirst])
            }
        }
        #expect(costs == Array(repeating: [1, 0], count: 3).flatMap { [$0, [1, 1]] })
    }

    @Test func twoStepLogin_wrongPasswordRemembered_neverLetsTheCodeThrough() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("cid")
        fixture.clock.advance(by: 30)
        let memo = PasswordMemo()
        let first = try fixture.service.login(user: "cid", password: wrongPassword, code: .none, passwordMemo: memo)
        #expect(first == .codeNeeded)
        let code = try oathtool(secret, at: fixture.clock.now)
        let answer = try fixture.service.login(
            user: "cid",
            password: wrongPassword,
            code: .totp(code),
            attemptHeld: true,
            passwordMemo: memo
        )
        #expect(answer == .denied)
        // A right password after a remembered wrong one is checked, and works.
        let memo2 = PasswordMemo()
        let again = try fixture.service.login(user: "cid", password: wrongPassword, code: .none, passwordMemo: memo2)
        #expect(again == .codeNeeded)
        let retry = try fixture.service.login(user: "cid", password: password, code: .totp(code), passwordMemo: memo2)
        #expect(retry == .ok)
    }

    @Test func twoStepLogin_passwordChangedMeanwhile_isCheckedAgainstTheNewHash() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("dan")
        fixture.clock.advance(by: 30)
        let memo = PasswordMemo()
        let first = try fixture.service.login(user: "dan", password: password, code: .none, passwordMemo: memo)
        #expect(first == .codeNeeded)
        try fixture.service.setPassword(caller: root, name: "dan", password: Array("another-phrase".utf8))
        let answer = try fixture.service.login(
            user: "dan",
            password: password,
            code: .totp(try oathtool(secret, at: fixture.clock.now)),
            attemptHeld: true,
            passwordMemo: memo
        )
        #expect(answer == .denied)
    }

    /// A code check commits once: the throttle decision, the step, the cleared throttle and the audit record
    /// are one write.
    @Test func codeCheck_commitsOnce_withTheAuditRecordAndTheClearedThrottle() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("eve")
        fixture.clock.advance(by: 30)
        let code = try oathtool(secret, at: fixture.clock.now)
        let before = fixture.store.durableCommits
        #expect(try fixture.service.checkCode(user: "eve", code: .totp(code), origin: .host("203.0.113.9")) == .ok)
        #expect(fixture.store.durableCommits - before == 1)
        let key = ThrottleKey(subject: "eve", origin: .host("203.0.113.9"))
        #expect(try fixture.store.throttleRecord(key).failures == 0)
        #expect(try fixture.stored("eve")?.failureCount == 0)
        let last = try fixture.store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first
        #expect(last?.action == .login && last?.outcome == .ok && last?.detail == "password+totp")
    }

    /// A wrong or replayed code also commits once: the failure counted and the denial audited together. A
    /// locked account's check writes nothing (its commit is empty, which LMDB does not sync), and its right
    /// code is refused.
    @Test func codeCheck_wrongOrReplayed_commitsOnce_andLockedCommitsNothing() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("gil")
        fixture.clock.advance(by: 30)
        let code = try oathtool(secret, at: fixture.clock.now)
        let wrong = String(code.reversed()) == code ? "000000" : String(code.reversed())
        let key = ThrottleKey(subject: "gil", origin: .host("198.51.100.4"))
        let origin = ThrottleOrigin.host("198.51.100.4")
        var before = fixture.store.durableCommits
        #expect(try fixture.service.checkCode(user: "gil", code: .totp(wrong), origin: origin) == .denied)
        #expect(fixture.store.durableCommits - before == 1)
        #expect(try fixture.store.throttleRecord(key).failures == 1)
        var last = try fixture.store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first
        #expect(last?.outcome == .denied && last?.detail == "wrong code")

        #expect(try fixture.service.checkCode(user: "gil", code: .totp(code), origin: origin) == .ok)
        before = fixture.store.durableCommits
        #expect(try fixture.service.checkCode(user: "gil", code: .totp(code), origin: origin) == .denied)
        #expect(fixture.store.durableCommits - before == 1)
        last = try fixture.store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first
        #expect(last?.outcome == .denied && last?.detail == "replayed code")

        // Fail until locked, then a fresh right code is refused and nothing is written.
        var answer = LoginResult.denied
        for _ in 0..<20 where answer == .denied {
            answer = try fixture.service.checkCode(user: "gil", code: .totp("000000"), origin: origin)
        }
        guard case .locked = answer else {
            Issue.record("twenty wrong codes did not lock the account: \(answer)")
            return
        }
        // The next step's code, inside the window, so that no clock change lifts the lock.
        let fresh = try oathtool(secret, at: fixture.clock.now + 30)
        let failures = try fixture.store.throttleRecord(key).failures
        let auditBefore = try fixture.store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first
        guard case .locked = try fixture.service.checkCode(user: "gil", code: .totp(fresh), origin: origin) else {
            Issue.record("a locked account's right code was not refused as locked")
            return
        }
        #expect(try fixture.store.throttleRecord(key).failures == failures)
        #expect(try fixture.store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first == auditBefore)
        #expect(try fixture.stored("gil")?.authenticators.first?.lastAcceptedStep == UInt64(fixture.clock.now / 30))
    }

    /// A login decided by its password alone commits once: the throttle decision, the success, the cleared
    /// throttle and the audit record are one write, made after the password was hashed.
    @Test func passwordLogin_withoutTwoFactor_commitsOnce() throws {
        let fixture = try Fixture()
        try fixture.add("fay")
        let before = fixture.store.durableCommits
        #expect(try fixture.service.login(user: "fay", password: password, code: .none, origin: .host("h")) == .ok)
        #expect(fixture.store.durableCommits - before == 1)
        #expect(try fixture.store.throttleRecord(ThrottleKey(subject: "fay", origin: .host("h"))).failures == 0)
        let last = try fixture.store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first
        #expect(last?.action == .login && last?.outcome == .ok && last?.target?.value == "fay")
    }
}

extension LoginCostTests {
    /// pam_twofactor.so `code_only` asks first what the account needs (a check without a code), then sends the
    /// code. The question checks nothing, so it is no attempt: it commits nothing and counts nothing, and the
    /// whole two-step check commits once.
    @Test func codeCheck_withoutACode_commitsNothing_andTheTwoStepCheckCommitsOnce() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("hal")
        fixture.clock.advance(by: 30)
        let origin = ThrottleOrigin.host("192.0.2.7")
        let key = ThrottleKey(subject: "hal", origin: origin)
        let before = fixture.store.durableCommits
        for _ in 0..<10 {
            #expect(try fixture.service.checkCode(user: "hal", code: .none, origin: origin) == .codeNeeded)
        }
        #expect(fixture.store.durableCommits == before)
        #expect(try fixture.store.throttleRecord(key).failures == 0)
        #expect(try fixture.stored("hal")?.failureCount == 0)
        let code = try oathtool(secret, at: fixture.clock.now)
        #expect(try fixture.service.checkCode(user: "hal", code: .totp(code), origin: origin) == .ok)
        #expect(fixture.store.durableCommits - before == 1)
    }

    /// Questions never hide wrong codes: each wrong code counts, however many questions come between, and once
    /// the key is locked the question itself is answered `locked`, before anyone is asked for a code.
    @Test func codeCheck_wrongCodesBetweenQuestions_eachCount_andALockedKeyAnswersTheQuestionLocked() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("ivy")
        fixture.clock.advance(by: 30)
        let origin = ThrottleOrigin.host("192.0.2.8")
        let key = ThrottleKey(subject: "ivy", origin: origin)
        var answer = LoginResult.codeNeeded
        var wrongCodes: UInt32 = 0
        while answer == .codeNeeded, wrongCodes < 20 {
            #expect(try fixture.service.checkCode(user: "ivy", code: .totp("000000"), origin: origin) == .denied)
            wrongCodes += 1
            #expect(try fixture.store.throttleRecord(key).failures == wrongCodes)
            answer = try fixture.service.checkCode(user: "ivy", code: .none, origin: origin)
        }
        guard case .locked = answer else {
            Issue.record("twenty wrong codes did not lock the key: \(answer)")
            return
        }
        #expect(try fixture.store.throttleRecord(key).failures == wrongCodes, "the locked question counted nothing")
    }
}

extension LoginCostTests {
    /// A login with its password and code also commits once, as a code check does.
    @Test func passwordAndCodeLogin_commitsOnce() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("gus")
        fixture.clock.advance(by: 30)
        let code = try oathtool(secret, at: fixture.clock.now)
        let before = fixture.store.durableCommits
        #expect(
            try fixture.service.login(user: "gus", password: password, code: .totp(code), origin: .host("h")) == .ok
        )
        #expect(fixture.store.durableCommits - before == 1)
        #expect(try fixture.stored("gus")?.lastAcceptedStep == UInt64(fixture.clock.now / 30))
    }

    /// The password is hashed after a preview of the lock, and the login decided in a write that takes the
    /// decision again. A login that races into a lock (here failures are counted while its password is hashed)
    /// is refused as locked after its hash: its right password and code tell nothing, and nothing is written.
    @Test(arguments: [true, false])
    func aLoginRacingIntoALock_isRefusedAsLocked_afterItsHash_andWritesNothing(withACode: Bool) throws {
        let fixture = try Fixture()
        let user = withACode ? "kim" : "lou"
        let secret = withACode ? try fixture.enrolled(user) : nil
        if !withACode { try fixture.add(user) }
        fixture.clock.advance(by: 30)
        let key = ThrottleKey(subject: user, origin: .peer(uid: 7000))
        let (store, clock, hasher) = (fixture.store, fixture.clock, fixture.hasher)
        let hashesBefore = hasher.derivationCount
        let locked = Mutex(false)
        // The first clock reading after the hash locks the key, as other logins of the same peer would.
        let service = AccountService(
            store: store,
            hasher: hasher,
            clock: {
                if hasher.derivationCount > hashesBefore, !locked.withLock({ $0 }) {
                    locked.withLock { $0 = true }
                    for _ in 0..<ThrottlePolicy.standard.freeFailures {
                        _ = try? store.reserveAttempt(key, at: clock.now) { _, _ in .allowed }
                    }
                }
                return clock.now
            },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let before = try fixture.stored(user)
        let newest = try fixture.store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first
        let code: CodeInput = try secret.map { .totp(try oathtool($0, at: clock.now)) } ?? .none
        let answer = try service.login(user: user, password: password, code: code, origin: .peer(uid: 7000))
        #expect(locked.withLock { $0 }, "the key was not locked during the login")
        #expect(hasher.derivationCount - hashesBefore == 1)
        guard case .locked = answer else {
            Issue.record("a login racing into a lock answered \(answer)")
            return
        }
        let after = try fixture.stored(user)
        #expect(after?.lastAcceptedStep == before?.lastAcceptedStep && after?.lastLoginAt == before?.lastLoginAt)
        #expect(try fixture.store.throttleRecord(key).failures == ThrottlePolicy.standard.freeFailures)
        #expect(try fixture.store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first == newest)
    }
}
