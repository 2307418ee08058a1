import Foundation
import Glibc
import TestSupport
import Testing
import Wire

/// Issue 7, point 10: SIGKILL at random moments while clients log in at full speed loses nothing,
/// replays nothing and rewinds no counter; a writer killed holding LMDB's write lock does not block the next.
@Suite struct CrashSafetyTests {
    /// An `ok` seen by a client: for which step, and when it was sent and answered (on one global ticket
    /// counter, so "answered before that one was sent" is exact).
    struct Acceptance {
        var user: String
        var step: Int64
        var sent: Int
        var answered: Int
    }

    /// Everything the clients observed, shared between their threads.
    final class Observations: @unchecked Sendable {
        private let lock = NSLock()
        private var ticket = 0
        private(set) var acceptances: [Acceptance] = []
        private(set) var denied: [String: Int] = [:]
        private(set) var requests = 0

        func nextTicket() -> Int {
            lock.withLock {
                ticket += 1; return ticket
            }
        }
        func accepted(_ acceptance: Acceptance) { lock.withLock { acceptances.append(acceptance) } }
        func deniedOne(_ user: String) { lock.withLock { denied[user, default: 0] += 1 } }
        func counted() { lock.withLock { requests += 1 } }
        private(set) var crossKillReplays = 0
        func replayedAcrossKill() { lock.withLock { crossKillReplays += 1 } }
        var snapshot: (acceptances: [Acceptance], denied: [String: Int], requests: Int) {
            lock.withLock { (acceptances, denied, requests) }
        }
    }

    static let kills = 100
    static let password = "crash-test-pass"

    @Test func sigkillAtRandomMoments_neverReplaysLosesAccountsOrRewindsCounters() throws {
        let daemon = try DaemonProcess()
        // Foundation's Process lost the SIGCHLD of a killed daemon under this load (waitUntilExit hung with
        // the daemon a zombie), so this test spawns and reaps the daemon itself.
        let killable = KillableDaemon(daemon)
        try killable.start()
        defer { killable.kill() }
        let admin = try #require(WireClient(path: daemon.socketPath))
        // TOTP accounts at a one-second period, so that each gets a fresh code every second.
        let totpUsers = (0..<12).map { "totp\($0)" }
        var codes: [String: [Int64: String]] = [:]
        for user in totpUsers {
            let secret = try daemon.enrolledAccount(user, password: Self.password, period: 1).secret
            codes[user] = try OathTool.codes(secret: secret, from: unixNow() - 2, count: 400, period: 1)
        }
        let counterUsers = (0..<30).map { "count\($0)" }
        for user in counterUsers + ["plain"] {
            let added = admin.call(
                .userAdd(
                    user: user,
                    organization: "",
                    role: .agent,
                    requireTwoFactor: false,
                    password: Array(Self.password.utf8)
                )
            )
            #expect(added == .done)
        }
        let allUsers = Set(totpUsers + counterUsers + ["plain"])

        let observed = Observations()
        let stop = Locked(false)
        let group = DispatchGroup()
        func spawn(_ body: @escaping @Sendable () -> Void) {
            group.enter()
            Thread {
                body()
                group.leave()
            }.start()
        }
        let socketPath = daemon.socketPath
        let allCodes = codes
        // One client per TOTP account: each new step's code once, then at once again (a replay), and after
        // every reconnect the last code it saw accepted (a replay across the kill).
        for user in totpUsers {
            spawn {
                Self.totpClient(user, codes: allCodes[user]!, socketPath: socketPath, observed: observed, stop: stop)
            }
        }
        // Full-speed writers: password logins (each commits a success) and wrong passwords (each commits a failure).
        for _ in 0..<2 {
            spawn {
                Self.passwordClient(
                    ["plain"],
                    password: Self.password,
                    socketPath: socketPath,
                    observed: observed,
                    stop: stop
                )
            }
        }
        spawn {
            Self.passwordClient(
                counterUsers,
                password: "wrong-password",
                socketPath: socketPath,
                observed: observed,
                stop: stop
            )
        }

        var generator = SystemRandomNumberGenerator()
        var lastFailureCounts: [String: UInt32] = [:]
        let started = Date()
        for kill in 0..<Self.kills {
            usleep(UInt32.random(in: 20_000...350_000, using: &generator))
            killable.kill()
            let deniedBeforeKill = observed.snapshot.denied
            try killable.start()
            // Every account is there and decodes; no failure counter went back.
            // The clients reconnect at the same moment, so the first attempts may find the backlog full.
            var listing: Response?
            for _ in 0..<250 where listing == nil {
                listing = WireClient(path: daemon.socketPath)?.call(.userList(organization: "", after: "", limit: 200))
                if listing == nil { usleep(20_000) }
            }
            guard case .userList(let infos, _)? = listing else {
                Issue.record("user list failed after kill \(kill):\n\(daemon.log().suffix(2000))")
                stop.mutate { $0 = true }
                break
            }
            #expect(Set(infos.map(\.user)) == allUsers, "kill \(kill)")
            for info in infos where info.user.hasPrefix("count") {
                let previous = lastFailureCounts[info.user] ?? 0
                #expect(info.failureCount >= previous, "\(info.user)'s failure count went back at kill \(kill)")
                // Every `denied` answered before the kill was counted durably first. (Once locked, the
                // daemon answers `locked` without counting, so the counts stay at least the denials.)
                #expect(
                    Int(info.failureCount) >= deniedBeforeKill[info.user, default: 0],
                    "\(info.user) at kill \(kill)"
                )
                lastFailureCounts[info.user] = info.failureCount
            }
        }
        stop.mutate { $0 = true }
        group.wait()
        let elapsed = Date().timeIntervalSince(started)

