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
}
