import AccountService
import AccountStore
import Authentication
import OneTimePassword
import PasswordHashing
import Testing

/// A session acts for its account as it was when it logged in (AccountSession.swift): a change of its
/// credentials by anyone else ends it, its own changes carry it over, and it ends after the session lifetime.
@Suite struct SessionTests {
    static let password = Array("pass-phrase".utf8)
    let fixture: Fixture

    init() throws {
        fixture = try Fixture()
        _ = try fixture.service.addOrganization(caller: root, name: "acme", requireTwoFactor: false)
        _ = try fixture.service.addOrganization(caller: root, name: "acme2", requireTwoFactor: false)
    }

    func add(_ name: String, organization: String = "acme", role: Role = .agent) throws {
        _ = try fixture.service.addAccount(
            caller: root,
            name: name,
            organization: organization,
            role: role,
            requireTwoFactor: false,
            password: Self.password
        )
    }

    /// Logs in as `name` with the password (and `code`), and returns the session the login opened.
    func logIn(_ name: String, code: CodeInput = .none) throws -> AccountSession {
        let (result, session) = try fixture.service.openSession(user: name, password: Self.password, code: code)
        #expect(result.logsIn, "login of \(name): \(result)")
        return try #require(session)
    }

    /// The caller `session` acts as now, or the refusal.
    func caller(_ session: AccountSession, operatorUID: UInt32? = nil) -> Result<Caller, ServiceError> {
        Result { () throws(ServiceError) in try fixture.service.caller(session: session, operatorUID: operatorUID) }
    }

    /// Whether `session` is refused as no longer logged in, with a message saying to log in again.
    func isEnded(_ session: AccountSession, operatorUID: UInt32? = nil) -> Bool {
        guard case .failure(let error) = caller(session, operatorUID: operatorUID) else { return false }
        return error.kind == .notPermitted && error.message.hasPrefix("log in again")
    }

    func actsFor(_ session: AccountSession) -> String? {
        guard case .success(.account(let account)) = caller(session) else { return nil }
        return account.name.value
    }

    /// Enrolls `name` as `caller`; returns its secret and the account as the enrollment left it.
    func enroll(_ name: String, as caller: Caller) throws -> (secret: [UInt8], account: Account) {
        let offer = try fixture.service.beginEnrollment(caller: caller, name: name, parameters: .standard)
        let secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
        let code = try oathtool(secret, at: fixture.clock.now)
        return (secret, try fixture.service.confirmEnrollment(caller: caller, name: name, code: code).account)
    }

    // MARK: Someone else's change ends the session

