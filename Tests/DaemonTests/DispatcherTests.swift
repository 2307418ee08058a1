import AccountService
import AccountStore
import Glibc
import LMDBAccountStore
import Logging
import NIOCore
import PasswordHashing
import Synchronization
import Testing
import TestSupport
import UserDatabase
import Wire

@testable import Daemon

/// The dispatch table, the session a Login opens, and who counts as an operator, over a real LMDB store.
@Suite struct DispatcherTests {
    let directory = TemporaryDirectory(prefix: "dispatcher-tests")
    let dispatcher: Dispatcher
    let store: LMDBAccountStore
    /// A peer that is no operator: not root, not the daemon's user, not in the (missing) operator group.
    let stranger = PeerCredentials(pid: 1, uid: 54_321, gid: 54_321)
    let root = PeerCredentials(pid: 1, uid: 0, gid: 0)
    static let password = Array("Dispatch-Passw0rd".utf8)

    init() throws {
        store = try LMDBAccountStore(directory: directory.path + "/state")
        let service = AccountService(
            store: store,
            hasher: PasswordHasher(cost: ScryptCost(logN: 10, r: 8, p: 1)),
            clock: { 1_900_000_000 },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        dispatcher = Dispatcher(
            service: service,
            operators: OperatorPolicy(groupName: "twofactord-no-such-group", daemonUID: 4_242)
        )
        for (name, role) in [("amy", WireRole.admin), ("ann", .agent), ("bob", .agent)] {
            let added = dispatcher.handle(
                .userAdd(user: name, organization: "", role: role, requireTwoFactor: false, password: Self.password),
                from: root,
                session: Session()
            )
            #expect(added.response == .done)
        }
    }

    func login(_ user: String, password: [UInt8] = password, session: Session = Session()) -> (Response, Session) {
        dispatcher.handle(
            .login(user: user, password: password, codeKind: .none, code: ""),
            from: stranger,
            session: session
        )
    }

    func errorCode(_ response: Response) -> ErrorCode? {
        if case .error(let code, _) = response { return code }
        return nil
    }

    @Test func table_loginIsForAnyone_everythingElseForACaller() {
        #expect(Dispatcher.privilege(for: .login(user: "a", password: [], codeKind: .none, code: "")) == .anyone)
        #expect(Dispatcher.privilege(for: .userShow(user: "a")) == .caller)
        #expect(Dispatcher.privilege(for: .organizationAdd(organization: "a", requireTwoFactor: false)) == .caller)
        #expect(Dispatcher.privilege(for: .hello(minVersion: 1, maxVersion: 1)) == nil)
    }

    @Test func strangerWithoutASession_isRefused_withAHint() {
        let (response, session) = dispatcher.handle(.userShow(user: "ann"), from: stranger, session: Session())
        #expect(errorCode(response) == .notPermitted)
        if case .error(_, let message) = response { #expect(message.contains("--as ACCOUNT")) }
        #expect(session.account == nil)
    }

    @Test func loginOk_opensASession_thatActsForTheAccount() throws {
        let (answer, session) = login("ann")
        #expect(answer == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []))
        #expect(session.account?.name.value == "ann")
        let own = dispatcher.handle(.userShow(user: "ann"), from: stranger, session: session)
        guard case .userInfo(let info, _) = own.response else { Issue.record("got \(own.response)"); return }
        #expect(info.user == "ann")
        #expect(own.session == session)
        let other = dispatcher.handle(.userShow(user: "bob"), from: stranger, session: session)
        #expect(errorCode(other.response) == .notPermitted)
    }

    @Test func aSession_takesPrecedenceOverOperatorRights() {
        let (_, session) = login("ann")
        // Root that logged in as ann acts as ann: an agent may not force 2FA on bob.
        let forced = dispatcher.handle(.twoFactorForce(user: "bob"), from: root, session: session)
        #expect(errorCode(forced.response) == .notPermitted)
        #expect(dispatcher.handle(.twoFactorForce(user: "bob"), from: root, session: Session()).response == .done)
    }

    @Test func failedLogin_endsTheSession() {
        let (_, session) = login("amy")
        #expect(session.account != nil)
        let (answer, after) = login("amy", password: Array("wrong-password".utf8), session: session)
        // No password oracle: a wrong password without a code is asked for a code, like a right one.
        #expect(answer == .loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: []))
        #expect(after.account == nil)
    }

    @Test func aWrongPasswordThenACode_countsOneFailure_andOtherRequestsEndTheHold() {
        let first = login("ann", password: Array("wrong-password".utf8))
        #expect(first.0 == .loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: []))
        #expect(first.1.heldAttempt?.user == "ann")
        let second = dispatcher.handle(
            .login(user: "ann", password: Array("wrong-password".utf8), codeKind: .totp, code: "123456"),
            from: stranger,
            session: first.1
        )
        #expect(second.response == .loginResult(outcome: .denied, retryAfter: 0, otpauthURI: []))
        #expect(second.session.heldAttempt == nil)
        let other = dispatcher.handle(.userShow(user: "ann"), from: stranger, session: first.1)
        #expect(other.session.heldAttempt == nil)
    }

    /// A held attempt is completed only by the same user with the same password: a Login with a code and
    /// another password is a guess of its own, checked against the lock and counted, so a peer speaking the
    /// protocol gets the throttle's five free failures, not twice as many passwords checked.
    @Test func aHeldAttempt_thenAnotherPassword_countsEveryGuess_andLocksAfterTheFreeFailures() throws {
        try enroll("ann")
        let key = ThrottleKey(subject: "ann", origin: .peer(uid: stranger.uid))
        var session = Session()
        var answers: [Response] = []
        var counted: [UInt32] = []
        for guess in 0..<5 {
            for (codeKind, code, suffix) in [(CodeKind.none, "", "a"), (.totp, "000000", "b")] {
                let sent = dispatcher.handle(
                    .login(
                        user: "ann",
                        password: Array("guess-\(guess)-\(suffix)".utf8),
                        codeKind: codeKind,
                        code: code
                    ),
                    from: stranger,
                    session: session
                )
                answers.append(sent.response)
                counted.append(try store.throttleRecord(key).failures)
                session = sent.session
            }
        }
        let codeNeeded = Response.loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: [])
        let denied = Response.loginResult(outcome: .denied, retryAfter: 0, otpauthURI: [])
        let locked = Response.loginResult(outcome: .locked, retryAfter: 30, otpauthURI: [])
        #expect(Array(answers.prefix(5)) == [codeNeeded, denied, codeNeeded, denied, codeNeeded])
        #expect(answers.dropFirst(5).allSatisfy { $0 == locked }, "\(answers)")
        #expect(counted == [1, 2, 3, 4, 5, 5, 5, 5, 5, 5], "one failure for each password checked")
        // The right password after a held wrong one is no completion either: it waits for the lock.
        let held = login("ann", password: Array("guess-5-a".utf8))
        #expect(held.0 == locked)
        let right = dispatcher.handle(
            .login(user: "ann", password: Self.password, codeKind: .totp, code: "000000"),
            from: stranger,
            session: held.1
        )
        #expect(right.response == locked)
    }

    /// The honest two-step login (the same password twice) still counts once, however often it is repeated.
    @Test func aHeldAttempt_thenTheSamePasswordWithACode_countsOnce() throws {
        try enroll("ann")
        let key = ThrottleKey(subject: "ann", origin: .peer(uid: stranger.uid))
        let wrong = Array("wrong-password".utf8)
        for round in 1...3 {
            let first = login("ann", password: wrong)
            #expect(first.0 == .loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: []))
            let second = dispatcher.handle(
                .login(user: "ann", password: wrong, codeKind: .totp, code: "000000"),
                from: stranger,
                session: first.1
            )
            #expect(second.response == .loginResult(outcome: .denied, retryAfter: 0, otpauthURI: []))
            #expect(try store.throttleRecord(key).failures == UInt32(round))
        }
    }

    /// A code check never completes a Login's held attempt: it counts its own, and ends the hold.
    @Test func aCodeCheckAfterAHeldLogin_countsItsOwnAttempt_andHoldsNone() throws {
        try enroll("ann")
        let wrong = Array("wrong-password".utf8)
        let first = dispatcher.handle(
            .login(user: "ann", password: wrong, codeKind: .none, code: ""),
            from: root,
            session: Session()
        )
        #expect(first.response == .loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: []))
        #expect(first.session.heldAttempt?.user == "ann")
        let key = ThrottleKey(subject: "ann", origin: .local)
        #expect(try store.throttleRecord(key).failures == 1)
        let check = dispatcher.handle(
            .codeCheck(user: "ann", codeKind: .totp, code: "000000", origin: LoginOrigin()),
            from: root,
            session: first.session
        )
        #expect(check.response == .loginResult(outcome: .denied, retryAfter: 0, otpauthURI: []))
        #expect(try store.throttleRecord(key).failures == 2)
        #expect(check.session.heldAttempt == nil)
        let question = dispatcher.handle(
            .codeCheck(user: "ann", codeKind: .none, code: "", origin: LoginOrigin()),
            from: root,
            session: Session()
        )
        #expect(question.response == .loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: []))
        #expect(question.session.heldAttempt == nil)
        #expect(try store.throttleRecord(key).failures == 2)
    }

    /// A code-check group member that is no operator enrolls only its own uid's account, whose login name it takes
    /// from the cache of names (`Dispatcher.loginNames`): while that lookup hangs past its timeout, the member
    /// enrolls no one, and once the name is known, it enrolls its own account.
    @Test func codeCheckersEnrollment_whileItsLoginNameLookupHangs_isRefused() async throws {
        let added = dispatcher.handle(
            .userAdd(user: "cat", organization: "", role: .agent, requireTwoFactor: true, password: Self.password),
            from: root,
            session: Session()
        )
        #expect(added.response == .done)
        let released = Mutex(false)
        let member = stranger
        var checking = dispatcher
        checking.codeCheckers = OperatorPolicy(groupName: "twofactord-no-such-group", daemonUID: 0)
        checking.codeCheckerLookups = OperatorCache(daemonUID: 0, lookup: { $0.uid == member.uid })
        let names = NSSLookupCache<String?>(refusal: nil, lookupTimeout: .milliseconds(100)) { _ in
            while !released.withLock({ $0 }) { usleep(1000) }
            return "cat"
        }
        checking.loginNames = names
        let question = Request.codeCheck(user: "cat", codeKind: .none, code: "", origin: LoginOrigin())
        let whileHung = checking.handle(question, from: member, session: Session())
        #expect(errorCode(whileHung.response) == .notPermitted, "\(whileHung.response)")
        released.withLock { $0 = true }
        for _ in 0..<10_000 where names.known(for: member) == nil { usleep(1000) }
        let answered = checking.handle(question, from: member, session: Session())
        guard case .enrollScreen = answered.response else { Issue.record("got \(answered.response)"); return }
        try await names.shutdown()
        try await checking.codeCheckerLookups?.shutdown()
    }

    /// Turns two-factor on for `user`, confirming with oathtool's code at the fixture's clock.
    func enroll(_ user: String) throws {
        let begun = dispatcher.handle(
            .enrollBegin(user: user, algorithm: .sha1, digits: 6, period: 30),
            from: root,
            session: Session()
        )
        guard case .enrollmentStarted(let uri, _) = begun.response, let secret = secretParameter(ofURI: uri) else {
            Issue.record("no enrollment: \(begun.response)")
            return
        }
        let code = try OathTool.code(secret: secret, at: 1_900_000_000)
        let confirmed = dispatcher.handle(.enrollConfirm(user: user, code: code), from: root, session: Session())
        if case .error = confirmed.response { Issue.record("enrollment not confirmed: \(confirmed.response)") }
    }

    @Test func sessionOfARemovedAccount_actsForNobody() {
        let (_, session) = login("bob")
        #expect(dispatcher.handle(.userRemove(user: "bob"), from: root, session: Session()).response == .done)
        let shown = dispatcher.handle(.userShow(user: "bob"), from: stranger, session: session)
        #expect(errorCode(shown.response) == .notPermitted)
    }

    @Test func enrollConfirm_answersWithRecoveryCodes_andUserListIsBoundedByTheFrame() {
        let list = dispatcher.handle(
            .userList(organization: "", after: "", limit: UInt16(WireProtocol.maximumPageSize)),
            from: root,
            session: Session()
        )
        guard case .userList(let accounts, let next) = list.response else {
            Issue.record("got \(list.response)"); return
        }
        #expect(accounts.map(\.user) == ["amy", "ann", "bob"] && next.isEmpty)
        #expect(throws: Never.self) { try WireCodec.validate(list.response) }
    }
}

@Suite struct OperatorPolicyTests {
    @Test func rootAndTheDaemonsUser_areOperators_othersAreNot() {
        let policy = OperatorPolicy(groupName: "twofactord-no-such-group", daemonUID: 4_242)
        #expect(policy.isOperator(PeerCredentials(pid: 1, uid: 0, gid: 0)))
        #expect(policy.isOperator(PeerCredentials(pid: 1, uid: 4_242, gid: 9)))
        #expect(!policy.isOperator(PeerCredentials(pid: 1, uid: 4_243, gid: 9)))
    }

