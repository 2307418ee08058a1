import AccountService
import AccountStore
import LMDBAccountStore
import Logging
import PasswordHashing
import Testing
import TestSupport
import Wire

@testable import Daemon

/// LoginFromInvoker and CodeCheckFromInvoker: a root peer (the PAM module inside su or sudo) names the user
/// who ran it, and that user's failures must lock out no one else (docs/security.md, "Strangers cannot
/// lock anyone out"). Over a real LMDB store, at a fixed clock.
@Suite struct InvokerTests {
    let directory = TemporaryDirectory(prefix: "invoker-tests")
    let dispatcher: Dispatcher
    let store: LMDBAccountStore
    let root = PeerCredentials(pid: 1, uid: 0, gid: 0)
    /// Neither root, the daemon's user (998 here) nor in the (missing) operator group.
    let stranger = PeerCredentials(pid: 1, uid: 54_321, gid: 54_321)
    static let invoker: UInt32 = 4_242
    static let now: Int64 = 1_900_000_000
    static let password = Array("Invoker-Passw0rd".utf8)
    static let wrong = Array("wrong-password".utf8)

    init() throws {
        store = try LMDBAccountStore(directory: directory.path + "/state")
        let service = AccountService(
            store: store,
            hasher: PasswordHasher(cost: ScryptCost(logN: 10, r: 8, p: 1)),
            clock: { Self.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        dispatcher = Dispatcher(
            service: service,
            operators: OperatorPolicy(groupName: "twofactord-no-such-group", daemonUID: 998)
        )
        for name in ["ann", "bob"] {
            let added = dispatcher.handle(
                .userAdd(user: name, organization: "", role: .agent, requireTwoFactor: false, password: Self.password),
                from: root,
                session: Session()
            )
            #expect(added.response == .done)
        }
    }

    func loginFrom(
        _ user: String,
        _ password: [UInt8],
        invoker: UInt32? = nil,
        remoteHost: String = "",
        peer: PeerCredentials? = nil
    ) -> Response {
        let origin = LoginOrigin(service: invoker == nil ? "sshd" : "su", remoteHost: remoteHost, invokerUID: invoker)
        let request = Request.loginFrom(user: user, password: password, codeKind: .none, code: "", origin: origin)
        return dispatcher.handle(request, from: peer ?? root, session: Session()).response
    }

    func codeCheck(_ user: String, _ code: String, invoker: UInt32? = nil, peer: PeerCredentials? = nil) -> Response {
        let origin = LoginOrigin(service: invoker == nil ? "sshd" : "sudo", invokerUID: invoker)
        let request = Request.codeCheck(user: user, codeKind: .totp, code: code, origin: origin)
        return dispatcher.handle(request, from: peer ?? root, session: Session()).response
    }

    func failures(_ user: String, _ origin: ThrottleOrigin) throws -> UInt32 {
        try store.throttleRecord(ThrottleKey(subject: user, origin: origin)).failures
    }

    func accountFailures(_ user: String) throws -> UInt32 {
        guard
            case .userInfo(let info, _) = dispatcher.handle(.userShow(user: user), from: root, session: Session())
                .response
        else { throw SetupFailed(description: "no user show for \(user)") }
        return info.failureCount
    }

    static let codeNeeded = Response.loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: [])
    static let ok = Response.loginResult(outcome: .ok, retryAfter: 0, otpauthURI: [])
    static let denied = Response.loginResult(outcome: .denied, retryAfter: 0, otpauthURI: [])

    static func isLocked(_ response: Response) -> Bool {
        if case .loginResult(.locked, _, _) = response { true } else { false }
    }

    @Test func invokersWrongPasswords_lockTheInvokerOnly_notSshdOrTheConsole() throws {
        for _ in 0..<5 { #expect(loginFrom("bob", Self.wrong, invoker: Self.invoker) == Self.codeNeeded) }
        #expect(Self.isLocked(loginFrom("bob", Self.password, invoker: Self.invoker)))
        #expect(try failures("bob", .peer(uid: Self.invoker)) == 5)
        #expect(try failures("bob", .local) == 0)
        #expect(try accountFailures("bob") == 0)
        // sshd from a remote host, and the console, still log in with the right password.
        #expect(loginFrom("bob", Self.password, remoteHost: "198.51.100.9") == Self.ok)
        #expect(loginFrom("bob", Self.password) == Self.ok)
        // Their successes do not clear the invoker's count: it stays locked.
        #expect(Self.isLocked(loginFrom("bob", Self.password, invoker: Self.invoker)))
        // Another user running su is not locked either.
        #expect(loginFrom("bob", Self.password, invoker: Self.invoker + 1) == Self.ok)
    }

    @Test func invokersWrongCodes_lockTheInvokerOnly_notSshd() throws {
        let secret = try enroll("ann")
        for _ in 0..<5 { #expect(codeCheck("ann", "000000", invoker: Self.invoker) == Self.denied) }
        let nextCode = try OathTool.code(secret: secret, at: Self.now + 30)
        #expect(Self.isLocked(codeCheck("ann", nextCode, invoker: Self.invoker)))
        #expect(try failures("ann", .peer(uid: Self.invoker)) == 5)
        #expect(try failures("ann", .local) == 0)
        #expect(try accountFailures("ann") == 0)
        #expect(codeCheck("ann", nextCode) == Self.ok)
        #expect(Self.isLocked(codeCheck("ann", "000000", invoker: Self.invoker)))
    }

    /// Without an invoker root's failures still count for the account, as before: the new field changes
    /// nothing for sshd.
    @Test func withoutAnInvoker_rootsFailures_stillCountForTheAccount() throws {
        for _ in 0..<5 { #expect(loginFrom("bob", Self.wrong) == Self.codeNeeded) }
        #expect(try failures("bob", .local) == 5)
        #expect(try accountFailures("bob") == 5)
        #expect(Self.isLocked(loginFrom("bob", Self.password, remoteHost: "198.51.100.9")))
    }

    /// An unprivileged peer's invoker is ignored: it is throttled by its own uid, as it would be anyway.
    @Test func anUnprivilegedPeersInvoker_isIgnored_itsOwnUIDCounts() throws {
        for _ in 0..<5 {
            #expect(loginFrom("bob", Self.wrong, invoker: Self.invoker, peer: stranger) == Self.codeNeeded)
        }
        #expect(try failures("bob", .peer(uid: stranger.uid)) == 5)
        #expect(try failures("bob", .peer(uid: Self.invoker)) == 0)
        #expect(Self.isLocked(loginFrom("bob", Self.password, peer: stranger)))
        #expect(loginFrom("bob", Self.password, invoker: Self.invoker) == Self.ok)
        #expect(loginFrom("bob", Self.password) == Self.ok)
        // CodeCheckFromInvoker is a CodeCheck: refused to a peer that may not check codes.
        guard case .error(.notPermitted, _) = codeCheck("bob", "123456", invoker: Self.invoker, peer: stranger) else {
            Issue.record("an unprivileged CodeCheckFromInvoker was not refused")
            return
        }
    }

    @Test func invokersRequests_takeTheInvokersWorkerShare_fromOperatorPeersOnly() {
        let su = Request.loginFrom(
            user: "bob",
            password: [],
            codeKind: .none,
            code: "",
            origin: LoginOrigin(service: "su", invokerUID: Self.invoker)
        )
        let sudo = Request.codeCheck(
            user: "bob",
            codeKind: .none,
            code: "",
            origin: LoginOrigin(service: "sudo", invokerUID: Self.invoker)
        )
        let sshd = Request.loginFrom(user: "bob", password: [], codeKind: .none, code: "", origin: LoginOrigin())
        let rootHolder = ShareHolder(uid: 0, isOperator: true)
        let strangerHolder = ShareHolder(uid: stranger.uid, isOperator: false)
        #expect(rootHolder.charged(for: su) == ShareHolder(uid: Self.invoker, isOperator: false))
        #expect(rootHolder.charged(for: sudo) == ShareHolder(uid: Self.invoker, isOperator: false))
        #expect(rootHolder.charged(for: sshd) == rootHolder)
        #expect(rootHolder.charged(for: .userShow(user: "bob")) == rootHolder)
        #expect(strangerHolder.charged(for: su) == strangerHolder)

        // One user running many su fills its own share; sshd's next login still gets a place.
        var queue = FairQueue<Int>(limits: ShareLimits(total: 10))
        var admitted = 0
        while queue.admit(admitted, for: rootHolder.charged(for: su)) == nil { admitted += 1 }
        #expect(admitted == queue.ledger.limits.perPeer)
        #expect(queue.admit(-1, for: rootHolder.charged(for: sshd)) == nil)
    }

    /// Turns two-factor on for `user` at the fixture's clock; returns the secret.
    func enroll(_ user: String) throws -> String {
        let begun = dispatcher.handle(
            .enrollBegin(user: user, algorithm: .sha1, digits: 6, period: 30),
            from: root,
            session: Session()
        )
        guard case .enrollmentStarted(let uri, _) = begun.response, let secret = secretParameter(ofURI: uri) else {
            throw SetupFailed(description: "no enrollment: \(begun.response)")
        }
        let code = try OathTool.code(secret: secret, at: Self.now)
        let confirmed = dispatcher.handle(.enrollConfirm(user: user, code: code), from: root, session: Session())
        if case .error = confirmed.response {
            throw SetupFailed(description: "enrollment not confirmed: \(confirmed.response)")
        }
        return secret
    }
}

private struct SetupFailed: Error, CustomStringConvertible {
    let description: String
}
