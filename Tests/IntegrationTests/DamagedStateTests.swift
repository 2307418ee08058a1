import Foundation
import Glibc
import Testing

/// A damaged, lost or absent store, through the real twofactord (audit round b, findings 1 to 3): a truncated
/// data.mdb or backup, an empty or missing data.mdb beside its key, a database without its key, `--check`
/// on an empty directory. Each is refused with a message saying what to do (never SIGBUS), and nothing in
/// the state directory is created or changed.
@Suite struct DamagedStateTests {
    /// A stopped daemon whose store holds alice (enrolled) and 30 more accounts, over many pages.
    private func populatedStore() throws -> DaemonProcess {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.enrolledAccount("alice", password: "alice-pass-phrase")
        for index in 0..<30 {
            let added = try daemon.ctl(
                ["user", "add", "user\(index)", "--password-stdin"],
                input: "pass-phrase-\(index)\n"
            )
            guard added.status == 0 else { throw Failure("user add: \(added.standardError)") }
        }
        #expect(daemon.stop() == 0)
        return daemon
    }

    private func twofactord(_ arguments: [String]) throws -> CommandResult {
        try run(Binaries.url("twofactord"), arguments)
    }

    @Test func truncatedDataFile_isRefusedByCheckAndAtStart_withoutACrash() throws {
        let daemon = try populatedStore()
        let data = daemon.stateDirectory + "/data.mdb"
        let size = fileSize(data)
        try #require(size >= 8 * 4096, "the store spans too few pages to truncate: \(size) bytes")
        // Half: the daemon used to start, then die of SIGBUS at the first read; 3 pages: --check died at once.
        for length in [size / 2, 3 * 4096] {
            #expect(truncate(data, off_t(length)) == 0)
            let check = try twofactord(["--state-dir", daemon.stateDirectory, "--check"])
            #expect(check.status == 1, "--check at \(length) bytes: \(check.status) \(check.standardError)")
            #expect(check.standardError.contains("\(data) is truncated"), "\(check.standardError)")
            #expect(check.standardError.contains("restore it from a backup"))
            let start = try startupFailure(daemon, [])
            #expect(start.status == 1, "a start at \(length) bytes: \(start.status) \(start.log)")
            #expect(start.log.contains("\(data) is truncated"), "\(start.log)")
            #expect(fileSize(data) == length, "the truncated file was changed")
        }
    }