    @Test func aMemberOfTheOperatorGroup_byPrimaryGroup_isAnOperator() throws {
        // Debian always has the group 'nogroup' (65534).
        let policy = OperatorPolicy(groupName: "nogroup", daemonUID: 4_242)
        let gid = try #require(UserDatabase.groupID(named: "nogroup"))
        #expect(policy.isOperator(PeerCredentials(pid: 1, uid: 54_321, gid: gid)))
        #expect(!policy.isOperator(PeerCredentials(pid: 1, uid: 54_321, gid: gid &+ 1)))
    }
}

@Suite struct HeldAttemptTests {
    static let password = Array("Held-Passw0rd".utf8)

    /// The memo of a login without a code, as the service leaves it after checking `password` for `user`.
    static func heldLogin(_ user: String, password: [UInt8] = password) throws -> HeldAttempt? {
        let directory = TemporaryDirectory(prefix: "held-attempt-tests")
        defer { withExtendedLifetime(directory) {} }
        let service = AccountService(
            store: try LMDBAccountStore(directory: directory.path + "/state"),
            hasher: PasswordHasher(cost: ScryptCost(logN: 10, r: 8, p: 1)),
            clock: { 1_900_000_000 },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let none = LoginAttempt(user: user, password: password, codeKind: .none, code: "", held: nil)
        #expect(
            try service.login(user: user, password: password, code: .none, passwordMemo: none.passwordMemo)
                == .codeNeeded
        )
        #expect(none.held(after: .denied) == nil && none.held(after: .ok) == nil)
        return none.held(after: .codeNeeded)
    }

