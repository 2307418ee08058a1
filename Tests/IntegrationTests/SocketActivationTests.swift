import Foundation
import Glibc
import TestSupport
import Testing

/// systemd hands the daemon an already-listening socket as fd 3 (sd_listen_fds(3)).
/// systemd-socket-activate(1) does exactly that without a running systemd.
@Suite struct SocketActivationTests {
    @Test func daemon_servesTheInheritedSocket() throws {
        let daemon = try DaemonProcess()
        // Not Foundation's Process: it takes the exec into twofactord for an exit, then blocks in
        // waitpid and stops reaping every other child of the test process.
        let activator = try ChildProcess.start([
            "/usr/bin/systemd-socket-activate", "-l", daemon.socketPath,
            Binaries.url("twofactord").path,
            "--state-dir", daemon.stateDirectory, "--scrypt-log-n", "10",
            // Never bound: the inherited socket wins.
            "--socket", daemon.directory.appendingPathComponent("unused").path,
        ])
        defer {
            kill(activator, SIGTERM)
            ChildProcess.wait(activator)
        }
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: daemon.socketPath), Date() < deadline { usleep(20_000) }

        let added = try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "pass-phrase\n")
        #expect(added.status == 0, "\(added.standardError)")
        #expect(try daemon.login("alice", password: "pass-phrase").status == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.directory.appendingPathComponent("unused").path))
    }

    /// An offline job (a restore, key rotation or copy) holds the state directory while a login arrives on the
    /// socket: the daemon that socket activation starts waits for the job and then serves the login, where it
    /// used to exit at once and leave the login without an answer.
    @Test func aDaemonActivatedWhileAnOfflineJobHoldsTheStateDirectory_waitsForIt_thenServes() throws {
        let daemon = try DaemonProcess()
        // The test holds the lock as a job does (StateDirectoryLock: flock on the directory itself).
        let job = open(daemon.stateDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        try #require(job >= 0 && flock(job, LOCK_EX | LOCK_NB) == 0)
        var jobEnded = false
        defer { if !jobEnded { close(job) } }
        let log = daemon.directory.appendingPathComponent("activated.log").path
        let activator = try ChildProcess.start(
            [
                "/usr/bin/systemd-socket-activate", "-l", daemon.socketPath,
                Binaries.url("twofactord").path,
                "--state-dir", daemon.stateDirectory, "--scrypt-log-n", "10",
            ],
            output: log
        )
        defer {
            kill(activator, SIGTERM)
            ChildProcess.wait(activator)
        }
        let listening = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: daemon.socketPath), Date() < listening { usleep(20_000) }

        let adding = try daemon.startCtl(["user", "add", "alice", "--password-stdin"])
        let output = BackgroundReader(adding.error)
        adding.type("pass-phrase\n")
        try adding.closeInput()
        sleep(3)
        #expect(
            adding.process.isRunning,
            "answered while the job held the directory: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")"
        )

        close(job)
        jobEnded = true
        let answered = Date().addingTimeInterval(20)
        while adding.process.isRunning, Date() < answered { usleep(20_000) }
        try #require(!adding.process.isRunning, "no answer after the job ended")
        #expect(adding.process.terminationStatus == 0, "\(output.text())")
        #expect(try daemon.login("alice", password: "pass-phrase").status == 0)
        let logged = try String(contentsOfFile: log, encoding: .utf8)
        #expect(logged.contains("holds the state directory: waiting"), "\(logged)")
    }
}
