import AccountService
import AccountStore
import Authentication
import LMDBAccountStore
import Logging
import OneTimePassword
import PasswordHashing
import PostgresAccountStore
import StoredRecords
import Synchronization
import Testing
import TestSupport

// Two logins of the same user with the right password just after the operator raised the scrypt cost: the first
// to get in rehashes the password (`upgradePasswordHashIfNeeded`) while the second still checks it against the old
// hash, and the second's write finds another hash than the one it checked. Each test runs the first login between
// the second's read and its write, on the real LMDB store (and PostgreSQL for the logins of one write), with
// services hashing at the raised cost.

private let password = Array("pass-phrase".utf8)

@Suite struct RehashRaceTests {
    /// The daemon restarted with a higher cost than the fixture's stored hashes have.
    let hasher = PasswordHasher(cost: ScryptCost(logN: 11, r: 8, p: 1))

    /// A service at the raised cost whose store runs `race` just before the login counts its attempt.
    func service(_ fixture: Fixture, racing race: @escaping @Sendable () throws -> Void) -> AccountService {
        let clock = fixture.clock
        return AccountService(
            store: RacingStore(fixture.store, beforeReservingAnAttempt: race),
            hasher: hasher,
            clock: { clock.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// A service at the raised cost whose clock runs `race` once the login has hashed its password.
    func serviceRacingAfterTheHash(_ fixture: Fixture, _ race: @escaping @Sendable () throws -> Void) -> AccountService
    {
        let (hasher, before) = (hasher, hasher.derivationCount)
        return fixture.racing(hashingWith: hasher, when: { hasher.derivationCount > before }, race)
    }

    func failures(_ fixture: Fixture, _ user: String, uid: UInt32) throws -> UInt32 {
        try fixture.store.throttleRecord(ThrottleKey(subject: user, origin: .peer(uid: uid))).failures
    }

    /// The race of the closing note: before, the second login was denied as a wrong password, and counted.
    @Test(arguments: Backend.allCases)
    func aPasswordOnlyLogin_whenALoginOfTheSameUserRehashesDuringItsHash_isOk_andNotCounted(_ backend: Backend) throws {
        let setup = try RaceSetup(backend, raisedTo: hasher)
        try setup.added("ivy")
        let old = try setup.stored("ivy").passwordHash
        let first = setup.after
        let racing = setup.racingAfterTheHash {
            let answer = try first.login(user: "ivy", password: password, code: .none, origin: .peer(uid: 7101))
            #expect(answer == .ok, "the first login did not get in")
        }
        let answer = try racing.login(user: "ivy", password: password, code: .none, origin: .peer(uid: 7102))
        #expect(answer == .ok)
        let stored = try setup.stored("ivy")
        #expect(stored.passwordHash != old && !hasher.needsRehash(stored.passwordHash), "no login rehashed")
        #expect(try setup.failures("ivy", uid: 7102) == 0)
        #expect(stored.failureCount == 0)
    }

    /// The same with a code in the same request (each login with its own step): before, denied and counted.
    @Test(arguments: Backend.allCases)
    func aLoginWithACode_whenALoginOfTheSameUserRehashesDuringItsHash_isOk_andNotCounted(_ backend: Backend) throws {
        let setup = try RaceSetup(backend, raisedTo: hasher)
        let secret = try setup.enrolled("jay")
        let now = setup.clock.now
        let first = setup.after
        let racing = setup.racingAfterTheHash {
            let code = try oathtool(secret, at: now - 30)
            let answer = try first.login(user: "jay", password: password, code: .totp(code), origin: .peer(uid: 7103))
            #expect(answer == .ok, "the first login did not get in")
        }
        let code = try oathtool(secret, at: now)
        let answer = try racing.login(user: "jay", password: password, code: .totp(code), origin: .peer(uid: 7104))
        #expect(answer == .ok)
        let stored = try setup.stored("jay")
        #expect(!hasher.needsRehash(stored.passwordHash), "no login rehashed")
        #expect(stored.lastAcceptedStep == UInt64(now / 30))
        #expect(try setup.failures("jay", uid: 7104) == 0)
    }

    /// The first test's race, the second login from a privileged peer (counted against the account as well): the
    /// trail after it holds the two logins' successes and no denial. Before, the second login's refused write left
    /// `the account changed during the login` in the trail just before its `ok`, a denial that was none.
    @Test(arguments: Backend.allCases)
    func aPasswordOnlyLogin_decidedAgainAfterARehash_leavesOnlyItsSuccessInTheTrail(_ backend: Backend) throws {
        let setup = try RaceSetup(backend, raisedTo: hasher)
        try setup.added("uma")
        let first = setup.after
        let racing = setup.racingAfterTheHash {
            let answer = try first.login(user: "uma", password: password, code: .none, origin: .peer(uid: 7112))
            #expect(answer == .ok, "the first login did not get in")
        }
        let sequence = try setup.newestAuditSequence()
        let answer = try racing.login(user: "uma", password: password, code: .none, origin: .local)
        #expect(answer == .ok)
        try setup.expectTwoSuccessesAndNoFailure(of: "uma", after: sequence)
    }

    /// The same for a login with a code in the same request: before, `replayed code, or the account changed during
    /// the login` stood before its `ok`.
    @Test(arguments: Backend.allCases)
    func aLoginWithACode_decidedAgainAfterARehash_leavesOnlyItsSuccessInTheTrail(_ backend: Backend) throws {
        let setup = try RaceSetup(backend, raisedTo: hasher)
        let secret = try setup.enrolled("vic")
        let now = setup.clock.now
        let first = setup.after
        let racing = setup.racingAfterTheHash {
            let code = try oathtool(secret, at: now - 30)
            let answer = try first.login(user: "vic", password: password, code: .totp(code), origin: .peer(uid: 7113))
            #expect(answer == .ok, "the first login did not get in")
        }
        let sequence = try setup.newestAuditSequence()
        let code = try oathtool(secret, at: now)
        let answer = try racing.login(user: "vic", password: password, code: .totp(code), origin: .local)
        #expect(answer == .ok)
        try setup.expectTwoSuccessesAndNoFailure(of: "vic", after: sequence)
        // Nor in the log: before, "login denied" came just before "login ok".
        #expect(!setup.racingLog.lines.contains { $0.contains("login denied") }, "\(setup.racingLog.lines)")
        #expect(setup.racingLog.lines.contains { $0.contains("login ok") }, "\(setup.racingLog.lines)")
    }

    /// A real password change after the cost change, during a login with the old password and a code: the login is
    /// denied, counted and audited once, as a login decided once is.
    @Test(arguments: Backend.allCases)
    func aLoginWithACodeAndTheOldPassword_whenThePasswordChangesDuringItsHash_isDeniedAuditedAndCountedOnce(
        _ backend: Backend
    ) throws {
        let setup = try RaceSetup(backend, raisedTo: hasher)
        let secret = try setup.enrolled("wes")
        let admin = setup.after
        let racing = setup.racingAfterTheHash {
            try admin.setPassword(caller: root, name: "wes", password: Array("a-new-pass-phrase".utf8))
        }
        let sequence = try setup.newestAuditSequence()
        let code = try oathtool(secret, at: setup.clock.now)
        let answer = try racing.login(user: "wes", password: password, code: .totp(code), origin: .local)
        #expect(answer == .denied)
        let denials = try setup.auditRecords(after: sequence).filter { $0.action == .login && $0.outcome == .denied }
        #expect(denials.map(\.detail) == ["replayed code, or the account changed during the login"])
        #expect(try setup.failures("wes", origin: .local) == 1)
        #expect(try setup.stored("wes").failureCount == 1)
        #expect(try setup.stored("wes").lastLoginAt == nil)
    }

    /// `name`, enrolled at the fixture's cost, its secret and recovery codes; the clock then a step later.
    func enrolledWithRecoveryCodes(_ fixture: Fixture, _ name: String) throws -> ([UInt8], [String]) {
        try fixture.add(name)
        let offer = try fixture.service.beginEnrollment(caller: root, name: name, parameters: .standard)
        let secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
        let codes = try fixture.service.confirmEnrollment(
            caller: root,
            name: name,
            code: try oathtool(secret, at: fixture.clock.now)
        ).recoveryCodes
        fixture.clock.advance(by: 30)
        return (secret, codes)
    }

    /// A service at the raised cost over `fixture`'s store that logs `name` in with a code (as another login of
    /// the same user would, upgrading its hash) just before its own login counts its attempt.
    func racingALoginWithACode(_ fixture: Fixture, _ name: String, secret: [UInt8], uid: UInt32) -> AccountService {
        let (first, now) = (fixture.service(hashingWith: hasher), fixture.clock.now)
        return service(fixture) {
            let code = try oathtool(secret, at: now)
            let answer = try first.login(user: name, password: password, code: .totp(code), origin: .peer(uid: uid))
            #expect(answer == .ok, "the first login did not get in")
        }
    }

    /// A recovery code racing a login that rehashes: before, denied and not spent.
    @Test func aRecoveryCode_whenALoginOfTheSameUserRehashesDuringTheLogin_isSpent_andLetsIn() throws {
        let fixture = try Fixture()
        let (secret, codes) = try enrolledWithRecoveryCodes(fixture, "kim")
        let racing = racingALoginWithACode(fixture, "kim", secret: secret, uid: 7105)
        let answer = try racing.login(
            user: "kim",
            password: password,
            code: .recovery(codes[0]),
            origin: .peer(uid: 7106)
        )
        #expect(answer == .recovered(remaining: codes.count - 1))
        let stored = try #require(try fixture.stored("kim"))
        #expect(!hasher.needsRehash(stored.passwordHash), "no login rehashed")
        #expect(stored.recoveryCodes.count == codes.count - 1)
        #expect(try failures(fixture, "kim", uid: 7106) == 0)
    }

    /// The same as an admin recovering (`user passwd nia --as nia --code`): the session the login opens acts for the
    /// account as the other login's rehash left it. Before (once the login above was decided again), the code was
    /// spent but the session was for the old hash, and refused its first request.
    @Test func aRecoveryCodeLogin_whenALoginOfTheSameUserRehashesDuringIt_opensASessionThatActs() throws {
        let fixture = try Fixture()
        let (secret, codes) = try enrolledWithRecoveryCodes(fixture, "nia")
        let racing = racingALoginWithACode(fixture, "nia", secret: secret, uid: 7109)
        let (answer, opened) = try racing.openSession(user: "nia", password: password, code: .recovery(codes[0]))
        #expect(answer == .recovered(remaining: codes.count - 1))
        let session = try #require(opened)
        let caller = Result { () throws(ServiceError) in try racing.caller(session: session, operatorUID: nil) }
        guard case .success(.account(let nia)) = caller else {
            Issue.record("the session does not act for nia: \(caller)")
            return
        }
        #expect(try nia.passwordHash == fixture.stored("nia")?.passwordHash)
    }

    /// The second request of a two-step login (the code, completing the attempt its `codeNeeded` held, its
    /// password remembered: PAM's usual way) racing a login that rehashes between its read and its write. Before,
    /// denied (the held attempt stays counted).
    @Test func aHeldLoginsCode_whenALoginOfTheSameUserRehashesBeforeItsWrite_isOk() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("ona")
        fixture.clock.advance(by: 90)
        let now = fixture.clock.now
        let first = fixture.service(hashingWith: hasher)
        let clock = fixture.clock
        let racing = AccountService(
            store: RacingStore(
                fixture.store,
                before: .recordingALogin,
                {
                    let code = try oathtool(secret, at: now - 30)
                    let answer = try first.login(
                        user: "ona",
                        password: password,
                        code: .totp(code),
                        origin: .peer(uid: 7110)
                    )
                    #expect(answer == .ok, "the first login did not get in")
                }
            ),
            hasher: hasher,
            clock: { clock.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let memo = PasswordMemo()
        let held = try racing.login(
            user: "ona",
            password: password,
            code: .none,
            origin: .peer(uid: 7111),
            passwordMemo: memo
        )
        #expect(held == .codeNeeded)
        let answer = try racing.login(
            user: "ona",
            password: password,
            code: .totp(try oathtool(secret, at: now)),
            origin: .peer(uid: 7111),
            attemptHeld: true,
            passwordMemo: memo
        )
        #expect(answer == .ok)
        let stored = try #require(try fixture.stored("ona"))
        #expect(!hasher.needsRehash(stored.passwordHash), "no login rehashed")
        #expect(stored.lastAcceptedStep == UInt64(now / 30))
        #expect(try failures(fixture, "ona", uid: 7111) == 0)
    }

    /// A login from a trusted network racing a login that rehashes: its waiver still holds. Before, it was
    /// asked for a code.
    @Test func aLoginFromATrustedNetwork_whenALoginOfTheSameUserRehashesDuringIt_isOk() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("lou")
        _ = try fixture.service.setOrganizationAccess(
            caller: root,
            name: "default",
            gracePeriod: 0,
            trustedNetworks: ["192.0.2.0/24"]
        )
        fixture.clock.advance(by: 30)
        let now = fixture.clock.now
        let first = fixture.service(hashingWith: hasher)
        let racing = service(fixture) {
            let code = try oathtool(secret, at: now)
            let answer = try first.login(user: "lou", password: password, code: .totp(code), origin: .peer(uid: 7107))
            #expect(answer == .ok, "the first login did not get in")
        }
        let sshd = LoginContext(
            peerIsPrivileged: true,
            peerUID: 0,
            reportedRemoteHost: "192.0.2.9",
            service: "sshd",
            peerSession: nil
        )
        let answer = try racing.login(user: "lou", password: password, code: .none, context: sshd)
        #expect(answer == .ok)
        #expect(!hasher.needsRehash(try #require(try fixture.stored("lou")).passwordHash), "no login rehashed")
    }

    /// A real password change after the cost change, during a login with the old password: the login is decided
    /// again against the new hash, and is denied and counted once, as before.
    @Test func aLoginWithTheOldPassword_whenThePasswordChangesDuringItsHash_afterACostChange_isDeniedAndCountedOnce()
        throws
    {
        let fixture = try Fixture()
        try fixture.add("max")
        let admin = fixture.service(hashingWith: hasher)
        let racing = serviceRacingAfterTheHash(fixture) {
            try admin.setPassword(caller: root, name: "max", password: Array("a-new-pass-phrase".utf8))
        }
        let sequence = try fixture.newestAuditSequence()
        let answer = try racing.login(user: "max", password: password, code: .none, origin: .peer(uid: 7108))
        #expect(answer == .denied)
        #expect(try failures(fixture, "max", uid: 7108) == 1)
        let denials = try fixture.auditRecords(after: sequence).filter { $0.action == .login && $0.outcome == .denied }
        #expect(denials.count == 1)
        #expect(try fixture.stored("max")?.lastLoginAt == nil)
    }
}

/// A fresh store of `backend` and services over it: `before` hashes at the cost of the stored hashes, `after` at the
/// raised one (the daemon restarted after the operator raised `--scrypt-log-n`).
final class RaceSetup {
    let directory = TemporaryDirectory(prefix: "rehash-race-tests")
    let store: any AccountStore
    let clock = TestClock(1_900_000_000)
    let hasher: PasswordHasher
    let before: AccountService
    let after: AccountService
    /// What `racingAfterTheHash`'s service logged.
    let racingLog = CapturedLog()

    init(_ backend: Backend, raisedTo hasher: PasswordHasher) throws {
        store = try backend.openStore(in: directory)
        self.hasher = hasher
        before = Self.service(store, PasswordHasher(cost: ScryptCost(logN: 10, r: 8, p: 1)), clock, race: nil)
        after = Self.service(store, hasher, clock, race: nil)
    }

    /// A service at the raised cost whose clock runs `race` once, when first read after its login hashed.
    func racingAfterTheHash(_ race: @escaping @Sendable () throws -> Void) -> AccountService {
        Self.service(store, hasher, clock, race: race, logger: racingLog.logger)
    }

    private static func service(
        _ store: any AccountStore,
        _ hasher: PasswordHasher,
        _ clock: TestClock,
        race: (@Sendable () throws -> Void)?,
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    ) -> AccountService {
        let before = hasher.derivationCount
        let pending = Mutex(race)
        return AccountService(
            store: store,
            hasher: hasher,
            clock: {
                if hasher.derivationCount > before,
                    let race = pending.withLock({ race in
                        defer { race = nil }; return race
                    })
                {
                    do { try race() } catch { Issue.record("the racing login failed: \(error)") }
                }
                return clock.now
            },
            logger: logger
        )
    }

    func stored(_ name: String) throws -> Account {
        try #require(try store.account(named: try AccountName(name)))
    }

    /// Adds `name`, an agent without 2FA whose password is `pass-phrase`, at the cost of the stored hashes.
    func added(_ name: String) throws {
        _ = try before.addAccount(
            caller: root,
            name: name,
            organization: nil,
            role: .agent,
            requireTwoFactor: false,
            password: Array("pass-phrase".utf8)
        )
    }

    /// Adds `name` (`added`) and enrolls it; returns its secret. The clock is then three steps later, so that a
    /// code of its step and one of the step before are both still to be taken.
    func enrolled(_ name: String) throws -> [UInt8] {
        try added(name)
        let offer = try before.beginEnrollment(caller: root, name: name, parameters: .standard)
        let secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
        try before.confirmEnrollment(caller: root, name: name, code: try oathtool(secret, at: clock.now))
        clock.advance(by: 90)
        return secret
    }

    /// The sequence of the newest audit record, 0 before any.
    func newestAuditSequence() throws -> UInt64 {
        try store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first?.sequence ?? 0
    }

    /// The audit records appended after `sequence`, newest first.
    func auditRecords(after sequence: UInt64) throws -> [AuditRecord] {
        try store.auditRecords(matching: AuditFilter(), before: nil, limit: 10_000).filter { $0.sequence > sequence }
    }

    func failures(_ user: String, uid: UInt32) throws -> UInt32 {
        try failures(user, origin: .peer(uid: uid))
    }

    /// The two racing logins of `user` left two successes in the trail after `sequence`, and no failure counted
    /// against the local origin or the account.
    func expectTwoSuccessesAndNoFailure(
        of user: String,
        after sequence: UInt64,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let logins = try auditRecords(after: sequence).filter { $0.action == .login }
        #expect(
            logins.map(\.outcome) == [.ok, .ok],
            "the trail: \(logins.map(\.detail))",
            sourceLocation: sourceLocation
        )
        #expect(try failures(user, origin: .local) == 0, sourceLocation: sourceLocation)
        #expect(try stored(user).failureCount == 0, sourceLocation: sourceLocation)
    }

    func failures(_ user: String, origin: ThrottleOrigin) throws -> UInt32 {
        let key = ThrottleKey(subject: user, origin: origin)
        if let lmdb = store as? LMDBAccountStore { return try lmdb.throttleRecord(key).failures }
        return try #require(store as? PostgresAccountStore).throttleRecord(key).failures
    }
}
