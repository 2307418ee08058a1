import Foundation
import Glibc
import Testing

/// What local users can do to the daemon while NSS hangs (LDAP down): the daemon looks up whether a peer is an
/// operator, and the lookup blocks (`HungNSSDatabase`).
@Suite(.enabled(if: runningAsRoot, notRootMessage))
struct HungNSSTests {
    /// The daemon's open sockets: its listener and its connections.
    private func sockets(of pid: Int32) -> Int {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return descriptors.filter { descriptor in
            let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)")
            return target?.hasPrefix("socket:") == true
        }.count
    }

    /// Root's `twofactor login` of erin (password "pass-phrase") while `database` hangs, waited for at most 60 s,
    /// so that a login that waits for NSS ends the test instead of hanging it; then `database` is released. Returns
    /// the login's result (nil when it was not answered in those 60 s), and the threads of the daemon that waited on
    /// NSS and the daemon's log at that point.
    private func rootsLogin(
        _ daemon: DaemonProcess,
        pid: Int32,
        whileHung database: HungNSSDatabase
    ) -> (login: CommandResult?, waiting: Int, log: String) {
        let login = Locked<CommandResult?>(nil)
        let answered = DispatchSemaphore(value: 0)
        Thread {
            login.mutate { $0 = try? daemon.login("erin", password: "pass-phrase") }
            answered.signal()
        }.start()
        let answeredWhileNSSHung = answered.wait(timeout: .now() + 60) == .success
        let waiting = HungNSSDatabase.lookupsWaiting(in: pid)
        let log = daemon.log()
        database.release(daemon: pid)
        if !answeredWhileNSSHung { answered.wait() }
        return (answeredWhileNSSHung ? login.value : nil, waiting, log)
    }

    /// Every request of a peer other than root asked NSS on its worker whether the peer is an operator, one lookup
    /// per request: two users' requests (22 places of the pool each) held all 33 threads of `--workers 1` in
    /// lookups, and root's logins (sshd's, su's) waited until NSS answered. A request now takes the answer its
    /// connection's lookup gave (`OperatorCache`: one lookup per uid at a time, waited for at most 2 s).
    @Test func whileNSSHangs_twoUsersRequests_leaveRootsLoginsServed() throws {
        let daemon = try DaemonProcess()
        let groups = try HungNSSDatabase(in: daemon.directory)
        try daemon.start(extraArguments: ["--workers", "1"], launcher: groups.launcher)
        let pid = try #require(daemon.process?.processIdentifier)
        defer { groups.release(daemon: pid) }
        _ = try daemon.ctl(["user", "add", "erin", "--password-stdin"], input: "pass-phrase\n")

        let floods = try [65534, 4242].map { uid in
            try PeerFlood(daemon: daemon, connections: 30, mode: .flood, pipeline: 1, uid: uid)
        }
        // Until every thread of the pool (33) and each uid's lookup wait on NSS, as they did within 3 s before (the
        // connections wait 2 s for their lookups first), or a login of the floods was answered, or 10 s passed.
        for _ in 0..<1000 {
            if HungNSSDatabase.lookupsWaiting(in: pid) >= 35 || daemon.log().contains("login denied") { break }
            usleep(10_000)
        }
        let (login, waiting, _) = rootsLogin(daemon, pid: pid, whileHung: groups)
        for flood in floods { _ = try flood.stop() }

        #expect(login != nil, "root's login waited for NSS; \(waiting) threads of the daemon waited on it")
        #expect(login?.status == 0, "\(login?.standardError ?? "")\n\(daemon.log().suffix(2000))")
        #expect(waiting <= 4, "one lookup per uid, at most 4 at once: \(waiting) threads waited on NSS")
    }

    /// A code check of a pending account from a code-check group member that is no operator asked NSS on its worker
    /// for the peer's login name (whether it may enroll that account), one getpwuid per request: two members'
    /// code checks held every thread of `--workers 1` in lookups, and root's logins waited until NSS answered. The
    /// name now comes from a cache with the operator cache's rules (one lookup per uid at a time, waited for at
    /// most 2 s; past that the peer may not enroll).
    @Test func whileNSSHangs_twoCodeCheckersChecksOfAPendingAccount_leaveRootsLoginsServed() throws {
        let checkers = try ThrowawayGroup()
        let daemon = try DaemonProcess()
        let passwd = try HungNSSDatabase(in: daemon.directory, database: "passwd")
        try daemon.start(
            extraArguments: ["--workers", "1", "--code-check-group", checkers.name],
            launcher: passwd.launcher
        )
        let pid = try #require(daemon.process?.processIdentifier)
        defer { passwd.release(daemon: pid) }
        _ = try daemon.ctl(["user", "add", "erin", "--password-stdin"], input: "pass-phrase\n")
        let pending = try daemon.ctl(
            ["user", "add", "nobody", "--require-2fa", "--password-stdin"],
            input: "pw-nobody-1\n"
        )
        try #require(pending.status == 0, "\(pending.standardError)")

        // Set-group-ID programs of the code-check group, run by two users, each checking the pending account.
        let floods = try [65534, 4242].map { uid in
            try PeerFlood(daemon: daemon, connections: 30, mode: .codeChecks, pipeline: 1, uid: uid, gid: checkers.gid)
        }
        // Until every thread of the pool (33) waits on NSS, as they all did before, or 10 s passed.
        for _ in 0..<1000 where HungNSSDatabase.lookupsWaiting(in: pid) < 33 { usleep(10_000) }
        let (login, waiting, logWhileHung) = rootsLogin(daemon, pid: pid, whileHung: passwd)
        let counts = try floods.map { try $0.stop() }

        #expect(login != nil, "root's login waited for NSS; \(waiting) threads of the daemon waited on it")
        #expect(login?.status == 0, "\(login?.standardError ?? "")\n\(daemon.log().suffix(2000))")
        #expect(
            waiting <= 8,
            "one lookup per uid and question (operator, login name), at most 4 at once each: \(waiting) threads waited"
        )
        // A login name that NSS did not give in time enrolls no one: uid 65534's own account was not offered.
        #expect(!logWhileHung.contains("login needs enrollment"), "\(counts)\n\(logWhileHung.suffix(2000))")
    }

    /// A connection was charged to its uid's share only once the lookup of its operator status ended, up to 2 s
    /// after its accept: until then it held a descriptor and counted nowhere, so one user held any number of
    /// connections for those 2 s (100 against a share of 9 here; past the descriptor limit, accept(2) failed for
    /// every other user too). It is now charged to its uid from its accept, and one past the share is refused then.
    @Test func whileAUsersLookupHangs_itsConnectionsPastItsShare_areRefusedAtOnce() throws {
        let daemon = try DaemonProcess()
        let groups = try HungNSSDatabase(in: daemon.directory)
        // 40 places: 4 kept for operators, 9 per other uid.
        try daemon.start(extraArguments: ["--max-connections", "40"], launcher: groups.launcher)
        let pid = try #require(daemon.process?.processIdentifier)
        defer { groups.release(daemon: pid) }
        let before = sockets(of: pid)

        let idle = try PeerFlood(daemon: daemon, connections: 100, mode: .idle)
        // Sampled while nobody's lookup hangs, the first 2 s after its first connection (the lookup's timeout):
        // the refused connections close as soon as they are told, which takes the daemon a moment.
        var most = 0
        for _ in 0..<50 {
            most = max(most, sockets(of: pid) - before)
            usleep(10_000)
        }
        let listed = try daemon.ctl(["user", "list"])
        _ = try idle.stop()

        #expect(idle.connected == 100, "\(idle.readyLine)")
        #expect(most <= 30, "nobody held \(most) connections of the daemon against a share of 9")
        #expect(listed.status == 0, "the operator must get in: \(listed.standardError)")
    }
}