    @Test func aTwoStepLogin_countsOnce_andOnlyForTheSameUserRightAfter() throws {
        let held = try Self.heldLogin("ann")
        #expect(held?.user == "ann")
        let password = Self.password
        #expect(
            LoginAttempt(user: "ann", password: password, codeKind: .totp, code: "123456", held: held)
                .completesHeldAttempt
        )
        #expect(
            !LoginAttempt(user: "bob", password: password, codeKind: .totp, code: "123456", held: held)
                .completesHeldAttempt
        )
        #expect(
            !LoginAttempt(user: "ann", password: password, codeKind: .none, code: "", held: held).completesHeldAttempt
        )
        let stale = HeldAttempt(user: "ann", until: 1, passwordMemo: held?.passwordMemo)
        #expect(
            !LoginAttempt(user: "ann", password: password, codeKind: .totp, code: "123456", held: stale)
                .completesHeldAttempt
        )
    }

    /// Only the password the held attempt counted completes it; another one, even one character apart, is a
    /// new attempt, and so is any Login when the hold has no memo to compare with.
    @Test func aHeldAttempt_isCompletedOnlyWithTheSamePassword() throws {
        let held = try Self.heldLogin("ann")
        for other in ["Held-Passw0rD", "Held-Passw0rd ", "", "wrong"] {
            let attempt = LoginAttempt(
                user: "ann",
                password: Array(other.utf8),
                codeKind: .totp,
                code: "123456",
                held: held
            )
            #expect(!attempt.completesHeldAttempt, "\(other)")
            #expect(attempt.passwordMemo == nil, "a new attempt checks its password itself")
        }
        let withoutMemo = HeldAttempt(user: "ann", until: .max)
        #expect(
            !LoginAttempt(user: "ann", password: Self.password, codeKind: .totp, code: "123456", held: withoutMemo)
                .completesHeldAttempt
        )
    }
}
