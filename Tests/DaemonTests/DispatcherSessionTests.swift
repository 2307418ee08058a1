import AccountService
import AccountStore
import Testing
import TestSupport
import Wire

@testable import Daemon

/// A session acts for its account as it was when it logged in: the review's scripts (session.py, session2.py,
/// session3.py) through the dispatcher, and the session's own changes that must not end it.
extension DispatcherTests {
    static let operatorsPassword = Array("Operator-Chosen-Pass-1".utf8)
    static let attackersPassword = Array("Attacker-Chosen-Pass-77".utf8)

    /// Whether `response` refuses the request as no longer logged in.
    func isLoggedOut(_ response: Response) -> Bool {
        guard case .error(.notPermitted, let message) = response else { return false }
        return message.hasPrefix("log in again")
    }

    func asOperator(_ request: Request) -> Response {
        dispatcher.handle(request, from: root, session: Session()).response
    }

    @Test func session_py_anOperatorsPasswordChangeAndForce_endTheSession() throws {
        let (answer, session) = login("bob")
        #expect(answer == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []))
        #expect(asOperator(.userSetPassword(user: "bob", password: Self.operatorsPassword)) == .done)
        #expect(asOperator(.twoFactorForce(user: "bob")) == .done)
        let shown = dispatcher.handle(.userShow(user: "bob"), from: stranger, session: session)
        #expect(isLoggedOut(shown.response), "\(shown.response)")
        let set = dispatcher.handle(
            .userSetPassword(user: "bob", password: Self.attackersPassword),
            from: stranger,
            session: session
        )
        #expect(isLoggedOut(set.response), "\(set.response)")
        // The operator's password stands: bob, now pending, is offered enrollment with it.
        guard case .loginResult(.enroll, _, _) = login("bob", password: Self.operatorsPassword).0 else {
            Issue.record("bob's password is not the operator's")
            return
        }
    }

    /// (A disable by someone else is in `SessionTests`: here the clock stands still, and turning off a second
    /// factor that is already off, by the same operator in the same second, changes nothing.)
    @Test func session_py_eachChangeAlone_endsTheSession() throws {
        for change in [
            Request.userSetPassword(user: "bob", password: Self.operatorsPassword), .twoFactorForce(user: "bob"),
            .twoFactorReset(user: "bob"),
        ] {
            let (_, session) = login("bob")
            #expect(session.account != nil)
            #expect(asOperator(change) == .done)
            let shown = dispatcher.handle(.userShow(user: "bob"), from: stranger, session: session)
            #expect(isLoggedOut(shown.response), "after \(change): \(shown.response)")
            // Undo what needs undoing so that bob logs in with his password alone again.
            _ = asOperator(.twoFactorDisable(user: "bob"))
            _ = asOperator(.userSetPassword(user: "bob", password: Self.password))
        }
    }

    @Test func session2_py_aPasswordChangeAndReset_leaveTheOldSessionNoEnrollment() throws {
        let (_, session) = login("ann")
        #expect(asOperator(.userSetPassword(user: "ann", password: Self.operatorsPassword)) == .done)
        #expect(asOperator(.twoFactorReset(user: "ann")) == .done)
        let begun = dispatcher.handle(
            .enrollBegin(user: "ann", algorithm: .sha1, digits: 6, period: 30),
            from: stranger,
            session: session
        )
        #expect(isLoggedOut(begun.response), "\(begun.response)")
        #expect(try store.account(named: try AccountName("ann"))?.pendingEnrollment == nil)
        #expect(try store.account(named: try AccountName("ann"))?.twoFactor == .pending)
    }

    @Test func session3_py_removalAndRecreationAsAnotherOrganizationsAdmin_endTheSession() throws {
        let (_, session) = login("bob")
        #expect(asOperator(.userRemove(user: "bob")) == .done)
        #expect(asOperator(.organizationAdd(organization: "acme2", requireTwoFactor: false)) == .done)
        let recreated = asOperator(
            .userAdd(user: "bob", organization: "acme2", role: .admin, requireTwoFactor: false, password: Self.password)
        )
        #expect(recreated == .done)
        let list = dispatcher.handle(
            .userList(organization: "", after: "", limit: 10),
            from: stranger,
            session: session
        )
        #expect(isLoggedOut(list.response), "\(list.response)")
    }

    @Test func anEndedSession_ofAnOperatorPeer_isRefused_notRunAsOperator() throws {
        let (answer, session) = dispatcher.handle(
            .login(user: "bob", password: Self.password, codeKind: .none, code: ""),
            from: root,
            session: Session()
        )
        #expect(answer == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []))
        #expect(asOperator(.userSetPassword(user: "bob", password: Self.operatorsPassword)) == .done)
        let forced = dispatcher.handle(.twoFactorForce(user: "ann"), from: root, session: session)
        #expect(isLoggedOut(forced.response), "\(forced.response)")
        #expect(try store.account(named: try AccountName("ann"))?.twoFactor == .off)
    }

    @Test func ownPasswordChange_andOwnEnrollment_keepTheSession() throws {
        var (_, session) = login("ann")
        let before = session.account
        (_, session) = dispatcher.handle(
            .userSetPassword(user: "ann", password: Self.attackersPassword),
            from: stranger,
            session: session
        )
        #expect(session.account != before)
        let shown = dispatcher.handle(.userShow(user: "ann"), from: stranger, session: session)
        guard case .userInfo(let info, _) = shown.response else { Issue.record("got \(shown.response)"); return }
        #expect(info.user == "ann")

        let begun = dispatcher.handle(
            .enrollBegin(user: "ann", algorithm: .sha1, digits: 6, period: 30),
            from: stranger,
            session: session
        )
        guard case .enrollmentStarted(let uri, _) = begun.response, let secret = secretParameter(ofURI: uri) else {
            Issue.record("no enrollment: \(begun.response)")
            return
        }
        let confirmed = dispatcher.handle(
            .enrollConfirm(user: "ann", code: try OathTool.code(secret: secret, at: 1_900_000_000)),
            from: stranger,
            session: begun.session
        )
        guard case .recoveryCodes = confirmed.response else { Issue.record("got \(confirmed.response)"); return }
        let afterEnrollment = dispatcher.handle(.userShow(user: "ann"), from: stranger, session: confirmed.session)
        guard case .userInfo(let enrolled, _) = afterEnrollment.response else {
            Issue.record("got \(afterEnrollment.response)")
            return
        }
        #expect(enrolled.twoFactor == .onSelf)
        let disabled = dispatcher.handle(.twoFactorDisable(user: "ann"), from: stranger, session: confirmed.session)
        #expect(disabled.response == .done)
        guard
            case .userInfo = dispatcher.handle(.userShow(user: "ann"), from: stranger, session: disabled.session)
                .response
        else {
            Issue.record("the session ended with its own disable")
            return
        }
    }

    @Test func anAdminsSession_endsWhenAnOperatorResetsItsOwn2FA() throws {
        let (_, session) = login("amy")
        #expect(asOperator(.twoFactorReset(user: "amy")) == .done)
        let list = dispatcher.handle(
            .userList(organization: "", after: "", limit: 10),
            from: stranger,
            session: session
        )
        #expect(isLoggedOut(list.response), "\(list.response)")
    }
}