        let (acceptances, denied, requests) = observed.snapshot
        // The test must have done real work, or it proves nothing.
        #expect(
            acceptances.count >= 100,
            Comment(
                rawValue: "only \(acceptances.count) codes accepted in \(elapsed) s; totp0 saw:\n"
                    + daemon.log().split(separator: "\n").filter { $0.contains("user=totp0 ") }.suffix(20)
                    .joined(separator: "\n")
            )
        )
        let crossKillReplays = observed.crossKillReplays
        #expect(crossKillReplays >= 20, "only \(crossKillReplays) codes were replayed across a kill")
        #expect(requests >= 1_000, "only \(requests) requests in \(elapsed) s")
        #expect(denied.values.reduce(0, +) >= 100)
        for user in totpUsers {
            let mine = acceptances.filter { $0.user == user }
            #expect(Set(mine.map(\.step)).count == mine.count, "\(user): a step was accepted twice")
            // An ok answered before another request was sent means that request's step had to be later.
            let outOfOrder = mine.flatMap { earlier in
                mine.filter { $0.sent > earlier.answered && $0.step <= earlier.step }.map { (earlier.step, $0.step) }
            }
            #expect(outOfOrder.isEmpty, "\(user): steps accepted after a later or equal one: \(outOfOrder.prefix(5))")
        }
        print(
            "crash test: \(Self.kills) kills in \(Int(elapsed)) s, \(requests) requests, \(acceptances.count) codes accepted, "
                + "\(crossKillReplays) replayed across a kill (all refused)"
        )
    }

    /// A process of its own (a 10-line C program on liblmdb, independent of our wrapper) takes LMDB's write
    /// lock and is killed holding it: the running daemon's next write, and a restarted daemon's, go through.
    @Test func writerKilledHoldingTheWriteLock_isRecovered() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        #expect(try daemon.ctl(["user", "add", "before", "--password-stdin"], input: Self.password + "\n").status == 0)
        let holder = try Self.buildLockHolder(in: daemon.directory)

        // While the daemon runs: its write waits for the lock, then proceeds once the holder dies.
        let first = try Self.startHoldingTheLock(holder, stateDirectory: daemon.stateDirectory)
        let during = Locked<Int32?>(nil)
        let writer = Thread {
            let status = (try? daemon.ctl(["user", "add", "during", "--password-stdin"], input: Self.password + "\n"))?
                .status
            during.mutate { $0 = status ?? -1 }
        }
        writer.start()
        usleep(500_000)
        #expect(during.value == nil, "the daemon's write must wait while another process holds the lock")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let deadline = Date().addingTimeInterval(20)
        while during.value == nil && Date() < deadline { usleep(10_000) }
        #expect(during.value == 0, "the write did not go through after the holder died:\n\(daemon.log().suffix(2000))")

        // With the daemon stopped: the next start recovers the lock left by a killed writer.
        daemon.stop(signal: SIGKILL)
        let second = try Self.startHoldingTheLock(holder, stateDirectory: daemon.stateDirectory)
        kill(second.processIdentifier, SIGKILL)
        second.waitUntilExit()
        try daemon.start()
        #expect(try daemon.ctl(["user", "add", "after", "--password-stdin"], input: Self.password + "\n").status == 0)
        let list = try daemon.ctl(["user", "list"]).standardOutput
        for name in ["before", "during", "after"] { #expect(list.contains(name), "\(list)") }
    }

    static func buildLockHolder(in directory: URL) throws -> URL {
        let source = directory.appendingPathComponent("hold-write-lock.c")
        let binary = directory.appendingPathComponent("hold-write-lock")
        try """
        #include <lmdb.h>
        #include <stdio.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            MDB_env *env;
            MDB_txn *txn;
            if (argc != 2 || mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) || mdb_env_open(env, argv[1], 0, 0600))
                return 2;
            if (mdb_txn_begin(env, NULL, 0, &txn)) return 3;
            puts("holding");
            fflush(stdout);
            pause();
            return 0;
        }
        """.write(to: source, atomically: true, encoding: .utf8)
        let compiled = try run(URL(fileURLWithPath: "/usr/bin/cc"), ["-o", binary.path, source.path, "-llmdb"])
        guard compiled.status == 0 else { throw Failure("cc: \(compiled.standardError)") }
        return binary
    }

    /// Starts the lock holder and returns once it holds LMDB's write lock.
    static func startHoldingTheLock(_ holder: URL, stateDirectory: String) throws -> Process {
        let process = Process()
        process.executableURL = holder
        process.arguments = [stateDirectory]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let line = output.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).contains("holding") else {
            process.terminate()
            throw Failure("the lock holder did not take the lock")
        }
        return process
    }

    /// Connects, retrying while the daemon restarts; nil once the test is stopping.
    static func connect(_ socketPath: String, stop: Locked<Bool>) -> WireClient? {
        while !stop.value {
            if let client = WireClient(path: socketPath) { return client }
            usleep(2_000)
        }
        return nil
    }

    /// Logs in with each new step's code once. Every accepted code is then tried once more: at once on the
    /// same connection, or (every other time) first thing after the next reconnect, i.e. across a kill.
    /// So a client never has more than two failures in a row, and its account is never locked.
    static func totpClient(
        _ user: String,
        codes: [Int64: String],
        socketPath: String,
        observed: Observations,
        stop: Locked<Bool>
    ) {
        var replay: (step: Int64, acrossKill: Bool)?
        var lastTried: Int64 = 0
        var reconnected = false
        while let client = connect(socketPath, stop: stop) {
            while !stop.value {
                let step: Int64
                var replaying = false
                if let pending = replay, !pending.acrossKill || reconnected {
                    step = pending.step
                    replaying = true
                } else {
                    let now = unixNow()
                    guard now > lastTried else {
                        usleep(5_000)
                        continue
                    }
                    lastTried = now
                    step = now
                }
                guard let code = codes[step] else { return }
                let sent = observed.nextTicket()
                let answer = client.call(
                    .login(user: user, password: Array(password.utf8), codeKind: .totp, code: code)
                )
                let answered = observed.nextTicket()
                guard let answer else {
                    // Lost to a kill (often the connection died while idle): try this step again after the
                    // reconnect. If it was accepted before the kill, that retry is a replay and must be denied.
                    if !replaying { lastTried = step - 1 }
                    break
                }
                observed.counted()
                if replaying {
                    replay = nil
                    if reconnected && unixNow() - step <= 1 { observed.replayedAcrossKill() }
                }
                reconnected = false
                if case .loginResult(.ok, _, _) = answer {
                    observed.accepted(Acceptance(user: user, step: step, sent: sent, answered: answered))
                    replay = (step, step.isMultiple(of: 2))
                }
            }
            reconnected = true
        }
    }

    static func passwordClient(
        _ users: [String],
        password: String,
        socketPath: String,
        observed: Observations,
        stop: Locked<Bool>
    ) {
        var index = 0
        while let client = connect(socketPath, stop: stop) {
            while !stop.value {
                let user = users[index % users.count]
                guard
                    let answer = client.call(
                        .login(user: user, password: Array(password.utf8), codeKind: .none, code: "")
                    )
                else { break }
                observed.counted()
                switch answer {
                // A wrong password without a code is asked for one, and counted like a denial.
                case .loginResult(.denied, _, _), .loginResult(.codeNeeded, _, _): observed.deniedOne(user)
                case .loginResult(.locked, _, _): index += 1
                default: break
                }
            }
        }
    }
}

/// The daemon of a `DaemonProcess` (same socket, state and log), started with posix_spawn and reaped with
/// waitpid, so that it can be killed and restarted many times.
final class KillableDaemon {
    let daemon: DaemonProcess
    private var pid: pid_t = 0

    init(_ daemon: DaemonProcess) { self.daemon = daemon }

    func start() throws {
        let log = daemon.directory.appendingPathComponent("daemon.log").path
        let arguments = [
            Binaries.url("twofactord").path, "--socket", daemon.socketPath, "--state-dir", daemon.stateDirectory,
            "--scrypt-log-n", "10",
        ]
        pid = try ChildProcess.start(arguments, output: log)
        let deadline = Date().addingTimeInterval(30)
        while !RawSocket.canConnect(daemon.socketPath) {
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == 0, Date() < deadline else {
                throw Failure("twofactord did not start listening:\n\(daemon.log().suffix(2000))")
            }
            usleep(5_000)
        }
    }

    func kill() {
        guard pid > 0 else { return }
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }
}
