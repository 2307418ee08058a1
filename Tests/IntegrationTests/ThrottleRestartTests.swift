import Foundation
import Testing
import Wire

// A restart of the daemon forgets no throttle count, an unknown name's no more than an account's: otherwise
// `locked` after a restart would tell which names exist (docs/security.md, "Strangers cannot lock anyone out").
@Suite struct ThrottleRestartTests {
    /// What a privileged peer (sshd through PAM) is answered for a wrong password of `user` from `host`.
    private func outcome(_ daemon: DaemonProcess, _ user: String, from host: String) throws -> LoginOutcome? {
        let client = try #require(WireClient(path: daemon.socketPath))
        let answer = client.call(
            .loginFrom(
                user: user,
                password: Array("wrong-guess".utf8),
                codeKind: .none,
                code: "",
                origin: LoginOrigin(service: "sshd", remoteHost: host)
            )
        )
        guard case .loginResult(let outcome, _, _)? = answer else { return nil }
        return outcome
    }

    /// Locks of an hour: a test slowed down by a loaded machine still finds them in force after the restart.
    private let longLocks = ["--throttle-base-delay", "3600", "--throttle-max-delay", "3600"]

    @Test func anUnknownName_staysLockedAcrossARestart_likeAnAccount() throws {
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: longLocks)
        let added = try daemon.ctl(["user", "add", "bob", "--password-stdin"], input: "bob-Passw0rd!\n")
        #expect(added.status == 0, "\(added.standardError)")
        for user in ["bob", "ghost"] {
            // Five failures each: an unprivileged uid's, and a remote host's through a privileged peer.
            for _ in 0..<5 {
                _ = try daemon.login(user, password: "wrong-guess", uid: nobodyUID)
                _ = try outcome(daemon, user, from: "192.0.2.7")
            }
        }

        #expect(daemon.stop() == 0)
        try daemon.start(extraArguments: longLocks)

        for user in ["bob", "ghost"] {
            let local = try daemon.login(user, password: "wrong-guess", uid: nobodyUID)
            #expect(local.status == 2, "\(user) from uid \(nobodyUID) after a restart: \(local.standardError)")
            // Another host: refused by the count of the name as a whole, an account's or an unknown name's.
            #expect(try outcome(daemon, user, from: "198.51.100.1") == .locked, "\(user) from another host")
        }
    }
}
