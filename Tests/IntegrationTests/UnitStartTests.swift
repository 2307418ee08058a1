import Foundation
import Glibc
import TestSupport
import Testing

/// The units started as systemd would start them, where systemd itself cannot run (no PID 1 in
/// CI): systemd-socket-activate holds the socket unit's listening socket and starts the service's
/// ExecStart on the first connection, with the environment the service gets (notify socket,
/// watchdog, journal, the twofactord-key credential).
@Suite struct UnitStartTests {
    @Test func units_startOnFirstConnection_notifyReady_andSealWithTheCredentialKey() throws {
        let daemon = try DaemonProcess()
        let receiver = DatagramReceiver(path: daemon.directory.appendingPathComponent("notify").path)
        let (credentials, _) = try credentialKey(for: daemon, mode: 0o400)

        let units = try SystemdUnitTests.renderedUnits()
        defer { try? FileManager.default.removeItem(at: units) }
        let service = try String(contentsOf: units.appendingPathComponent("twofactord.service"), encoding: .utf8)
        let execStart = try #require(line(after: "ExecStart=", in: service))
        let socketUnit = try String(contentsOf: units.appendingPathComponent("twofactord.socket"), encoding: .utf8)
        #expect(line(after: "ListenStream=", in: socketUnit) == "/run/twofactord/socket")

        let activator = try ChildProcess.start(
            [
                "/usr/bin/systemd-socket-activate", "-l", daemon.socketPath,
                "-E", "NOTIFY_SOCKET=\(receiver.path)", "-E", "WATCHDOG_USEC=2000000", "-E", "JOURNAL_STREAM=8:1",
                "-E", "CREDENTIALS_DIRECTORY=\(credentials.path)",
            ] + execStart.split(separator: " ").map(String.init) + [
                "--state-dir", daemon.stateDirectory, "--scrypt-log-n", "10",
            ]
        )
        defer {
            kill(activator, SIGTERM)
            ChildProcess.wait(activator)
        }
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: daemon.socketPath), Date() < deadline { usleep(20_000) }

        // The first connection starts the service.
        let added = try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "tangerine-42\n")
        #expect(added.status == 0, "\(added.standardError)")
        var messages: [String] = []
        while !messages.contains(where: { $0.contains("READY=1") }), let message = receiver.receive() {
            messages.append(message)
        }
        #expect(messages.contains { $0.contains("READY=1") && $0.contains("STATUS=Serving on fd 3") }, "\(messages)")
        #expect(receiver.receive()?.contains("WATCHDOG=1") == true)

        let (secret, step) = try daemon.enrolledAccount("bob", password: "clementine-7")
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        #expect(try daemon.login("bob", password: "clementine-7", code: code).status == 0)
        // The credential sealed the secret: no key was made in the state directory.
        #expect(!FileManager.default.fileExists(atPath: daemon.stateDirectory + "/secrets.key"))
    }

    /// Where the credentials' file system takes ACLs, systemd gives the service's user the credential through one,
    /// whose mask shows as the group bits (0440): the daemon takes that key, and still refuses one others may read.
    @Test func credentialKey_withAnACLMaskInItsGroupBits_isTaken_oneOthersMayReadIsNot() throws {
        let daemon = try DaemonProcess()
        let (credentials, key) = try credentialKey(for: daemon, mode: 0o444)
        let environment = ["CREDENTIALS_DIRECTORY": credentials.path]

        let refused = try run(
            Binaries.url("twofactord"),
            ["--socket", daemon.socketPath, "--state-dir", daemon.stateDirectory, "--scrypt-log-n", "10"],
            environment: environment
        )
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("chmod 600"), "\(refused.standardError)")

        try FileManager.default.setAttributes([.posixPermissions: 0o440], ofItemAtPath: key.path)
        try daemon.start(environment: environment)
        _ = try daemon.enrolledAccount("bob", password: "clementine-7")
        #expect(!FileManager.default.fileExists(atPath: daemon.stateDirectory + "/secrets.key"))
    }

    /// A credentials directory beside `daemon`'s state, as systemd makes one, with a random `twofactord-key` of `mode`.
    private func credentialKey(for daemon: DaemonProcess, mode: Int) throws -> (directory: URL, key: URL) {
        let credentials = daemon.directory.appendingPathComponent("credentials")
        try FileManager.default.createDirectory(
            at: credentials,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        let key = credentials.appendingPathComponent("twofactord-key")
        try Data((0..<32).map { _ in UInt8.random(in: 0...255) }).write(to: key)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: key.path)
        return (credentials, key)
    }
}
