import Foundation
import Glibc
import Testing

/// systemd hands the daemon an already-listening socket as fd 3 (sd_listen_fds(3)).
/// systemd-socket-activate(1) does exactly that without a running systemd.
@Suite struct SocketActivationTests {
    @Test func daemon_servesTheInheritedSocket() throws {
        let daemon = try DaemonProcess()
        let activator = Process()
        activator.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-socket-activate")
        activator.arguments = [
            "-l", daemon.socketPath,
            Binaries.url("twofactord").path,
            "--state-dir", daemon.stateDirectory, "--scrypt-log-n", "10",
            // Never bound: the inherited socket wins.
            "--socket", daemon.directory.appendingPathComponent("unused").path,
        ]
        activator.standardError = FileHandle.nullDevice
        try activator.run()
        defer {
            kill(activator.processIdentifier, SIGTERM)
            activator.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: daemon.socketPath), Date() < deadline { usleep(20_000) }

        let added = try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "pw\n")
        #expect(added.status == 0, "\(added.standardError)")
        #expect(try daemon.login("alice", password: "pw").status == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.directory.appendingPathComponent("unused").path))
    }
}
