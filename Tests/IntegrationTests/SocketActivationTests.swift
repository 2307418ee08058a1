import Foundation
import Glibc
import Testing

/// systemd hands the daemon an already-listening socket as fd 3 (sd_listen_fds(3)).
/// systemd-socket-activate(1) does exactly that without a running systemd.
@Suite struct SocketActivationTests {
    @Test func daemon_servesTheInheritedSocket() throws {
        let daemon = try DaemonProcess()
        // Not Foundation's Process: it takes the exec into twofactord for an exit, then blocks in
        // waitpid and stops reaping every other child of the test process.
        let activator = try spawn([
            "/usr/bin/systemd-socket-activate", "-l", daemon.socketPath,
            Binaries.url("twofactord").path,
            "--state-dir", daemon.stateDirectory, "--scrypt-log-n", "10",
            // Never bound: the inherited socket wins.
            "--socket", daemon.directory.appendingPathComponent("unused").path,
        ])
        defer {
            kill(activator, SIGTERM)
            var status: Int32 = 0
            waitpid(activator, &status, 0)
        }
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: daemon.socketPath), Date() < deadline { usleep(20_000) }

        let added = try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "pass-phrase\n")
        #expect(added.status == 0, "\(added.standardError)")
        #expect(try daemon.login("alice", password: "pass-phrase").status == 0)
        #expect(!FileManager.default.fileExists(atPath: daemon.directory.appendingPathComponent("unused").path))
    }
}

/// Starts `arguments[0]` with posix_spawn, its output discarded; the caller waits for it.
func spawn(_ arguments: [String]) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
    guard result == 0 else { throw Failure("posix_spawn \(arguments[0]): \(String(cString: strerror(result)))") }
    return pid
}
