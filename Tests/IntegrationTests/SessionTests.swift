import Foundation
import Testing
import TestSupport
import Wire

/// The review's finding, through the real daemon: a connection that logged in as an account kept acting for
/// it after an operator changed its password, reset or forced its 2FA, or removed it and made another account
/// under its name. Now such a connection is refused as no longer logged in; its own changes keep it going.
/// The logged-in connection is `nobody`'s, as in the review (session.py, session2.py, session3.py).
@Suite(.enabled(if: runningAsRoot, "these tests run clients as nobody through setpriv; CI runs them as root"))
struct SessionIntegrationTests {
    static let attackersPassword = Array("Attacker-Chosen-Pass-77".utf8)
    static let operatorsPassword = "Operator-Chosen-Pass-1"

    let daemon: DaemonProcess

    init() throws {
        daemon = try DaemonProcess()
        try daemon.start()
    }

    func add(_ name: String, _ arguments: [String] = []) throws {
        let added = try daemon.ctl(["user", "add", name, "--password-stdin"] + arguments, input: password(name) + "\n")
        guard added.status == 0 else { throw Failure("user add \(name): \(added.standardError)") }
    }

    func password(_ name: String) -> String { "Xk9-longpass-\(name)" }

    func operatorRuns(_ arguments: [String], input: String = "") throws {
        let result = try daemon.ctl(arguments, input: input)
        guard result.status == 0 else { throw Failure("\(arguments.joined(separator: " ")): \(result.standardError)") }
    }

    /// A connection of `nobody` logged in as `name` with its password.
    func loggedIn(_ name: String) throws -> PeerConnection {
        let connection = try PeerConnection(daemon: daemon)
        let answer = connection.call(
            .login(user: name, password: Array(password(name).utf8), codeKind: .none, code: "")
        )
        guard answer == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []) else {
            throw Failure("login \(name): \(String(describing: answer))")
        }
        return connection
    }

    func isLoggedOut(_ response: Response?) -> Bool {
        guard case .error(.notPermitted, let message)? = response else { return false }
        return message.hasPrefix("log in again")
    }

    @Test func session_py_afterPasswdAndForce_theOldConnectionCannotSetAPassword() throws {
        try add("bob")
        let connection = try loggedIn("bob")
        guard case .userInfo? = connection.call(.userShow(user: "bob")) else {
            Issue.record("the logged-in connection does not act for bob")
            return
        }
        try operatorRuns(["user", "passwd", "bob", "--password-stdin"], input: Self.operatorsPassword + "\n")
        try operatorRuns(["2fa", "force", "bob"])
        let shown = connection.call(.userShow(user: "bob"))
        #expect(isLoggedOut(shown), "\(String(describing: shown))")
        let set = connection.call(.userSetPassword(user: "bob", password: Self.attackersPassword))
        #expect(isLoggedOut(set), "\(String(describing: set))")
        // The operator's password stands: bob, now pending, is offered enrollment with it and only with it.
        let fresh = try PeerConnection(daemon: daemon)
        let withOperators = fresh.call(
            .login(user: "bob", password: Array(Self.operatorsPassword.utf8), codeKind: .none, code: "")
        )
        guard case .loginResult(.enroll, _, _)? = withOperators else {
            Issue.record("bob's password is not the operator's: \(String(describing: withOperators))")
            return
        }
        #expect(daemon.log().contains("credentials changed since the login"), "\(daemon.log())")
    }

    @Test func session_py_withTheRealClient_aPasswdWaitingForItsNewPassword_isRefused() throws {
        try add("bob")
        // `twofactorctl --as bob` logs in, then waits for the new password on its standard input.
        let ctl = try daemon.startCtl(["user", "passwd", "bob", "--as", "bob", "--password-stdin"], uid: nobodyUID)
        let errors = BackgroundReader(ctl.error)
        ctl.type(password("bob") + "\n")
        let deadline = Date().addingTimeInterval(30)
        while !daemon.log().contains("login ok"), Date() < deadline { usleep(20_000) }
        try operatorRuns(["user", "passwd", "bob", "--password-stdin"], input: Self.operatorsPassword + "\n")
        ctl.type(String(decoding: Self.attackersPassword, as: UTF8.self) + "\n")
        try ctl.closeInput()
        _ = ctl.output.fileHandleForReading.readDataToEndOfFile()
        ctl.process.waitUntilExit()
        let message = errors.text()
        #expect(ctl.process.terminationStatus == 1, "\(message)")
        #expect(message.contains("log in again"), "\(message)")
        #expect(try daemon.login("bob", password: Self.operatorsPassword).status == 0)
    }

    @Test func session2_py_afterPasswdAndReset_theOldConnectionCannotEnroll() throws {
        try add("carol")
        let connection = try loggedIn("carol")
        try operatorRuns(["user", "passwd", "carol", "--password-stdin"], input: Self.operatorsPassword + "\n")
        try operatorRuns(["2fa", "reset", "carol"])
        let begun = connection.call(.enrollBegin(user: "carol", algorithm: .sha1, digits: 6, period: 30))
        #expect(isLoggedOut(begun), "\(String(describing: begun))")
        let confirmed = connection.call(.enrollConfirm(user: "carol", code: "123456"))
        #expect(isLoggedOut(confirmed), "\(String(describing: confirmed))")
        let shown = try daemon.ctl(["user", "show", "carol", "--json"])
        #expect(shown.standardOutput.contains("\"pending\""), "\(shown.standardOutput)")
    }

    @Test func session3_py_afterRemovalAndRecreationAsAnotherAdmin_theOldConnectionListsNothing() throws {
        try add("zed")
        let connection = try loggedIn("zed")
        try operatorRuns(["user", "remove", "zed"])
        try operatorRuns(["org", "add", "acme2"])
        try add("zed", ["--org", "acme2", "--role", "admin"])
        let listed = connection.call(.userList(organization: "", after: "", limit: 10))
        #expect(isLoggedOut(listed), "\(String(describing: listed))")
    }

    @Test func theConnectionsOwnPasswordChange_keepsItLoggedIn() throws {
        try add("dan")
        let connection = try loggedIn("dan")
        #expect(connection.call(.userSetPassword(user: "dan", password: Array("Dans-Own-New-Pass-9".utf8))) == .done)
        guard case .userInfo(let info, _)? = connection.call(.userShow(user: "dan")) else {
            Issue.record("the connection's own password change logged it out")
            return
        }
        #expect(info.user == "dan")
    }
}
