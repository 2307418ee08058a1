import AccountStore
import ArgumentParser
import Daemon
import Glibc
import LMDBAccountStore
import Logging

/// The one-shot maintenance modes of twofactord: each opens the store (with its checks and key), does one
/// job, prints what it did and exits, instead of serving. They run as root or the daemon's user, who alone
/// can read the state directory, so no path crosses the socket's privilege boundary. `--backup` and `--check`
/// read one consistent LMDB snapshot, so they run while the daemon serves; the others refuse to run beside it
/// (`needsTheStateDirectoryAlone`). `--backup` of LMDB opens no store at all, only the LMDB environment,
/// read-only, so that it changes nothing in the state directory. Only serving and `--restore-from` make
/// anything where there is no store (`mayCreateAStore`); every other job is refused there.
struct MaintenanceOptions: ParsableArguments {
    @Flag(name: .customLong("check"), help: "Check the schema, every record and the secrets key, then exit.")
    var check = false

    @Option(
        name: .customLong("backup"),
        help: ArgumentHelp(
            "Write a consistent, compacted copy of the database to a new file (mode 0600), changing nothing in "
                + "the state directory, then exit.",
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
        help:
            "Re-seal every secret under a new random key, replace the key file, then exit (twofactorctl key rotate does it while serving)."
    )
    var rotateKey = false

    @Option(
        name: .customLong("copy-store-to"),
        help: ArgumentHelp(
            "With the daemons stopped: copy every organization, account (replay steps included) and audit record "
                + "into a new, empty store (a postgresql:// URL or an LMDB state directory), then exit.",
            valueName: "store"
        )
    )
    var copyStoreTo: String?

    /// The flags of the jobs given (at most one passes `validate`).
    private var requested: [String] {
        [
            ("--check", check), ("--backup", backup != nil), ("--restore-from", restoreFrom != nil),
            ("--rotate-key", rotateKey), ("--copy-store-to", copyStoreTo != nil),
        ].filter(\.1).map(\.0)
    }

    var isRequested: Bool { !requested.isEmpty }

    /// The flag of the job requested, for log lines.
    var job: String? { requested.first }

    /// Whether this run must be the only one on its LMDB state directory (`StateDirectoryLock`): serving,
    /// and every job but the two that only read.
    var needsTheStateDirectoryAlone: Bool { !check && backup == nil }

    /// Whether this run may make a new store (directory, key, `lock.mdb`, `data.mdb`) where there is none:
    /// serving does, and a restore fills an empty state directory. Every other job works on the store that is
    /// there: a key rotation or a copy of a new, empty store would only hide a mistyped --state-dir.
    var mayCreateAStore: Bool { !isRequested || restoreFrom != nil }

    func validate() throws {
        guard requested.count <= 1 else {
            throw ValidationError(
                "--check, --backup, --restore-from, --rotate-key and --copy-store-to cannot be combined"
            )
        }
    }

    /// Refuses, before anything is opened or connected, a job that works only on an LMDB state directory when
    /// the store is PostgreSQL: opening it would already apply the store's migrations.
    func refuseLMDBOnlyJob(with settings: DaemonSettings) throws {
        guard settings.store != nil, backup != nil || restoreFrom != nil || rotateKey else { return }
        throw ValidationError(Self.lmdbOnly)
    }

    static let lmdbOnly =
        "--backup, --restore-from and --rotate-key work on the LMDB store; for PostgreSQL use the server's own "
        + "backups (pg_dump, pg_basebackup; see docs/fleet.md)"

    /// Runs on the open store and returns what to print.
    func run(
        _ opened: OpenedStore,
        settings: DaemonSettings,
        fleetStore: (any FleetStore.Type)?,
        logger: Logger
    ) throws -> String {
        if let copyStoreTo {
            let target = try OpenedStore.openTarget(
                copyStoreTo,
                settings: settings,
                fleetStore: fleetStore,
                logger: logger
            )
            let counts = try withExtendedLifetime(target.lock) {
                try StoreCopy.copy(from: opened.store, to: target.store)
            }
            return
                "copied \(counts.organizations) organizations, \(counts.accounts) accounts (with their replay steps) "
                + "and \(counts.auditRecords) audit records into \(copyStoreTo)"
        }
        switch opened {
        case .lmdb(let store): return try run(store)
        case .fleet(let store):
            guard check else { throw ValidationError(Self.lmdbOnly) }
            var accounts = 0
            var after: AccountName?
            // Listing opens every secret, so a record the key cannot open fails the check.
            while true {
                let page = try store.accounts(in: nil, after: after, limit: 500)
                accounts += page.count
                guard let last = page.last, page.count == 500 else { break }
                after = last.name
            }
            let schema = try FleetProgram.linked(fleetStore).schemaVersion(of: store)
            return "ok: PostgreSQL schema \(schema), \(accounts) accounts read, every secret opened with the key"
        }
    }

    /// Runs before the store opens: a restore fills the empty state directory, with the backup checked
    /// against the key the store will open with and its replay steps raised before it is put in place.
    /// Returns what to print for a job done here, nil for the others.
    func prepare(settings: DaemonSettings) throws -> String? {
        guard let restoreFrom else { return nil }
        let raised = try LMDBAccountStore.restore(
            from: restoreFrom,
            into: settings.stateDirectory,
            secretsKey: try OpenedStore.configuredKey(settings, mayCreate: false),
            now: Int64(time(nil))
        )
        return "restored; the replay step of \(raised) enrolled accounts was raised past the codes that may have "
            + "been used since the backup: their codes work again in \(Authenticator.largestDrift + 1) time steps"
    }

    /// --backup of an LMDB state directory, run instead of opening the store: the copy is made from the
    /// environment opened read-only, so nothing in the state directory changes, whatever the store's schema
    /// (`LMDBAccountStore.backup(of:to:)`). Returns what to print, or nil when there is no such job (PostgreSQL's
    /// --backup is refused by `run`).
    func backUpWithoutOpening(_ settings: DaemonSettings) throws -> String? {
        guard settings.store == nil, let backup else { return nil }
        let version = try LMDBAccountStore.backup(of: settings.stateDirectory, to: backup)
        let current = LMDBAccountStore.schemaVersion
        let newer =
            version > current ? ", newer than this twofactord's \(current): restore it with one that reads it" : ""
        return "backup written to \(backup) (schema \(version)\(newer)); keep the secrets key separately, the "
            + "backup cannot be read without it"
    }

    /// Runs --check or --rotate-key on the open store and returns what to print (`prepare` did --restore-from,
    /// `backUpWithoutOpening` --backup).
    func run(_ store: LMDBAccountStore) throws -> String {
        if rotateKey { return try rotate(store) }
        let counts = try store.check()
        return "ok: schema \(LMDBAccountStore.schemaVersion), \(counts.accounts) accounts and "
            + "\(counts.organizations) organizations read, every secret opened with the key, "
            + "\(counts.auditRecords) audit records and their index checked"
    }

    /// See `LMDBAccountStore.rotateSecretsKey()`: the new key is staged beside the old one, the store
    /// re-sealed in one transaction, then the new key renamed over the old.
    private func rotate(_ store: LMDBAccountStore) throws -> String {
        let rotation = try store.rotateSecretsKey()
        return "re-sealed the secrets of \(rotation.accounts) accounts under a new key, now in \(rotation.keyFile)"
    }
}
