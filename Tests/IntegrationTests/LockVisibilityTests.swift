import Foundation
import Glibc
import TestSupport
import Testing
import Wire

// `user show` and `user list` show every lock a user hits: the account-wide one and each origin's (a local
// uid, a remote host), through the real daemon and the real CLIs; `unlock` clears them all.
@Suite struct LockVisibilityTests {
    static let password = "b3-Passw0rd!"

    private func daemonWithAccount() throws -> DaemonProcess {
        let daemon = try DaemonProcess()
        try daemon.start()
        let added = try daemon.ctl(["user", "add", "b3", "--password-stdin"], input: Self.password + "\n")
        guard added.status == 0 else { throw Failure("user add: \(added.standardError)") }
        return daemon
    }

    private func showJSON(_ daemon: DaemonProcess) throws -> [String: Any] {
        let shown = try daemon.ctl(["user", "show", "b3", "--json"])
        guard shown.status == 0,
            let object = try JSONSerialization.jsonObject(with: Data(shown.standardOutput.utf8)) as? [String: Any]
        else { throw Failure("user show --json: \(shown.standardError)") }
        return object
    }

    /// The LOCKED column of b3's row in `user list`.
    private func listedLock(_ daemon: DaemonProcess) throws -> String {
        let listed = try daemon.ctl(["user", "list"])
        guard listed.status == 0 else { throw Failure("user list: \(listed.standardError)") }
        let header = try #require(listed.standardOutput.split(separator: "\n").first)
        let row = try #require(listed.standardOutput.split(separator: "\n").first { $0.hasPrefix("b3 ") })
        let column = try #require(header.range(of: "LOCKED"))
        let offset = header.distance(from: header.startIndex, to: column.lowerBound)
        return String(row.dropFirst(offset)).trimmingCharacters(in: .whitespaces)
    }

    @Test func user_lockedForAnUnprivilegedUID_showsThatUID_untilUnlocked() throws {
        let daemon = try daemonWithAccount()
        var last: CommandResult?
        for _ in 0..<6 { last = try daemon.login("b3", password: "wrong-guess", uid: nobodyUID) }
        #expect(last?.standardError.contains("too many failed attempts") == true, "\(last?.standardError ?? "")")

        let shown = try showJSON(daemon)
        #expect(shown["lockedUntil"] is NSNull, "the account-wide counter stays untouched by an unprivileged peer")
        #expect(shown["lockedOrigins"] as? Int == 1)
        let locks = try #require(shown["originLocks"] as? [[String: Any]])
        #expect(locks.count == 1)
        #expect(locks.first?["origin"] as? String == "uid")
        #expect(locks.first?["uid"] as? Int == Int(nobodyUID))
        #expect(locks.first?["failures"] as? Int == 5)
        #expect((locks.first?["lockedUntil"] as? Int ?? 0) > Int(unixNow()))

        let text = try daemon.ctl(["user", "show", "b3"])
        #expect(text.standardOutput.contains("locked for uid \(nobodyUID) (nobody) until "), "\(text.standardOutput)")
        #expect(text.standardOutput.contains(", 5 failures"), "\(text.standardOutput)")
        #expect(try listedLock(daemon).hasPrefix("yes"))

        #expect(try daemon.ctl(["unlock", "b3"]).status == 0)
        let unlocked = try showJSON(daemon)
        #expect(unlocked["lockedOrigins"] as? Int == 0)
        #expect((unlocked["originLocks"] as? [Any])?.isEmpty == true)
        #expect(try !daemon.ctl(["user", "show", "b3"]).standardOutput.contains("locked"))
        #expect(try listedLock(daemon) == "no")
        #expect(try daemon.login("b3", password: Self.password, uid: nobodyUID).status == 0)
    }

    @Test func user_lockedForARemoteHost_showsThatHost_besideTheAccountWideLock() throws {
        let daemon = try daemonWithAccount()
        let client = try #require(WireClient(path: daemon.socketPath))
        try #require(client.lockOutFromSSHD("b3"), "the sixth wrong login from 192.0.2.7 was not locked")

        let shown = try showJSON(daemon)
        #expect(shown["lockedUntil"] is Int)
        let locks = try #require(shown["originLocks"] as? [[String: Any]])
        #expect(locks.count == 1)
        #expect(locks.first?["origin"] as? String == "host")
        #expect(locks.first?["host"] as? String == "192.0.2.7")
        #expect(locks.first?["failures"] as? Int == 5)
        let text = try daemon.ctl(["user", "show", "b3"]).standardOutput
        #expect(text.contains("locked for host 192.0.2.7 until "), "\(text)")

        #expect(try daemon.ctl(["unlock", "b3"]).status == 0)
        let unlocked = try showJSON(daemon)
        #expect(unlocked["lockedUntil"] is NSNull)
        #expect((unlocked["originLocks"] as? [Any])?.isEmpty == true)
    }

    @Test func user_lockedForManyOrigins_listsTwenty_andSaysHowManyMore() throws {
        // Privileged origins lock the account as a whole after a few failures, which stops counting their hosts;
        // unprivileged uids are counted apart, so 22 of them (one failure each, with no free failures) lock 22 keys.
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: ["--throttle-free-failures", "0"])
        let added = try daemon.ctl(["user", "add", "b3", "--password-stdin"], input: Self.password + "\n")
        #expect(added.status == 0, "\(added.standardError)")
        for uid in UInt32(60_000)..<60_022 { _ = try daemon.login("b3", password: "wrong-guess", uid: uid) }

        let shown = try showJSON(daemon)
        #expect(shown["lockedOrigins"] as? Int == 22)
        #expect((shown["originLocks"] as? [Any])?.count == 20)
        let text = try daemon.ctl(["user", "show", "b3"]).standardOutput
        #expect(text.contains("locked for 2 more origins"), "\(text)")
        #expect(try listedLock(daemon).hasPrefix("yes"))
    }
}
