import AccountService
import AccountStore
import LMDBAccountStore
import Logging
import PasswordHashing
import Testing
import TestSupport
import Wire

@testable import Daemon

/// A local grace follows the login session the peer was in when it connected, taken with its credentials:
/// read later through the pid, it would be whichever process holds the pid by then, once the peer has exited.
@Suite struct PeerSessionTests {
    let directory = TemporaryDirectory(prefix: "peer-session-tests")
    let dispatcher: Dispatcher
    static let now: Int64 = 1_900_000_000
    static let password = Array("Session-Passw0rd".utf8)
    /// A pid no process has: only the session given with the credentials can say where the peer was.
    static let goneProcess: Int32 = 0x3FFF_FFFF
    static let boot: [UInt8] = Array(repeating: 0x5E, count: 16)

    init() throws {
        let store = try LMDBAccountStore(directory: directory.path + "/state")
        var configuration = ServiceConfiguration()
        configuration.gracePeriod = 300
        let service = AccountService(
            store: store,
            hasher: PasswordHasher(cost: ScryptCost(logN: 10, r: 8, p: 1)),
            configuration: configuration,
            clock: { Self.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        dispatcher = Dispatcher(
            service: service,
            operators: OperatorPolicy(groupName: "twofactord-no-such-group", daemonUID: 998)
        )
    }

    func peer(inSession id: UInt32) -> PeerCredentials {
        PeerCredentials(pid: Self.goneProcess, uid: 0, gid: 0, session: LoginSession(boot: Self.boot, id: id))
    }

    func login(_ code: String, from peer: PeerCredentials) -> Response {
        let request = Request.loginFrom(
            user: "ann",
            password: Self.password,
            codeKind: code.isEmpty ? .none : .totp,
            code: code,
            origin: LoginOrigin(service: "sudo", remoteHost: "", invokerUID: nil)
        )
        return dispatcher.handle(request, from: peer, session: Session()).response
    }

    @Test func aGraceEarnedInTheSessionThePeerConnectedFrom_servesThatSessionOnly() throws {
        let root = PeerCredentials(pid: 1, uid: 0, gid: 0)
        let added = dispatcher.handle(
            .userAdd(user: "ann", organization: "", role: .agent, requireTwoFactor: false, password: Self.password),
            from: root,
            session: Session()
        )
        #expect(added.response == .done)
        let begun = dispatcher.handle(
            .enrollBegin(user: "ann", algorithm: .sha1, digits: 6, period: 30),
            from: root,
            session: Session()
        )
        guard case .enrollmentStarted(let uri, _) = begun.response, let secret = secretParameter(ofURI: uri) else {
            Issue.record("no enrollment: \(begun.response)")
            return
        }
        let confirmed = dispatcher.handle(
            .enrollConfirm(user: "ann", code: try OathTool.code(secret: secret, at: Self.now)),
            from: root,
            session: Session()
        )
        if case .error = confirmed.response { Issue.record("enrollment not confirmed: \(confirmed.response)") }

        let code = try OathTool.code(secret: secret, at: Self.now + 30)
        #expect(login(code, from: peer(inSession: 77)) == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []))
        #expect(login("", from: peer(inSession: 77)) == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []))
        #expect(
            login("", from: peer(inSession: 78)) == .loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: [])
        )
    }
}