    @Test func anOperatorsPasswordChange_endsTheSession_andItsSetPasswordIsRefused() throws {
        try add("bob")
        let session = try logIn("bob")
        #expect(actsFor(session) == "bob")
        try fixture.service.setPassword(caller: root, name: "bob", password: Array("operator-chosen-1".utf8))
        #expect(isEnded(session))
        // The review's session.py: the old connection then tried to set a password of its own choosing.
        #expect(
            try fixture.service.login(user: "bob", password: Array("operator-chosen-1".utf8), code: .none) == .ok
        )
    }

    /// The request's caller is read before its target: a change that lands between the two reads must not pass
    /// to the session through a request that writes nothing (a disable of 2FA already off), whose answer the
    /// dispatcher continues the session with. Before, it returned the account as the second read found it,
    /// the operator's new password included.
    @Test func aNoOpDisable_readAfterAnOperatorsPasswordChange_isRefused_notCarriedOver() throws {
        try add("bob")
        let session = try logIn("bob")
        guard case .success(let before) = caller(session) else {
            Issue.record("bob's session does not act for bob")
            return
        }
        try fixture.service.setPassword(caller: root, name: "bob", password: Array("operator-chosen-2".utf8))
        let disabled = Result { () throws(ServiceError) in
            try fixture.service.disableTwoFactor(caller: before, name: "bob")
        }
        guard case .failure(let error) = disabled else {
            Issue.record("the disable answered, and its account would carry the new password into the session")
            return
        }
        #expect(error.kind == .notPermitted && error.message.hasPrefix("log in again"), "\(error)")
    }

    @Test func twoFactorForce_reset_andDisable_byAnother_endTheSession() throws {
        try add("amy", role: .admin)
        for (name, change) in [
            (
                "bob",
                { (service: AccountService, caller: Caller) throws(ServiceError) in
                    try service.forceTwoFactor(caller: caller, name: "bob")
                }
            ),
            (
                "cat",
                { (service: AccountService, caller: Caller) throws(ServiceError) in
                    try service.resetTwoFactor(caller: caller, name: "cat")
                }
            ),
            (
                "dan",
                { (service: AccountService, caller: Caller) throws(ServiceError) in
                    _ = try service.disableTwoFactor(caller: caller, name: "dan")
                }
            ),
        ] {
            try add(name)
            let (secret, _) = try enroll(name, as: .account(try #require(try fixture.stored(name))))
            fixture.clock.advance(by: 30)
            let session = try logIn(name, code: .totp(try oathtool(secret, at: fixture.clock.now)))
            #expect(actsFor(session) == name)
            // By the organization's admin, whose session it is not.
            try change(fixture.service, .account(try #require(try fixture.stored("amy"))))
            #expect(isEnded(session), "\(name)")
        }
    }

    @Test func forcingAnAccountWithout2FA_endsItsSession() throws {
        try add("bob")
        let session = try logIn("bob")
        try fixture.service.forceTwoFactor(caller: root, name: "bob")
        #expect(isEnded(session))
    }

    @Test func resettingAnAdminsOwn2FA_endsTheAdminsSession() throws {
        try add("amy", role: .admin)
        let (secret, _) = try enroll("amy", as: .account(try #require(try fixture.stored("amy"))))
        fixture.clock.advance(by: 30)
        let session = try logIn("amy", code: .totp(try oathtool(secret, at: fixture.clock.now)))
        #expect(actsFor(session) == "amy")
        try fixture.service.resetTwoFactor(caller: root, name: "amy")
        #expect(isEnded(session))
    }

    @Test func removingAnotherAuthenticator_endsTheSession() throws {
        try add("amy", role: .admin)
        try add("bob")
        let (secret, _) = try enroll("bob", as: .account(try #require(try fixture.stored("bob"))))
        let bob = Caller.account(try #require(try fixture.stored("bob")))
        let offer = try fixture.service.beginAuthenticator(
            caller: bob,
            name: "bob",
            label: "spare",
            parameters: .standard
        )
        let spare = try OTPAuthURI(parsing: offer.otpauthURI).secret
        try fixture.service.confirmAuthenticator(
            caller: bob,
            name: "bob",
            label: "spare",
            code: try oathtool(spare, at: fixture.clock.now)
        )
        fixture.clock.advance(by: 30)
        let session = try logIn("bob", code: .totp(try oathtool(secret, at: fixture.clock.now)))
        try fixture.service.removeAuthenticator(
            caller: .account(try #require(try fixture.stored("amy"))),
            name: "bob",
            label: "spare"
        )
        #expect(isEnded(session))
    }

    @Test func removal_andRecreationUnderTheSameName_endTheSession_evenWithinOneSecond() throws {
        try add("zed")
        let session = try logIn("zed")
        try fixture.service.removeAccount(caller: root, name: "zed")
        #expect(isEnded(session))
        // Made again at the same second, with the same password, as admin of another organization.
        try add("zed", organization: "acme2", role: .admin)
        #expect(isEnded(session))
        #expect(try fixture.stored("zed")?.createdAt == fixture.clock.now)
    }

    @Test func anEndedSession_isRefused_evenFromAnOperatorPeer() throws {
        try add("bob")
        let session = try logIn("bob")
        try fixture.service.setPassword(caller: root, name: "bob", password: Array("operator-chosen-1".utf8))
        // A peer that logged in acts as the account, never silently as operator.
        #expect(isEnded(session, operatorUID: 0))
    }

    @Test func anotherSessionsOwnChange_endsThisSession() throws {
        try add("bob")
        let mine = try logIn("bob")
        let other = try logIn("bob")
        let changed = try fixture.service.setPassword(
            caller: try caller(other).get(),
            name: "bob",
            password: Array("bobs-own-new-1".utf8)
        )
        #expect(actsFor(other.continued(after: changed)) == "bob")
        #expect(isEnded(mine))
    }

    // MARK: The session's own changes carry it over

    @Test func ownPasswordChange_keepsTheSession() throws {
        try add("bob")
        var session = try logIn("bob")
        let changed = try fixture.service.setPassword(
            caller: try caller(session).get(),
            name: "bob",
            password: Array("bobs-own-new-1".utf8)
        )
        #expect(isEnded(session))  // the stamp it had is gone with the old password ...
        session = session.continued(after: changed)
        #expect(actsFor(session) == "bob")  // ... and the change it made carries it over
    }

    @Test func ownEnrollment_ownAuthenticator_andOwnDisable_keepTheSession() throws {
        try add("bob")
        var session = try logIn("bob")
        let (_, enrolled) = try enroll("bob", as: try caller(session).get())
        session = session.continued(after: enrolled)
        #expect(actsFor(session) == "bob")
        #expect(try fixture.stored("bob")?.twoFactor == .on(.self))

        var own = try caller(session).get()
        let offer = try fixture.service.beginAuthenticator(
            caller: own,
            name: "bob",
            label: "spare",
            parameters: .standard
        )
        let spare = try OTPAuthURI(parsing: offer.otpauthURI).secret
        session = session.continued(
            after: try fixture.service.confirmAuthenticator(
                caller: try caller(session).get(),
                name: "bob",
                label: "spare",
                code: try oathtool(spare, at: fixture.clock.now)
            )
        )
        #expect(actsFor(session) == "bob")

        own = try caller(session).get()
        session = session.continued(
            after: try fixture.service.removeAuthenticator(caller: own, name: "bob", label: "spare")
        )
        #expect(actsFor(session) == "bob")
        own = try caller(session).get()
        session = session.continued(after: try fixture.service.disableTwoFactor(caller: own, name: "bob"))
        #expect(actsFor(session) == "bob")
        #expect(try fixture.stored("bob")?.twoFactor == .off)
    }

    @Test func aChangeBySomeoneElse_rightBeforeAnOwnWrite_isNotAdopted() throws {
        try add("bob")
        let session = try logIn("bob")
        // The request passed the session check, then an operator changed the password before its write.
        let checked = try caller(session).get()
        try fixture.service.setPassword(caller: root, name: "bob", password: Array("operator-chosen-1".utf8))
        #expect(throws: ServiceError.self) {
            try fixture.service.setPassword(caller: checked, name: "bob", password: Array("attacker-chosen-77".utf8))
        }
        #expect(throws: ServiceError.self) {
            try fixture.service.beginEnrollment(caller: checked, name: "bob", parameters: .standard)
        }
        #expect(
            try fixture.service.login(user: "bob", password: Array("operator-chosen-1".utf8), code: .none) == .ok
        )
        #expect(try fixture.stored("bob")?.pendingEnrollment == nil)
    }

    // MARK: What does not end a session

    @Test func otherLoginsOfTheSameAccount_andAnUnlock_keepTheSession() throws {
        try add("bob")
        let (secret, _) = try enroll("bob", as: .account(try #require(try fixture.stored("bob"))))
        let codes = try fixture.service.issueRecoveryCodes(caller: root, name: "bob")
        fixture.clock.advance(by: 30)
        let session = try logIn("bob", code: .totp(try oathtool(secret, at: fixture.clock.now)))
        fixture.clock.advance(by: 30)
        _ = try logIn("bob", code: .totp(try oathtool(secret, at: fixture.clock.now)))
        _ = try logIn("bob", code: .recovery(codes[0]))
        #expect(
            try fixture.service.login(user: "bob", password: Array("wrong-one".utf8), code: .totp("000000")) == .denied
        )
        try fixture.service.unlock(caller: root, name: "bob")
        #expect(actsFor(session) == "bob")
    }

    @Test func aLoginThatEnrolls_orUpgradesTheHash_opensASessionForTheAccountAsItLeftIt() throws {
        _ = try fixture.service.addAccount(
            caller: root,
            name: "pia",
            organization: "acme",
            role: .agent,
            requireTwoFactor: true,
            password: Self.password
        )
        // A service whose scrypt cost differs: the login upgrades the stored hash.
        let upgrading = AccountServiceFactory.service(
            store: fixture.store,
            cost: ScryptCost(logN: 11, r: 8, p: 1),
            clock: fixture.clock
        )
        guard case .enroll(let uri) = try upgrading.login(user: "pia", password: Self.password, code: .none) else {
            Issue.record("a pending login did not offer enrollment")
            return
        }
        let code = try oathtool(try OTPAuthURI(parsing: uri).secret, at: fixture.clock.now)
        let (result, opened) = try upgrading.openSession(user: "pia", password: Self.password, code: .totp(code))
        guard case .enrolled = result else { Issue.record("got \(result)"); return }
        let session = try #require(opened)
        #expect(try fixture.stored("pia")?.passwordHash.hasPrefix("$scrypt$ln=11,") == true)
        guard case .account(let pia) = try upgrading.caller(session: session, operatorUID: nil) else {
            Issue.record("the session of the enrolling login does not act for pia")
            return
        }
        #expect(pia.twoFactor == .on(.enforced))
    }

    // MARK: Lifetime

    @Test func aSession_endsAfterTheSessionLifetime_howeverBusy() throws {
        try add("bob")
        let session = try logIn("bob")
        fixture.clock.advance(by: ServiceConfiguration.defaultSessionLifetime - 1)
        #expect(actsFor(session) == "bob")
        fixture.clock.advance(by: 1)
        guard case .failure(let error) = caller(session) else {
            Issue.record("a session older than its lifetime still acts")
            return
        }
        #expect(error.kind == .notPermitted)
        #expect(error.message.contains("--session-lifetime"), "\(error.message)")
    }
}