    @Test func truncatedBackup_isRefusedLeavingTheDirectoryEmpty_thenTheGoodBackupRestores() throws {
        let daemon = try populatedStore()
        let backup = daemon.directory.appendingPathComponent("good.backup").path
        let taken = try twofactord(["--state-dir", daemon.stateDirectory, "--backup", backup])
        #expect(taken.status == 0, "\(taken.standardError)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: backup))
        try #require(bytes.count >= 6 * 4096, "the backup is too small to truncate: \(bytes.count) bytes")
        let truncated = daemon.directory.appendingPathComponent("truncated.backup").path
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))

        let target = daemon.directory.appendingPathComponent("restored").path
        #expect(mkdir(target, 0o700) == 0)
        let key = ["--secrets-key-file", daemon.stateDirectory + "/secrets.key"]
        let refused = try twofactord(["--state-dir", target, "--restore-from", truncated] + key)
        #expect(refused.status == 1, "\(refused.status) \(refused.standardError)")
        #expect(refused.standardError.contains("cannot restore the backup \(truncated): it is truncated"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty, "the failed restore left files")

        let restored = try twofactord(["--state-dir", target, "--restore-from", backup] + key)
        #expect(restored.status == 0, "\(restored.standardError)")
        let check = try twofactord(["--state-dir", target, "--check"] + key)
        #expect(
            check.standardOutput.contains("ok: schema 4, 31 accounts"),
            "\(check.standardOutput) \(check.standardError)"
        )
    }

    @Test func emptyOrMissingDataFileBesideItsKey_isRefused_andTheBackupBringsItBack() throws {
        let daemon = try populatedStore()
        let backup = daemon.directory.appendingPathComponent("good.backup").path
        #expect(try twofactord(["--state-dir", daemon.stateDirectory, "--backup", backup]).status == 0)
        let data = daemon.stateDirectory + "/data.mdb"

        #expect(truncate(data, 0) == 0)
        let emptyCheck = try twofactord(["--state-dir", daemon.stateDirectory, "--check"])
        #expect(emptyCheck.status == 1, "--check called an empty data.mdb \(emptyCheck.standardOutput)")
        #expect(emptyCheck.standardError.contains("\(data) is empty"), "\(emptyCheck.standardError)")
        let emptyStart = try startupFailure(daemon, [])
        #expect(emptyStart.status == 1 && emptyStart.log.contains("--restore-from"), "\(emptyStart.log)")
        #expect(fileSize(data) == 0, "an empty data.mdb became a new store")

        #expect(unlink(data) == 0)
        let missingCheck = try twofactord(["--state-dir", daemon.stateDirectory, "--check"])
        #expect(missingCheck.status == 1, "--check called a missing data.mdb \(missingCheck.standardOutput)")
        #expect(missingCheck.standardError.contains("\(data) is missing but"), "\(missingCheck.standardError)")
        let missingStart = try startupFailure(daemon, [])
        #expect(
            missingStart.status == 1 && missingStart.log.contains("move secrets.key and lock.mdb out of"),
            "\(missingStart.log)"
        )
        #expect(access(data, F_OK) != 0, "a missing data.mdb became a new store")

        let empty = daemon.directory.appendingPathComponent("empty.backup").path
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        let emptyRestore = try twofactord(["--state-dir", daemon.stateDirectory, "--restore-from", empty])
        #expect(emptyRestore.status == 1, "an empty backup was restored: \(emptyRestore.standardOutput)")
        #expect(emptyRestore.standardError.contains("the backup \(empty) is empty"), "\(emptyRestore.standardError)")
        #expect(access(data, F_OK) != 0)

        // What the messages advise: restore, with the key still in the state directory.
        let restored = try twofactord(["--state-dir", daemon.stateDirectory, "--restore-from", backup])
        #expect(restored.status == 0, "\(restored.standardError)")
        try daemon.start()
        #expect(try daemon.ctl(["user", "show", "alice"]).status == 0)
    }

    @Test func check_createsNothing_andNoKeyIsWrittenBesideADatabase() throws {
        let daemon = try DaemonProcess()
        let empty = try twofactord(["--state-dir", daemon.stateDirectory, "--check"])
        #expect(empty.status == 1, "--check on an empty directory: \(empty.standardOutput)")
        #expect(empty.standardError.contains("there is no store in \(daemon.stateDirectory)"), "\(empty.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: daemon.stateDirectory).isEmpty)

        try daemon.start()
        #expect(daemon.stop() == 0)
        let key = daemon.stateDirectory + "/secrets.key"
        let kept = daemon.directory.appendingPathComponent("kept.key").path
        #expect(rename(key, kept) == 0)
        let check = try twofactord(["--state-dir", daemon.stateDirectory, "--check"])
        #expect(check.status == 1)
        #expect(check.standardError.contains("\(key) is missing"), "\(check.standardError)")
        let start = try startupFailure(daemon, [])
        #expect(start.status == 1 && start.log.contains("\(key) is missing"), "\(start.log)")
        #expect(access(key, F_OK) != 0, "a new key was written beside the database")
        let named = daemon.directory.appendingPathComponent("named.key").path
        #expect(
            try twofactord(["--state-dir", daemon.stateDirectory, "--check", "--secrets-key-file", named]).status == 1
        )
        #expect(try startupFailure(daemon, ["--secrets-key-file", named]).status == 1)
        #expect(access(named, F_OK) != 0, "a new --secrets-key-file was written for an existing database")

        // A good store: --check changes nothing, and without lock.mdb makes none.
        #expect(rename(kept, key) == 0)
        #expect(unlink(daemon.stateDirectory + "/lock.mdb") == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: daemon.stateDirectory + "/data.mdb"))
        let good = try twofactord(["--state-dir", daemon.stateDirectory, "--check"])
        #expect(good.status == 0, "\(good.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: daemon.stateDirectory + "/data.mdb")) == before)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: daemon.stateDirectory).sorted() == [
                "data.mdb", "secrets.key",
            ]
        )
    }
}

private func fileSize(_ path: String) -> Int {
    var info = stat()
    return lstat(path, &info) == 0 ? Int(info.st_size) : -1
}
