import Foundation
import Glibc
import Testing
import Wire
import TestSupport

/// Issue 7, points 6, 7 and 11, through the real daemon: secrets sealed at rest, a wrong key or a bad state
/// directory refused at start with a clear message, a full disk survived.
@Suite struct StorageSecurityTests {
    /// The socket gets `--socket-mode` (set without following a link: DaemonServer.bind).
    @Test func socket_getsTheModeAsked() throws {
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: ["--socket-mode", "0640"])
        var info = stat()
        #expect(lstat(daemon.socketPath, &info) == 0)
        #expect(info.st_mode & S_IFMT == S_IFSOCK)
        #expect(info.st_mode & 0o7777 == 0o640, "\(String(info.st_mode & 0o7777, radix: 8))")
    }

    @Test func dataFile_holdsNoEnrolledOrPendingSecret() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (enrolled, _) = try daemon.enrolledAccount("alice", password: "alice-pass-phrase", period: 30)
        #expect(try daemon.ctl(["user", "add", "bob", "--password-stdin"], input: "bob-pass-phrase\n").status == 0)
        let begun = try daemon.ctl(["2fa", "enroll", "bob", "--begin"])
        let pending = try #require(
            secretParameter(ofURI: begun.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))
        )
        #expect(daemon.stop() == 0)

        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: daemon.stateDirectory + "/data.mdb")))
        #expect(contains(data, Array("alice".utf8)), "the scan sees the records")
        for secret in [enrolled, pending] {
            let bytes = try OathTool.secretBytes(base32: secret)
            #expect(bytes.count == 20)
            #expect(!contains(data, bytes), "a TOTP secret is readable in data.mdb")
            #expect(!contains(data, Array(secret.utf8)))
        }
        // And the daemon still logs in with the sealed secret.
        try daemon.start()
        let code = try OathTool.code(secret: enrolled, at: unixNow() + 30, period: 30)
        #expect(try daemon.login("alice", password: "alice-pass-phrase", code: code).status == 0, "\(daemon.log())")
    }

    /// A stopped daemon with alice enrolled, a `twofactord --backup` taken while it served, and the code
    /// alice used after the backup was taken.
    private func backupThenACodeUsed() throws -> (daemon: DaemonProcess, backup: String, code: String) {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("alice", password: "alice-pass-phrase", period: 3600)
        let backup = daemon.directory.appendingPathComponent("twofactord.backup").path
        let taken = try run(
            Binaries.url("twofactord"),
            ["--state-dir", daemon.stateDirectory, "--socket", daemon.socketPath, "--backup", backup]
        )
        #expect(taken.status == 0, "\(taken.standardError)")
        #expect(taken.standardOutput.contains("backup written to \(backup)"))
        let next = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        #expect(try daemon.login("alice", password: "alice-pass-phrase", code: next).status == 0)
        #expect(daemon.stop() == 0)
        return (daemon, backup, next)
    }

    /// `twofactord --backup` while the daemon serves, `--restore-from` into a new state directory, `--check`;
    /// a code used after the backup was taken is refused by the restored store.
    @Test func backupWhileServing_restore_check_refuseCodesUsedAfterTheBackup() throws {
        let (daemon, backup, next) = try backupThenACodeUsed()
        let restored = try DaemonProcess()
        let key = ["--secrets-key-file", daemon.stateDirectory + "/secrets.key"]
        let restore = try run(
            Binaries.url("twofactord"),
            ["--state-dir", restored.stateDirectory, "--restore-from", backup] + key
        )
        #expect(restore.status == 0, "\(restore.standardError)")
        #expect(restore.standardOutput.contains("raised"), "\(restore.standardOutput)")
        let check = try run(Binaries.url("twofactord"), ["--state-dir", restored.stateDirectory, "--check"] + key)
        #expect(check.status == 0, "\(check.standardError)")
        #expect(check.standardOutput.contains("ok: schema"), "\(check.standardOutput)")
        let withoutKey = try run(Binaries.url("twofactord"), ["--state-dir", restored.stateDirectory, "--check"])
        #expect(withoutKey.status == 1, "the restored store must not open with a new key")

        try restored.start(extraArguments: key)
        #expect(try restored.login("alice", password: "alice-pass-phrase", code: next).status == 1, "replayed")
    }

    /// `--restore-from` SIGKILLed the moment its copy is renamed to data.mdb (by a preloaded `rename` that
    /// kills the process once it returns): the next start must still refuse the code used after the backup.
    @Test func restoreKilledRightAfterItsRename_theNextStartStillRefusesCodesUsedAfterTheBackup() throws {
        let (daemon, backup, next) = try backupThenACodeUsed()
        let killer = try Self.buildKillAfterRename(in: daemon.directory)
        let restored = try DaemonProcess()
        let key = ["--secrets-key-file", daemon.stateDirectory + "/secrets.key"]
        let restore = try run(
            Binaries.url("twofactord"),
            ["--state-dir", restored.stateDirectory, "--restore-from", backup] + key,
            environment: ["LD_PRELOAD": killer.path]
        )
        #expect(restore.status == SIGKILL, "the restore was not killed: \(restore.status) \(restore.standardError)")
        #expect(access(restored.stateDirectory + "/data.mdb", F_OK) == 0, "killed before its rename")

        try restored.start(extraArguments: key)
        #expect(try restored.login("alice", password: "alice-pass-phrase", code: next).status == 1, "replayed")
    }

    /// A shared object whose `rename` SIGKILLs the process right after a rename to a `data.mdb` succeeded.
    static func buildKillAfterRename(in directory: URL) throws -> URL {
        let source = directory.appendingPathComponent("kill-after-rename.c")
        let library = directory.appendingPathComponent("kill-after-rename.so")
        try """
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <signal.h>
        #include <string.h>
        #include <unistd.h>
        int rename(const char *from, const char *to) {
            int (*real)(const char *, const char *) = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
            int result = real(from, to);
            size_t length = strlen(to);
            if (result == 0 && length >= 9 && strcmp(to + length - 9, "/data.mdb") == 0) kill(getpid(), SIGKILL);
            return result;
        }
        """.write(to: source, atomically: true, encoding: .utf8)
        let compiled = try run(
            URL(fileURLWithPath: "/usr/bin/cc"),
            ["-shared", "-fPIC", "-o", library.path, source.path, "-ldl"]
        )
        guard compiled.status == 0 else { throw Failure("cc: \(compiled.standardError)") }
        return library
    }

    @Test func rotateKey_resealsUnderANewKeyFile_andLoginsGoOn() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("alice", password: "alice-pass-phrase", period: 3600)
        #expect(daemon.stop() == 0)
        let keyFile = daemon.stateDirectory + "/secrets.key"
        let oldKey = try Data(contentsOf: URL(fileURLWithPath: keyFile))
        let oldCopy = daemon.directory.appendingPathComponent("old.key").path
        try oldKey.write(to: URL(fileURLWithPath: oldCopy))
        chmod(oldCopy, 0o600)

        let rotated = try run(Binaries.url("twofactord"), ["--state-dir", daemon.stateDirectory, "--rotate-key"])
        #expect(rotated.status == 0, "\(rotated.standardError)")
        #expect(rotated.standardOutput.contains("re-sealed the secrets of 1 accounts"), "\(rotated.standardOutput)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: keyFile)) != oldKey)
        #expect(access(keyFile + ".new", F_OK) != 0)
        let withOldKey = try run(
            Binaries.url("twofactord"),
            ["--state-dir", daemon.stateDirectory, "--check", "--secrets-key-file", oldCopy]
        )
        #expect(withOldKey.status == 1, "the old key must no longer open the store")

        try daemon.start()
        let next = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        #expect(try daemon.login("alice", password: "alice-pass-phrase", code: next).status == 0, "\(daemon.log())")
    }

    @Test func aStateDirectoryInUse_isRefusedToAKeyRotationAndASecondDaemon_untilTheDaemonEnds() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("alice", password: "alice-pass-phrase", period: 3600)
        let keyFile = URL(fileURLWithPath: daemon.stateDirectory + "/secrets.key")
        let key = try Data(contentsOf: keyFile)

        let rotation = try run(Binaries.url("twofactord"), ["--state-dir", daemon.stateDirectory, "--rotate-key"])
        #expect(rotation.status == 1)
        #expect(rotation.standardError.contains("another twofactord is using \(daemon.stateDirectory)"), "\(rotation)")
        #expect(rotation.standardError.contains("stop it first"), "\(rotation)")
        #expect(try Data(contentsOf: keyFile) == key)
        #expect(access(keyFile.path + ".new", F_OK) != 0)

        // Bounded, so that a second daemon that does start fails the test instead of hanging it.
        let second = try run(
            URL(fileURLWithPath: "/usr/bin/timeout"),
            [
                "10", Binaries.url("twofactord").path, "--state-dir", daemon.stateDirectory, "--socket",
                daemon.directory.appendingPathComponent("s2").path,
            ]
        )
        #expect(second.status == 1)
        #expect(second.standardError.contains("another twofactord is using"), "\(second)")
        // Reading jobs run beside the daemon.
        let check = try run(Binaries.url("twofactord"), ["--state-dir", daemon.stateDirectory, "--check"])
        #expect(check.status == 0, "\(check)")

        // The first daemon still serves, with the key it had.
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        #expect(try daemon.login("alice", password: "alice-pass-phrase", code: code).status == 0, "\(daemon.log())")

        // A killed daemon leaves no lock behind.
        #expect(daemon.stop(signal: SIGKILL) != 0)
        let after = try run(Binaries.url("twofactord"), ["--state-dir", daemon.stateDirectory, "--rotate-key"])
        #expect(after.status == 0, "\(after)")
    }

    @Test func copyStoreTo_aStateDirectoryADaemonServes_isRefused_andCopiesNothing() throws {
        let source = try DaemonProcess()
        try source.start()
        _ = try source.enrolledAccount("alice", password: "alice-pass-phrase", period: 3600)
        #expect(source.stop() == 0)
        let served = try DaemonProcess()
        try served.start()

        let copy = try run(
            Binaries.url("twofactord"),
            ["--state-dir", source.stateDirectory, "--copy-store-to", served.stateDirectory]
        )
        #expect(copy.status == 1)
        #expect(copy.standardError.contains("another twofactord is using \(served.stateDirectory)"), "\(copy)")
        #expect(try served.ctl(["user", "show", "alice"]).status != 0, "the copy went into a store being served")
    }

    @Test func wrongSecretsKeyFile_isAClearStartupError() throws {
        let daemon = try DaemonProcess()
        let keyFile = daemon.directory.appendingPathComponent("first.key").path
        try daemon.start(extraArguments: ["--secrets-key-file", keyFile])
        _ = try daemon.enrolledAccount("alice", password: "alice-pass-phrase", period: 30)
        #expect(daemon.stop() == 0)
        var info = stat()
        #expect(stat(keyFile, &info) == 0 && info.st_mode & 0o777 == 0o600 && info.st_size == 32)

        let otherKey = daemon.directory.appendingPathComponent("other.key").path
        try Data((0..<32).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: otherKey))
        chmod(otherKey, 0o600)
        let wrong = try startupFailure(daemon, ["--secrets-key-file", otherKey])
        #expect(wrong.status == 1)
        #expect(wrong.log.contains("\(otherKey) is not the key"), "\(wrong.log)")

        chmod(keyFile, 0o644)
        let loose = try startupFailure(daemon, ["--secrets-key-file", keyFile])
        #expect(loose.log.contains("chmod 600 \(keyFile)"), "\(loose.log)")
    }

    @Test func missingParentOrSymlinkedStateDirectory_isAClearStartupError() throws {
        let daemon = try DaemonProcess()
        let missing = daemon.directory.appendingPathComponent("no/such/state").path
        let failure = try startupFailure(daemon, ["--state-dir", missing])
        #expect(failure.status == 1)
        #expect(failure.log.contains("create its parent directory or choose another --state-dir"), "\(failure.log)")

        let link = daemon.directory.appendingPathComponent("linked-state").path
        #expect(symlink(daemon.stateDirectory, link) == 0)
        let linked = try startupFailure(daemon, ["--state-dir", link])
        #expect(linked.log.contains("is a symbolic link"), "\(linked.log)")
    }

    @Test func readOnlyStateDirectory_isAClearStartupError() throws {
        guard geteuid() == 0 else {
            print("skipped readOnlyStateDirectory_isAClearStartupError: mounting a tmpfs needs root")
            return
        }
        let daemon = try DaemonProcess()
        let mount = try TmpfsMount(at: daemon.stateDirectory, size: "4m")
        try daemon.start()
        #expect(daemon.stop() == 0)
        try mount.remount(readOnly: true)
        let failure = try startupFailure(daemon, [])
        #expect(failure.status == 1)
        #expect(failure.log.contains("read-only"), "\(failure.log)")
    }

    @Test func fullDisk_answersStorageFailure_neverUnrecordedOk_andRecoversByItself() throws {
        guard geteuid() == 0 else {
            print(
                "skipped fullDisk_answersStorageFailure_neverUnrecordedOk_andRecoversByItself: mounting a tmpfs needs root"
            )
            return
        }
        let daemon = try DaemonProcess()
        let mount = try TmpfsMount(at: daemon.stateDirectory, size: "1m")
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("alice", password: "alice-pass-phrase", period: 3600)
        let next = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        let client = try #require(WireClient(path: daemon.socketPath))

        // Fill the file system, then add accounts until the database itself needs space it cannot get.
        let filler = try mount.fill()
        var storageFailures = 0
        for index in 0..<2_000 {
            let answer = client.call(
                .userAdd(
                    user: "filler\(index)",
                    organization: "",
                    role: .agent,
                    requireTwoFactor: false,
                    password: Array("filler-pass-phrase".utf8)
                )
            )
            if case .error(let code, let message)? = answer {
                #expect(code == .storageFailure, "\(message)")
                storageFailures += 1
                if storageFailures >= 3 { break }
            }
        }
        #expect(storageFailures >= 3, "the full disk never made a write fail")

        // A login on the full disk: either a clear storage error (and the step is not used up), or ok and
        // the step was recorded, so the same code is refused from now on, also after a kill.
        let login = Request.login(user: "alice", password: Array("alice-pass-phrase".utf8), codeKind: .totp, code: next)
        // A connection whose login succeeded acts for that account from then on: log in on its own connection.
        let answer = try #require(WireClient(path: daemon.socketPath)).call(login)
        var acceptedWhileFull = false
        switch answer {
        case .error(.storageFailure, _)?: break
        case .loginResult(.ok, _, _)?: acceptedWhileFull = true
        default: Issue.record("unexpected answer on a full disk: \(String(describing: answer))")
        }
        print("full disk: \(storageFailures) writes refused; the login answered \(String(describing: answer))")

        // Space returns: the running daemon serves writes again, without a restart. A Login answered ok
        // makes `client` act for alice, so administration goes through a connection of its own.
        try FileManager.default.removeItem(atPath: filler)
        let operatorClient = try #require(WireClient(path: daemon.socketPath))
        #expect(operatorClient.call(.userShow(user: "alice")) != nil)
        let added = operatorClient.call(
            .userAdd(
                user: "after-space",
                organization: "",
                role: .agent,
                requireTwoFactor: false,
                password: Array("after-pass-phrase".utf8)
            )
        )
        #expect(added == .done, "\(String(describing: added))\n\(daemon.log().suffix(1500))")
        let retried = try #require(WireClient(path: daemon.socketPath)).call(login)
        if acceptedWhileFull {
            #expect(
                retried == .loginResult(outcome: .denied, retryAfter: 0, otpauthURI: []),
                "replayed after a full disk"
            )
        } else {
            #expect(
                retried == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []),
                "the step was used up by a failed write"
            )
        }
        // Whatever was answered ok is durable: after SIGKILL the code stays used.
        daemon.stop(signal: SIGKILL)
        try daemon.start()
        #expect(try daemon.login("alice", password: "alice-pass-phrase", code: next).status == 1)
    }
}

