import Foundation
import Glibc
import Testing
import TestSupport

/// Issue 7, point 13 and the key rotation of point 6, through `twofactorctl` while the daemon serves:
/// the backup travels over the operator's own connection and the key is replaced without a restart.
@Suite struct OnlineMaintenanceTests {
    @Test func ctlBackup_whileServing_restores_andRefusesCodesUsedAfterIt() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("alice", password: "alice-pass-phrase", period: 3600)
        let backup = daemon.directory.appendingPathComponent("alice.backup").path

        let taken = try daemon.ctl(["backup", backup])
        #expect(taken.status == 0, "\(taken.standardError)")
        #expect(taken.standardOutput.contains("Wrote a backup of"), "\(taken.standardOutput)")
        var info = stat()
        #expect(lstat(backup, &info) == 0 && info.st_size > 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let audit = try daemon.ctl(["audit", "--json"])
        #expect(audit.standardOutput.contains("\"backup\""), "\(audit.standardOutput)")

        let next = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        #expect(try daemon.login("alice", password: "alice-pass-phrase", code: next).status == 0)
        #expect(daemon.stop() == 0)

        let restored = try DaemonProcess()
        let key = ["--secrets-key-file", daemon.stateDirectory + "/secrets.key"]
        let restore = try run(
            Binaries.url("twofactord"),
            ["--state-dir", restored.stateDirectory, "--restore-from", backup] + key
        )
        #expect(restore.status == 0, "\(restore.standardError)")
        try restored.start(extraArguments: key)
        #expect(try restored.ctl(["user", "show", "alice"]).status == 0)
        #expect(try restored.login("alice", password: "alice-pass-phrase", code: next).status == 1, "replayed")
    }

    @Test func ctlBackup_neverOverwritesOrFollowsALink() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let existing = daemon.directory.appendingPathComponent("existing").path
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: existing))
        let overwrite = try daemon.ctl(["backup", existing])
        #expect(overwrite.status == 1)
        #expect(overwrite.standardError.contains("cannot create"), "\(overwrite.standardError)")
        #expect(try String(contentsOfFile: existing, encoding: .utf8) == "keep me")

        let target = daemon.directory.appendingPathComponent("target").path
        let link = daemon.directory.appendingPathComponent("link").path
        #expect(symlink(target, link) == 0)
        #expect(try daemon.ctl(["backup", link]).status == 1)
        #expect(access(target, F_OK) != 0, "the link was followed")
    }

    /// A backup that does not fit leaves no partial file to be taken for a backup later.
    @Test(.enabled(if: runningAsRoot, "mounting a tmpfs needs root"))
    func ctlBackup_ontoAFullFileSystem_keepsNoPartialFile() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.enrolledAccount("alice", password: "alice-pass-phrase")
        let small = daemon.directory.appendingPathComponent("small").path
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: false)
        let mount = try TmpfsMount(at: small, size: "16k")
        let backup = mount.path + "/alice.backup"

        let taken = try daemon.ctl(["backup", backup])
        #expect(taken.status == 1)
        #expect(taken.standardError.contains("nothing was kept"), "\(taken.standardError)")
        #expect(access(backup, F_OK) != 0, "a partial backup was left behind")
    }

    @Test func ctlBackup_andKeyRotate_asAnAccount_evenAnAdmin_areRefused() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let added = try daemon.ctl(
            ["user", "add", "boss", "--role", "admin", "--password-stdin"],
            input: "boss-pass-phrase\n"
        )
        #expect(added.status == 0, "\(added.standardError)")
        let backup = daemon.directory.appendingPathComponent("boss.backup").path
        let refused = try daemon.ctl(
            ["--as", "boss", "--password-stdin", "backup", backup],
            input: "boss-pass-phrase\n"
        )
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("operator rights"), "\(refused.standardError)")
        #expect(access(backup, F_OK) != 0, "a refused backup leaves no file")
        let keyFile = daemon.stateDirectory + "/secrets.key"
        let before = try Data(contentsOf: URL(fileURLWithPath: keyFile))
        let rotate = try daemon.ctl(["--as", "boss", "--password-stdin", "key", "rotate"], input: "boss-pass-phrase\n")
        #expect(rotate.status == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: keyFile)) == before)
    }

    @Test func keyRotate_whileServing_loginsGoOn_andOnlyTheNewKeyOpensAfterARestart() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("alice", password: "alice-pass-phrase", period: 3600)
        let keyFile = daemon.stateDirectory + "/secrets.key"
        let oldKey = try Data(contentsOf: URL(fileURLWithPath: keyFile))
        let oldCopy = daemon.directory.appendingPathComponent("old.key").path
        try oldKey.write(to: URL(fileURLWithPath: oldCopy))
        chmod(oldCopy, 0o600)

        let rotated = try daemon.ctl(["key", "rotate"])
        #expect(rotated.status == 0, "\(rotated.standardError)")
        #expect(rotated.standardOutput.contains("Re-sealed the secrets of 1 accounts"), "\(rotated.standardOutput)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: keyFile)) != oldKey)
        #expect(access(keyFile + ".new", F_OK) != 0)

        // Without a restart: the re-sealed secret still checks codes, and a new enrollment is sealed anew.
        let next = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        #expect(try daemon.login("alice", password: "alice-pass-phrase", code: next).status == 0, "\(daemon.log())")
        let (carolSecret, carolStep) = try daemon.enrolledAccount("carol", password: "carol-pass-phrase", period: 3600)
        #expect(daemon.stop() == 0)

        let withOldKey = try run(
            Binaries.url("twofactord"),
            ["--state-dir", daemon.stateDirectory, "--check", "--secrets-key-file", oldCopy]
        )
        #expect(withOldKey.status == 1, "the old key must no longer open the store")
        let check = try run(Binaries.url("twofactord"), ["--state-dir", daemon.stateDirectory, "--check"])
        #expect(check.status == 0, "\(check.standardError)")

        try daemon.start()
        #expect(try daemon.ctl(["user", "show", "alice"]).status == 0, "\(daemon.log())")
        let carolNext = try OathTool.code(secret: carolSecret, at: (carolStep + 1) * 3600, period: 3600)
        #expect(try daemon.login("carol", password: "carol-pass-phrase", code: carolNext).status == 0)
    }
}
