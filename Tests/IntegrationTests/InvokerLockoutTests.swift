import Foundation
import Glibc
import Testing
import TestSupport
import Wire

/// su and sudo are setuid root: any local user runs the PAM module as euid 0, with their own real uid.
/// The module and `twofactor pam` report that uid (LoginFromInvoker, CodeCheckFromInvoker), and the daemon
/// counts such failures against (account, that uid) only, so guessing through `su victim` cannot lock the
/// victim out of sshd. The real daemon, over its socket, and real PAM through pamtester.
@Suite(.enabled(if: runningAsRoot, notRootMessage))
struct InvokerLockoutTests {
    static let invoker: UInt32 = 4_242
    static let remote = LoginOrigin(service: "sshd", remoteHost: "198.51.100.9")
    static let su = LoginOrigin(service: "su", invokerUID: invoker)
    static let codeNeeded = Response.loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: [])
    static let denied = Response.loginResult(outcome: .denied, retryAfter: 0, otpauthURI: [])
    static let ok = Response.loginResult(outcome: .ok, retryAfter: 0, otpauthURI: [])

    static func isLocked(_ response: Response?) -> Bool {
        if case .loginResult(.locked, _, _)? = response { true } else { false }
    }

    /// One request on its own connection, as each PAM conversation has (no attempt held across them).
    static func call(_ daemon: DaemonProcess, _ request: Request) throws -> Response? {
        try #require(WireClient(path: daemon.socketPath)).call(request)
    }

    static func loginFrom(_ password: String, code: String = "", _ origin: LoginOrigin) -> Request {
        .loginFrom(
            user: "alice",
            password: Array(password.utf8),
            codeKind: code.isEmpty ? .none : .totp,
            code: code,
            origin: origin
        )
    }

    @Test func invokersWrongPasswords_fromRoot_lockTheInvokerButNotSshd() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("alice", password: "pw-alice", period: 3600)
        for _ in 0..<5 { #expect(try Self.call(daemon, Self.loginFrom("guess", Self.su)) == Self.codeNeeded) }
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        let sshd = try Self.call(daemon, Self.loginFrom("pw-alice", code: code, Self.remote))
        #expect(sshd == Self.ok, "\(daemon.log())")
        #expect(Self.isLocked(try Self.call(daemon, Self.loginFrom("pw-alice", Self.su))))
        #expect(daemon.log().contains("invoker-uid=4242"))
    }

    @Test func invokersWrongCodes_fromRoot_lockTheInvokerButNotSshd() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("alice", password: "pw-alice", period: 3600)
        let wrong = Request.codeCheck(user: "alice", codeKind: .totp, code: "000000", origin: Self.su)
        for _ in 0..<5 { #expect(try Self.call(daemon, wrong) == Self.denied) }
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        let sshd = try Self.call(daemon, .codeCheck(user: "alice", codeKind: .totp, code: code, origin: Self.remote))
        #expect(sshd == Self.ok, "\(daemon.log())")
        #expect(Self.isLocked(try Self.call(daemon, wrong)))
    }

    /// The module in su keeps its connection open while it asks for the code, for as long as the user who ran su
    /// leaves the prompt: such connections take the invoker's share of connections, not root's, so that one user
    /// running many `su` cannot take every connection from sshd and the operators.
    @Test func connectionsHeldForAnInvoker_takeItsShare_andLeaveSshdAndOperatorsServed() throws {
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: ["--max-connections", "40"])
        let (secret, step) = try daemon.enrolledAccount("alice", password: "pw-alice", period: 3600)
        var held: [WireClient] = []
        var answers: [Response?] = []
        // A name each, so that no answer is `locked` and every su waits at "Verification code:".
        for index in 0..<40 {
            guard let client = WireClient(path: daemon.socketPath) else { break }
            let request = Request.loginFrom(
                user: "victim\(index)",
                password: Array("guess".utf8),
                codeKind: .none,
                code: "",
                origin: Self.su
            )
            answers.append(client.call(request))
            held.append(client)
        }
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        let sshd = WireClient(path: daemon.socketPath)?.call(Self.loginFrom("pw-alice", code: code, Self.remote))
        let listed = try daemon.ctl(["user", "list"])
        withExtendedLifetime(held) {}

        #expect(sshd == Self.ok, "sshd must get in:\n\(daemon.log().suffix(2000))")
        #expect(listed.status == 0, "the operator must get in: \(listed.standardError)")
        // (40 - 4 kept for operators) / 4: the invoker's share; the rest are refused in their turn.
        #expect(answers.filter { $0 == Self.codeNeeded }.count == 9, "\(answers)")
        #expect(answers.count == 40)
        // The invoker's own doing, not an outage: tooManyRequests, never busy.
        #expect(
            answers.dropFirst(9).allSatisfy { if case .error(.tooManyRequests, _)? = $0 { true } else { false } },
            "\(answers)"
        )
    }

    /// A stack that lets logins on while the daemon is unavailable (`authinfo_unavail=ignore`) must not let on a
    /// user who keeps their own share of the daemon full: su's second factor is then refused, not skipped.
    @Test func pamModule_inSu_withTheInvokersShareFull_refuses_evenInAStackThatSkipsAnOutage() throws {
        let setup = try PAMModuleTests.Setup(daemonArguments: ["--max-connections", "40"])
        let service = try PAMService([
            "auth required pam_permit.so",  // in place of pam_unix, which checked the password
            "auth [success=ok authinfo_unavail=ignore default=die] \(setup.module) socket=\(setup.daemon.socketPath) "
                + "code_only",
        ])
        let asNobody = LoginOrigin(service: "su", invokerUID: nobodyUID)
        var held: [WireClient] = []
        for index in 0..<9 {
            guard let client = WireClient(path: setup.daemon.socketPath) else { break }
            let request = Request.loginFrom(
                user: "victim\(index)",
                password: Array("guess".utf8),
                codeKind: .none,
                code: "",
                origin: asNobody
            )
            #expect(client.call(request) == Self.codeNeeded)
            held.append(client)
        }
        let result = try service.authenticate("alice", input: try setup.code() + "\n", realUID: nobodyUID)
        withExtendedLifetime(held) {}

        #expect(!result.authenticated, "\(result.standardError)\n\(setup.daemon.log().suffix(2000))")
        #expect(result.standardError.contains("Too many of your requests"), "\(result.standardError)")
    }

    /// pamtester as su runs it: euid 0 and the real uid of the user who typed `su alice`.
    @Test func pamModule_inSuRunByALocalUser_wrongPasswordsDoNotLockSshd() throws {
        let setup = try PAMModuleTests.Setup()
        let probe = try PAMService([
            "auth optional pam_exec.so stdout /bin/grep Uid: /proc/self/status", "auth required pam_permit.so",
        ])
        // pam_exec's child keeps pamtester's uids: real, effective, saved, filesystem.
        let ids = try probe.authenticate("alice", input: "", realUID: nobodyUID)
        #expect(ids.standardOutput.contains("Uid:\t65534\t0\t0\t0"), "\(ids.standardOutput)")

        let service = try setup.service()
        for _ in 0..<5 {
            let guess = try service.authenticate("alice", input: "guess\n\n", realUID: nobodyUID)
            #expect(!guess.authenticated)
        }
        let sshd = try service.authenticate("alice", input: "pw-alice\n\(try setup.code())\n", rhost: "198.51.100.9")
        #expect(sshd.authenticated, "\(sshd.standardError)\n\(setup.daemon.log())")
        let again = try service.authenticate("alice", input: "pw-alice\n\n", realUID: nobodyUID)
        #expect(!again.authenticated)
        #expect(again.standardError.contains("Too many failed attempts"), "\(again.standardError)")
        #expect(setup.daemon.log().contains("invoker-uid=65534"))
    }

    /// The same user's failures count once, whether it connects itself (pamtester as nobody: the daemon
    /// ignores the invoker an unprivileged peer reports and throttles its own uid) or runs su.
    @Test func pamModule_anUnprivilegedCallersInvoker_isIgnored_andItsOwnUIDCounts() throws {
        let setup = try PAMModuleTests.Setup()
        let service = try setup.service()
        for _ in 0..<5 {
            #expect(!(try service.authenticate("alice", input: "guess\n\n", uid: nobodyUID)).authenticated)
        }
        #expect(!setup.daemon.log().contains("invoker-uid"))
        let su = try service.authenticate("alice", input: "pw-alice\n\n", realUID: nobodyUID)
        #expect(su.standardError.contains("Too many failed attempts"), "\(su.standardError)")
        let console = try service.authenticate("alice", input: "pw-alice\n\(try setup.code())\n")
        #expect(console.authenticated, "\(console.standardError)\n\(setup.daemon.log())")
    }

    @Test func codeOnly_inSudoRunByALocalUser_wrongCodesDoNotLockSshd() throws {
        let setup = try PAMModuleTests.Setup()
        let service = try setup.service("code_only")
        for _ in 0..<5 {
            let guess = try service.authenticate("alice", input: "\(try setup.code(ahead: 5))\n", realUID: nobodyUID)
            #expect(!guess.authenticated)
        }
        let sshd = try service.authenticate("alice", input: "\(try setup.code())\n", rhost: "198.51.100.9")
        #expect(sshd.authenticated, "\(sshd.standardError)\n\(setup.daemon.log())")
        let again = try service.authenticate("alice", input: "\n", realUID: nobodyUID)
        #expect(again.standardError.contains("Too many failed attempts"), "\(again.standardError)")
    }

    /// `twofactor pam` under pam_exec, which keeps the real uid su left (pam_exec without `seteuid`).
    @Test func pamExec_inSuRunByALocalUser_wrongPasswordsDoNotLockSshd() throws {
        let setup = try PAMExecTests.Setup()
        let service = try setup.service()
        for _ in 0..<5 {
            let guess = try service.authenticate("alice", input: "guess\(try setup.code())\n", realUID: nobodyUID)
            #expect(!guess.authenticated)
        }
        let entry = "pw-alice\(try setup.code())\n"
        let sshd = try service.authenticate("alice", input: entry, rhost: "198.51.100.9")
        #expect(sshd.authenticated, "\(sshd.standardError)\n\(setup.daemon.log())")
        let again = try service.authenticate(
            "alice",
            input: "pw-alice\(try setup.code(ahead: 2))\n",
            realUID: nobodyUID
        )
        #expect(!again.authenticated)
        #expect(setup.daemon.log().contains("login refused: locked"))
        #expect(setup.daemon.log().contains("invoker-uid=65534"))
    }
}
