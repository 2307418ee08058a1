import ArgumentParser
import Glibc
import LMDBAccountStore

/// The one-shot maintenance modes of twofactord: each opens the store (with its checks and key), does one
/// job, prints what it did and exits, instead of serving. They run as root or the daemon's user, who alone
/// can read the state directory, so no path crosses the socket's privilege boundary; LMDB lets them run
/// while the daemon serves (`--backup` and `--check` read one consistent snapshot).
struct MaintenanceOptions: ParsableArguments {
    @Flag(name: .customLong("check"), help: "Check the schema, every record and the secrets key, then exit.")
    var check = false

    @Option(
        name: .customLong("backup"),
        help: ArgumentHelp(
            "Write a consistent, compacted copy of the database to a new file (mode 0600), then exit.",
            valueName: "file"
        )
    )
    var backup: String?

    @Option(
        name: .customLong("restore-from"),
        help: ArgumentHelp(
            "Restore a backup into an empty --state-dir, raise every replay step to now, then exit.",
            valueName: "file"
        )
    )
    var restoreFrom: String?

    @Flag(
        name: .customLong("rotate-key"),
        help: "Re-seal every secret under a new random key, replace the key file, then exit (twofactorctl key rotate does it while serving)."
    )
    var rotateKey = false

    var isRequested: Bool { check || backup != nil || restoreFrom != nil || rotateKey }

    func validate() throws {
        guard [check, backup != nil, restoreFrom != nil, rotateKey].filter({ $0 }).count <= 1 else {
            throw ValidationError("--check, --backup, --restore-from and --rotate-key cannot be combined")
        }
    }

    /// Runs before the store opens: a restore fills the empty state directory.
    func prepare(stateDirectory: String) throws {
        if let restoreFrom { try LMDBAccountStore.restore(from: restoreFrom, into: stateDirectory) }
    }

    /// Runs on the open store and returns what to print.
    func run(_ store: LMDBAccountStore) throws -> String {
        if check {
            let counts = try store.check()
            return "ok: schema \(LMDBAccountStore.schemaVersion), \(counts.accounts) accounts and "
                + "\(counts.organizations) organizations read, every secret opened with the key"
        }
        if let backup {
            try store.backup(to: backup)
            return "backup written to \(backup); keep the secrets key separately, the backup cannot be read without it"
        }
        if rotateKey { return try rotate(store) }
        let raised = try store.raiseReplaySteps(now: Int64(time(nil)))
        return "restored; the replay step of \(raised) enrolled accounts was raised to the current time step"
    }

    /// See `LMDBAccountStore.rotateSecretsKey()`: the new key is staged beside the old one, the store
    /// re-sealed in one transaction, then the new key renamed over the old.
    private func rotate(_ store: LMDBAccountStore) throws -> String {
        let rotation = try store.rotateSecretsKey()
        return "re-sealed the secrets of \(rotation.accounts) accounts under a new key, now in \(rotation.keyFile)"
    }
}