/// A tmpfs mounted by the test (root only), unmounted when the value goes away.
final class TmpfsMount {
    let path: String

    init(at path: String, size: String) throws {
        self.path = path
        let mounted = try run(
            URL(fileURLWithPath: "/usr/bin/mount"),
            ["-t", "tmpfs", "-o", "size=\(size),mode=0700", "tmpfs", path]
        )
        guard mounted.status == 0 else { throw Failure("mount: \(mounted.standardError)") }
    }

    func remount(readOnly: Bool) throws {
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/mount"),
            ["-o", readOnly ? "remount,ro" : "remount,rw", path]
        )
        guard result.status == 0 else { throw Failure("remount: \(result.standardError)") }
    }

    /// Writes a file until the file system is full; returns its path.
    func fill() throws -> String {
        let filler = path + "/filler"
        let descriptor = open(filler, O_CREAT | O_WRONLY | O_EXCL | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw Failure("cannot create \(filler)") }
        defer { close(descriptor) }
        let block = [UInt8](repeating: 0xA5, count: 4096)
        while block.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) > 0 {}
        return filler
    }

    deinit {
        _ = try? run(URL(fileURLWithPath: "/usr/bin/umount"), ["-l", path])
    }
}

/// Starts twofactord expecting it to refuse to start: its status and what it logged. A daemon that starts
/// anyway is stopped after 10 s, so the test fails instead of hanging.
func startupFailure(_ daemon: DaemonProcess, _ arguments: [String]) throws -> (status: Int32, log: String) {
    let child = try PipedProcess(
        Binaries.url("twofactord"),
        ["--socket", daemon.socketPath, "--state-dir", daemon.stateDirectory, "--scrypt-log-n", "10"] + arguments
    )
    try child.closeInput()
    let errors = BackgroundReader(child.error)
    let output = BackgroundReader(child.output)
    let deadline = Date().addingTimeInterval(10)
    while child.process.isRunning && Date() < deadline { usleep(10_000) }
    if child.process.isRunning { child.process.terminate() }
    child.process.waitUntilExit()
    return (child.process.terminationStatus, errors.text() + output.text())
}

func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard !needle.isEmpty, haystack.count >= needle.count else { return false }
    return (0...(haystack.count - needle.count)).contains {
        haystack[$0] == needle[0] && haystack[$0..<$0 + needle.count].elementsEqual(needle)
    }
}
