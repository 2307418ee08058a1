import AccountStore
import Daemon
import Glibc
import LMDBAccountStore
import Logging
import StoredRecords

/// The store twofactord serves from: LMDB in the state directory (the default, for one host), or
/// PostgreSQL (`--store postgresql://...`, for a fleet of hosts sharing accounts and the replay guard),
/// opened by the program's `FleetStore`. Both seal secrets under the same key, found the same way.
enum OpenedStore {
    case lmdb(LMDBAccountStore)
    case fleet(any AccountStore)

    var store: any AccountStore {
        switch self {
        case .lmdb(let store): store
        case .fleet(let store): store
        }
    }

    /// Operators' backups and key rotations through the socket: LMDB's; PostgreSQL has its own tools.
    var maintenance: (any StoreMaintenance)? {
        switch self {
        case .lmdb(let store): store
        case .fleet: nil
        }
    }

    /// What to name in a log line about the store.
    static func describe(_ settings: DaemonSettings) -> String {
        settings.store ?? settings.stateDirectory
    }

    /// `readOnly` (`--check`): a store is opened without creating or changing anything (for PostgreSQL: no
    /// migration, no key file). Without `mayCreate` (a job on an existing store) nothing is created
    /// either: an LMDB state directory without a store is refused, and no key file is made.
    static func open(
        settings: DaemonSettings,
        fleetStore: (any FleetStore.Type)?,
        logger: Logger,
        readOnly: Bool = false,
        mayCreate: Bool = true
    ) throws -> OpenedStore {
        guard let url = settings.store else {
            return .lmdb(
                try openLMDB(
                    directory: settings.stateDirectory,
                    settings: settings,
                    readOnly: readOnly,
                    mayCreate: mayCreate
                )
            )
        }
        return .fleet(
            try openFleet(
                url: url,
                with: fleetStore,
                settings: settings,
                logger: logger,
                readOnly: readOnly,
                mayCreateKey: !readOnly && mayCreate
            )
        )
    }

    /// The key from --secrets-key-file or the systemd credential; nil: the store directory's own. A missing
    /// --secrets-key-file is created only when `mayCreate`.
    static func configuredKey(
        _ settings: DaemonSettings,
        mayCreate: Bool = true
    ) throws(AccountStoreError)
        -> SecretsKey?
    {
        guard let location = SecretsKey.configuredLocation(explicit: settings.secretsKeyFile) else { return nil }
        return try SecretsKey.load(path: location.path, create: location.create && mayCreate)
    }

    /// A key file is created only for a new store: a new key cannot open an existing database.
    static func openLMDB(
        directory: String,
        settings: DaemonSettings,
        readOnly: Bool = false,
        mayCreate: Bool = true
    ) throws(AccountStoreError) -> LMDBAccountStore {
        let mayCreateKey = mayCreate && !readOnly && !LMDBAccountStore.holdsDatabase(directory)
        return try LMDBAccountStore(
            directory: directory,
            auditRetention: settings.auditRetention,
            secretsKey: try configuredKey(settings, mayCreate: mayCreateKey),
            readOnly: readOnly,
            mayCreate: mayCreate
        )
    }

    /// Every host of a fleet must use the same key: without --secrets-key-file or a credential it is
    /// `secrets.key` in the state directory, created on first use (then copy it to the other hosts; a host
    /// with another key is refused at start by the database's key check). Without `mayCreateKey` (`--check`)
    /// a missing key is an error, not a new file; `readOnly` (`--check`) migrates and writes nothing.
    static func openFleet(
        url: String,
        with fleetStore: (any FleetStore.Type)?,
        settings: DaemonSettings,
        logger: Logger,
        readOnly: Bool = false,
        mayCreateKey: Bool = true
    ) throws -> any AccountStore {
        let opener = try FleetProgram.linked(fleetStore)
        let key: SecretsKey
        if let configured = try configuredKey(settings, mayCreate: mayCreateKey) {
            key = configured
        } else {
            // The state directory holds only the key here; made like LMDB's (0700) when missing.
            if mayCreateKey { mkdir(settings.stateDirectory, 0o700) }
            key = try SecretsKey.load(
                path: settings.stateDirectory + "/" + SecretsKey.defaultFileName,
                create: mayCreateKey
            )
        }
        return try opener.open(
            url: url,
            passwordFile: settings.storePasswordFile,
            secretsKey: key,
            auditRetention: settings.auditRetention,
            readOnly: readOnly,
            logger: logger
        )
    }

    /// The store a copy goes into: a `postgresql://` URL, or an LMDB state directory, locked like the source
    /// (no daemon may serve a store while it is filled): keep the lock until the copy is done.
    static func openTarget(
        _ target: String,
        settings: DaemonSettings,
        fleetStore: (any FleetStore.Type)?,
        logger: Logger
    ) throws -> (store: any AccountStore, lock: StateDirectoryLock?) {
        if StoreLocation.isPostgresURL(target) {
            return (try openFleet(url: target, with: fleetStore, settings: settings, logger: logger), nil)
        }
        guard target.hasPrefix("/") else {
            throw AccountStoreError.storageFailure(
                "--copy-store-to takes a postgresql:// URL or the absolute path of an LMDB state directory"
            )
        }
        let lock = try StateDirectoryLock(target)
        return (try openLMDB(directory: target, settings: settings), lock)
    }
}
