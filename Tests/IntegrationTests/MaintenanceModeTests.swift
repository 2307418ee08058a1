import Foundation
import Glibc
import TestSupport
import Testing

/// twofactord's maintenance modes on the state directory they are given: `--backup` changes nothing there
/// (no schema upgrade, no lock file made, nothing written: it runs on a read-only file system), its file gets
/// its name only once whole, and the jobs on an existing store (`--backup`, `--rotate-key`, the source of
/// `--copy-store-to`) are refused where there is none, instead of making a new, empty store to work on.
@Suite struct MaintenanceModeTests {
    private func twofactord(_ arguments: [String], environment: [String: String?] = [:]) throws -> CommandResult {
        try run(Binaries.url("twofactord"), arguments, environment: environment)
    }

    /// What a state directory holds that a backup must not change: the names in it, and the bytes of every
    /// file but LMDB's lock file (whose reader table a reader uses while it reads, as every reader does).
    private func contents(_ directory: String) throws -> [String: Data] {
        var found: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            found[name] =
                name == "lock.mdb" ? Data() : try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))
        }
        return found
    }

    /// A stopped daemon whose store holds alice, enrolled.
    private func storeWithAlice() throws -> DaemonProcess {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.enrolledAccount("alice", password: "alice-pass-phrase")
        #expect(daemon.stop() == 0)
        return daemon
    }

    /// A backup of a store of schema 2 (which the daemon upgrades when it opens it) leaves data.mdb byte for
    /// byte as it was, and makes no lock.mdb where there is none; `--restore-from` then upgrades the copy it
    /// restores. Before, `--backup` opened the store for writing, and so upgraded the live store first.
    @Test func backup_ofAnOlderSchema_changesNothingInTheStateDirectory_andTheRestoreUpgradesIt() throws {
        let daemon = try storeWithAlice()
        let setVersion = try Self.buildSetSchemaVersion(in: daemon.directory)
        let set = try run(setVersion, [daemon.stateDirectory, "2"])
        try #require(set.status == 0, "\(set.standardError)")
        let key = ["--secrets-key-file", daemon.stateDirectory + "/secrets.key"]

        for withLockFile in [true, false] {
            if !withLockFile { #expect(unlink(daemon.stateDirectory + "/lock.mdb") == 0) }
            let before = try contents(daemon.stateDirectory)
            let backup = daemon.directory.appendingPathComponent("schema-2-\(withLockFile).backup").path
            let taken = try twofactord(["--state-dir", daemon.stateDirectory, "--backup", backup])
            #expect(taken.status == 0, "\(taken.standardError)")
            #expect(taken.standardOutput.contains("backup written to \(backup) (schema 2)"), "\(taken.standardOutput)")
            #expect(try contents(daemon.stateDirectory) == before, "the backup changed the state directory")
            var info = stat()
            #expect(lstat(backup, &info) == 0 && info.st_mode & 0o777 == 0o600)

            let restored = try DaemonProcess()
            let restore = try twofactord(["--state-dir", restored.stateDirectory, "--restore-from", backup] + key)
            #expect(restore.status == 0, "\(restore.standardError)")
            let check = try twofactord(["--state-dir", restored.stateDirectory, "--check"] + key)
            #expect(check.standardOutput.contains("ok: schema 4, 1 accounts"), "\(check.standardOutput) \(check)")
        }
    }

    /// A state directory on a file system mounted read-only: the backup reads it (before, it was refused,
    /// since it opened data.mdb and lock.mdb for writing).
    @Test func backup_ofAStateDirectoryOnAReadOnlyFileSystem_isTaken() throws {
        guard geteuid() == 0 else {
            print("skipped backup_ofAStateDirectoryOnAReadOnlyFileSystem_isTaken: mounting a tmpfs needs root")
            return
        }
        let daemon = try DaemonProcess()
        let mount = try TmpfsMount(at: daemon.stateDirectory, size: "4m")
        try daemon.start()
        _ = try daemon.enrolledAccount("alice", password: "alice-pass-phrase")
        #expect(daemon.stop() == 0)
        try mount.remount(readOnly: true)

        let backup = daemon.directory.appendingPathComponent("read-only.backup").path
        let taken = try twofactord(["--state-dir", daemon.stateDirectory, "--backup", backup])
        #expect(taken.status == 0, "\(taken.standardError)")
        let restored = try DaemonProcess()
        let key = ["--secrets-key-file", daemon.stateDirectory + "/secrets.key"]
        #expect(try twofactord(["--state-dir", restored.stateDirectory, "--restore-from", backup] + key).status == 0)
        let check = try twofactord(["--state-dir", restored.stateDirectory, "--check"] + key)
        #expect(check.standardOutput.contains("ok: schema 4, 1 accounts"), "\(check)")
    }

    /// Before, each of these made a new store (data.mdb, lock.mdb, secrets.key, and the directory itself when
    /// it was missing), then rotated its key ("re-sealed the secrets of 0 accounts"), backed it up or copied it.
    @Test func jobsOnAnExistingStore_inAMissingOrEmptyStateDirectory_areRefused_andCreateNothing() throws {
        let daemon = try DaemonProcess()
        let missing = daemon.directory.appendingPathComponent("missing").path
        let jobs: [(name: String, arguments: [String])] = [
            ("--rotate-key", ["--rotate-key"]),
            ("--backup", ["--backup", daemon.directory.appendingPathComponent("backup").path]),
            ("--copy-store-to", ["--copy-store-to", daemon.directory.appendingPathComponent("copy").path]),
        ]
        for job in jobs {
            let empty = try twofactord(["--state-dir", daemon.stateDirectory] + job.arguments)
            #expect(empty.status == 1, "\(job.name) on an empty directory: \(empty.standardOutput)")
            #expect(
                empty.standardError.contains("there is no store in \(daemon.stateDirectory) (no data.mdb)"),
                "\(job.name): \(empty.standardError)"
            )
            #expect(empty.standardError.contains("check --state-dir"), "\(job.name): \(empty.standardError)")
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: daemon.stateDirectory).isEmpty,
                "\(job.name) created files in an empty state directory"
            )

            let absent = try twofactord(["--state-dir", missing] + job.arguments)
            #expect(absent.status == 1, "\(job.name) on a missing directory: \(absent.standardOutput)")
            #expect(
                absent.standardError.contains("there is no store in \(missing): the directory does not exist"),
                "\(job.name): \(absent.standardError)"
            )
            #expect(access(missing, F_OK) != 0, "\(job.name) created the missing state directory")
        }
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: daemon.directory.path).sorted() == ["state"],
            "a job wrote its backup or copy, or made a key"
        )
    }

    /// A backup killed once its copy is written but before it is synced (by a preloaded `fsync`), or one
    /// that fails on a full file system, leaves no file: the copy gets its name only when whole. Before, a
    /// killed backup left its file, partial or unsynced, under the name asked for.
    @Test func backup_killedOrFailingBeforeItsFileIsWhole_leavesNoFile() throws {
        let daemon = try storeWithAlice()
        let killer = try Self.buildKillAtFsync(in: daemon.directory)
        let target = daemon.directory.appendingPathComponent("backups").path
        #expect(mkdir(target, 0o700) == 0)
        let killed = try twofactord(
            ["--state-dir", daemon.stateDirectory, "--backup", target + "/killed.backup"],
            environment: ["LD_PRELOAD": killer.path]
        )
        #expect(killed.status == SIGKILL, "the backup was not killed: \(killed.status) \(killed.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty, "the killed backup left a file")

        guard geteuid() == 0 else {
            print("skipped the full file system of backup_killedOrFailingBeforeItsFileIsWhole_leavesNoFile: needs root")
            return
        }
        let mount = try TmpfsMount(at: target, size: "8k")
        let full = try twofactord(["--state-dir", daemon.stateDirectory, "--backup", target + "/full.backup"])
        #expect(full.status == 1, "\(full.standardOutput)")
        #expect(full.standardError.contains("No space left on device"), "\(full.standardError)")
        #expect(full.standardError.contains("free space there or give a file elsewhere"), "\(full.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty, "the failed backup left a file")
        withExtendedLifetime(mount) {}
    }

    /// A program that sets `meta/schema-version` of the LMDB store in a state directory, as an older
    /// twofactord left it.
    static func buildSetSchemaVersion(in directory: URL) throws -> URL {
        let source = directory.appendingPathComponent("set-schema-version.c")
        let program = directory.appendingPathComponent("set-schema-version")
        try """
        #include <lmdb.h>
        #include <stdlib.h>
        int main(int argc, char **argv) {
            if (argc != 3) return 2;
            unsigned long version = strtoul(argv[2], NULL, 10);
            unsigned char bytes[4] = { version >> 24, version >> 16, version >> 8, version };
            MDB_val key = { 14, "schema-version" }, value = { 4, bytes };
            MDB_env *env; MDB_txn *txn; MDB_dbi meta;
            if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 8) || mdb_env_open(env, argv[1], 0, 0600)) return 1;
            if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, "meta", 0, &meta)) return 1;
            if (mdb_put(txn, meta, &key, &value, 0) || mdb_txn_commit(txn)) return 1;
            mdb_env_close(env);
            return 0;
        }
        """.write(to: source, atomically: true, encoding: .utf8)
        let compiled = try run(URL(fileURLWithPath: "/usr/bin/cc"), ["-o", program.path, source.path, "-llmdb"])
        guard compiled.status == 0 else { throw Failure("cc: \(compiled.standardError)") }
        return program
    }

    /// A shared object whose `fsync` SIGKILLs the process.
    static func buildKillAtFsync(in directory: URL) throws -> URL {
        let source = directory.appendingPathComponent("kill-at-fsync.c")
        let library = directory.appendingPathComponent("kill-at-fsync.so")
        try """
        #include <signal.h>
        #include <unistd.h>
        int fsync(int descriptor) {
            (void)descriptor;
            kill(getpid(), SIGKILL);
            return -1;
        }
        """.write(to: source, atomically: true, encoding: .utf8)
        let compiled = try run(
            URL(fileURLWithPath: "/usr/bin/cc"),
            ["-shared", "-fPIC", "-o", library.path, source.path]
        )
        guard compiled.status == 0 else { throw Failure("cc: \(compiled.standardError)") }
        return library
    }

    /// The jobs that work only on an LMDB state directory are refused with a PostgreSQL store before anything is
    /// opened: before, the store was connected to (and its migrations applied) first, and `--restore-from` also
    /// made the state directory and a key. The URL names a server that does not exist, so a job that still
    /// connected would fail with a connection error instead of the usage error.
    @Test func lmdbOnlyJobs_withAPostgresqlStore_areRefusedBeforeAnythingIsOpened() throws {
        let directory = TemporaryDirectory(prefix: "lmdb-only-jobs")
        let state = directory.path + "/state"
        let store = "postgresql://twofactord@localhost/twofactord?host=\(directory.path)/no-server"
        for job in [["--rotate-key"], ["--backup", directory.path + "/backup"], ["--restore-from", "/nonexistent"]] {
            let result = try twofactord(["--store", store, "--state-dir", state] + job)
            #expect(result.status == 64, "\(job): \(result.standardError)")
            #expect(result.standardError.contains("work on the LMDB store"), "\(job): \(result.standardError)")
            #expect(!FileManager.default.fileExists(atPath: state), "\(job) made the state directory")
        }
    }

    /// docs/security.md's restore and key rotation on an installed system: the state directory is the daemon's
    /// user's (nobody here), the key and the backup root's, mode 0600. Run as root, the restore refuses without
    /// advising a chown that would lock the daemon out; run as the owner with copies it can read, both work.
    @Test(.enabled(if: runningAsRoot, notRootMessage))
    func restoreAndRotation_asTheStateDirectorysOwner_withCopiesOfRootsFiles() throws {
        let source = try storeWithAlice()
        let rootsFiles = TemporaryDirectory()
        let backup = rootsFiles.path + "/store.backup"
        let key = rootsFiles.path + "/secrets.key"
        let sourceKey = ["--secrets-key-file", source.stateDirectory + "/secrets.key"]
        #expect(try twofactord(["--state-dir", source.stateDirectory, "--backup", backup] + sourceKey).status == 0)
        try FileManager.default.copyItem(atPath: source.stateDirectory + "/secrets.key", toPath: key)

        let target = try DaemonProcess()
        #expect(chown(target.stateDirectory, nobodyUID, nobodyUID) == 0)
        let asRoot = try twofactord(
            ["--state-dir", target.stateDirectory, "--secrets-key-file", key, "--restore-from", backup]
        )
        #expect(asRoot.status == 1)
        #expect(
            asRoot.standardError.contains("(nobody), not by root: run this as its owner"),
            "\(asRoot.standardError)"
        )
        #expect(!asRoot.standardError.contains("run chown"), "\(asRoot.standardError)")

        let copies = target.directory.appendingPathComponent("copies").path
        #expect(mkdir(copies, 0o700) == 0 && chown(copies, nobodyUID, nobodyUID) == 0)
        for file in [key, backup] {
            let copy = copies + "/" + URL(fileURLWithPath: file).lastPathComponent
            try FileManager.default.copyItem(atPath: file, toPath: copy)
            #expect(chown(copy, nobodyUID, nobodyUID) == 0 && chmod(copy, 0o600) == 0)
        }
        let asOwner = { (arguments: [String]) throws -> CommandResult in
            try run(
                Binaries.url("twofactord"),
                ["--state-dir", target.stateDirectory, "--secrets-key-file", copies + "/secrets.key"] + arguments,
                uid: nobodyUID
            )
        }
        let restored = try asOwner(["--restore-from", copies + "/store.backup"])
        #expect(restored.status == 0, "\(restored.standardError)")
        let rotated = try asOwner(["--rotate-key"])
        #expect(rotated.status == 0, "\(rotated.standardError)")
        let check = try asOwner(["--check"])
        #expect(check.status == 0 && check.standardOutput.contains("1 accounts"), "\(check.standardOutput)")
        // The copy now holds the new key, and only it opens the store.
        let withTheOldKey = try twofactord(["--state-dir", target.stateDirectory, "--secrets-key-file", key, "--check"])
        #expect(withTheOldKey.status == 1)
    }
}
