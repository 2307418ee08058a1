import AccountStore
import LMDB

/// The account store on LMDB: one environment in the state directory, with the named databases
/// - `meta`: the schema version and the unknown-user failure counter;
/// - `accounts`: key = account name (UTF-8), value = an `AccountRecord`.
/// An `audit` database is meant to join them (the environment allows up to 8).
///
/// Every mutating method runs exactly one write transaction, committed with LMDB's default sync, so
/// when it returns the change is on disk; when it throws, nothing was written.
///
/// `@unchecked Sendable` is safe because every stored property is an immutable `let` of a thread-safe
/// kind: the LMDB environment (opened with `MDB_NOTLS`, whose handle LMDB allows to be shared), database
/// handles (integers, valid everywhere once the transaction that opened them committed), and two locks.
/// All mutable state lives in LMDB and is reached only through the transactions in Transactions.swift,
/// where writers are serialised by `writerLock` and map resizing is excluded by `mapLock`.
///
/// Open one store per state directory per process: LMDB's locks are per process.
public final class LMDBAccountStore: AccountStore, @unchecked Sendable {
    /// The schema this build reads and writes.
    public static let schemaVersion: UInt32 = 1

    static let metaDatabaseName = "meta"
    static let accountsDatabaseName = "accounts"
    static let schemaVersionKey = Array("schema-version".utf8)
    static let unknownUserFailuresKey = Array("unknown-user-failures".utf8)

    let directory: String
    let secretsKey: SecretsKey
    let environment: Environment
    let meta: Database
    let accounts: Database
    let mapLock = ReadWriteLock()
    let writerLock = Lock()

    /// Opens or creates the store in `directory`.
    ///
    /// The directory is created with mode 0700 if missing; one that group or others can write is refused.
    /// Reader slots left by crashed processes are cleared (`mdb_reader_check`). A new store gets the current
    /// schema version; a store with another version is refused with `.unsupportedSchemaVersion`.
    ///
    /// TOTP secrets are sealed under `secretsKey` (see SealedSecrets.swift); without one, the key file
    /// `secrets.key` in `directory` is read, or created with a fresh random key on first use.
    ///
    /// - Parameter initialMapSize: The map size to start with; the map doubles whenever it fills up.
    public init(
        directory: String,
        initialMapSize: Int = 16 << 20,
        secretsKey: SecretsKey? = nil
    ) throws(AccountStoreError) {
        try StateDirectory.prepare(directory)
        self.directory = directory
        if let secretsKey {
            self.secretsKey = secretsKey
        } else {
            self.secretsKey = try SecretsKey.load(path: directory + "/" + SecretsKey.defaultFileName, create: true)
        }
        do throws(LMDBError) {
            environment = try Environment(path: directory, mapSize: initialMapSize, maxDatabases: 8)
            try environment.readerCheck()
        } catch {
            throw Self.storageFailure(error, directory: directory)
        }
        (meta, accounts) = try Self.openDatabases(environment, directory: directory, secretsKey: self.secretsKey)
    }

    /// Opens the databases and checks (or, for a new store, writes) the schema version, in one write
    /// transaction: database handles become usable by other transactions only once it commits.
    private static func openDatabases(
        _ environment: Environment,
        directory: String,
        secretsKey: SecretsKey
    ) throws(AccountStoreError) -> (meta: Database, accounts: Database) {
        do {
            let transaction = try environment.beginTransaction()
            // The version is read before `accounts` is opened, so a store of another schema is left untouched.
            let meta = try transaction.openDatabase(named: metaDatabaseName)
            if let stored = try transaction.get(schemaVersionKey, in: meta) {
                guard stored.count == 4 else { throw AccountStoreError.corruptRecord(key: "meta/schema-version") }
                let version = stored.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                guard version == schemaVersion else {
                    throw AccountStoreError.unsupportedSchemaVersion(found: version, supported: schemaVersion)
                }
            }
            let accounts = try transaction.openDatabase(named: accountsDatabaseName)
            if try transaction.get(schemaVersionKey, in: meta) == nil {
                // Accounts without a version means the meta record was lost, not a new store.
                guard try transaction.count(in: accounts) == 0 else {
                    throw AccountStoreError.corruptRecord(key: "meta/schema-version")
                }
                try transaction.put(encodeSchemaVersion(schemaVersion), for: schemaVersionKey, in: meta)
            }
            try checkSecretsKey(secretsKey, in: transaction, meta: meta, accounts: accounts)
            try transaction.commit()
            return (meta, accounts)
        } catch let error as LMDBError {
            throw storageFailure(error, directory: directory)
        } catch let error as AccountStoreError {
            throw error
        } catch {
            throw .rejected(error)
        }
    }

    /// The big-endian encoding of a schema version, as stored under `meta/schema-version`.
    public static func encodeSchemaVersion(_ version: UInt32) -> [UInt8] {
        [UInt8(version >> 24), UInt8(version >> 16 & 0xff), UInt8(version >> 8 & 0xff), UInt8(version & 0xff)]
    }

    public func account(named name: AccountName) throws(AccountStoreError) -> Account? {
        try read { transaction in
            guard let bytes = try transaction.get(Self.key(name), in: accounts) else { return nil }
            return try decode(bytes, key: Self.key(name))
        }
    }

    /// Walks the `accounts` database in name order with a cursor. Filtering by organization decodes each
    /// record on the way, so its cost grows with the number of accounts after `after`.
    public func accounts(
        in organization: OrganizationName?,
        after: AccountName?,
        limit: Int
    ) throws(AccountStoreError) -> [Account] {
        guard limit > 0 else { return [] }
        return try read { transaction in
            let found = try transaction.withCursor(in: accounts) {
                (cursor: borrowing Cursor) throws(LMDBError) -> Result<[Account], AccountStoreError> in
                var entry: Cursor.Entry?
                if let after {
                    entry = try cursor.seek(atOrAfter: Self.key(after))
                    if entry?.key == Self.key(after) { entry = try cursor.next() }
                } else {
                    entry = try cursor.first()
                }
                var result: [Account] = []
                while let (key, value) = entry, result.count < limit {
                    let account: Account
                    do throws(AccountStoreError) {
                        account = try decode(value, key: key)
                    } catch {
                        return .failure(error)
                    }
                    if organization == nil || account.organization == organization {
                        result.append(account)
                    }
                    entry = try cursor.next()
                }
                return .success(result)
            }
            return try found.get()
        }
    }

    public func create(_ account: Account) throws(AccountStoreError) {
        try write { transaction in
            do {
                try transaction.put(
                    try encode(account),
                    for: Self.key(account.name),
                    in: accounts,
                    flags: .noOverwrite
                )
            } catch let error as LMDBError where error == .keyExists {
                throw AccountStoreError.alreadyExists(account.name)
            }
        }
    }

    /// `body` runs inside the write transaction; it may run more than once if the map has to grow, so it
    /// must not have effects outside the account it is given.
    @discardableResult
    public func update(
        _ name: AccountName,
        _ body: (inout Account) throws -> Void
    ) throws(AccountStoreError) -> Account {
        try write { transaction in
            var account = try load(name, from: transaction)
            do {
                try body(&account)
            } catch {
                throw AccountStoreError.rejected(error)
            }
            guard account.name == name else {
                throw AccountStoreError.rejected(InvalidValue("an account cannot be renamed"))
            }
            try transaction.put(try encode(account), for: Self.key(name), in: accounts)
            return account
        }
    }

    public func remove(_ name: AccountName) throws(AccountStoreError) {
        try write { transaction in
            guard try transaction.delete(Self.key(name), in: accounts) else { throw AccountStoreError.notFound(name) }
        }
    }

    public func recordAcceptedStep(
        _ step: UInt64,
        for name: AccountName,
        at time: UnixTime
    ) throws(AccountStoreError) -> StepAcceptance {
        try write { transaction in
            var account = try load(name, from: transaction)
            if let last = account.lastAcceptedStep, step <= last {
                // Nothing was written; the transaction is committed empty, which costs no sync.
                return .replayed
            }
            account.lastAcceptedStep = step
            account.failureCount = 0
            account.updatedAt = time
            try transaction.put(try encode(account), for: Self.key(name), in: accounts)
            return .accepted
        }
    }

    @discardableResult
    public func recordFailure(for name: AccountName?, at time: UnixTime) throws(AccountStoreError) -> UInt32 {
        try write { transaction in
            guard let name else {
                let count = try Self.unknownUserFailures(in: transaction, meta: meta) &+ 1
                try transaction.put(Self.encodeCounter(count), for: Self.unknownUserFailuresKey, in: meta)
                return UInt32(clamping: count)
            }
            var account = try load(name, from: transaction)
            if account.failureCount < UInt32.max {
                account.failureCount += 1
            }
            account.lastFailureAt = time
            try transaction.put(try encode(account), for: Self.key(name), in: accounts)
            return account.failureCount
        }
    }

    public func recordSuccess(for name: AccountName, at time: UnixTime) throws(AccountStoreError) {
        try write { transaction in
            var account = try load(name, from: transaction)
            account.failureCount = 0
            account.updatedAt = time
            try transaction.put(try encode(account), for: Self.key(name), in: accounts)
        }
    }

    /// How many failed logins named an unknown user, since the store was created.
    public func unknownUserFailureCount() throws(AccountStoreError) -> UInt64 {
        try read { transaction in try Self.unknownUserFailures(in: transaction, meta: meta) }
    }

    // MARK: Records

    static func key(_ name: AccountName) -> [UInt8] { Array(name.value.utf8) }

    private func load(_ name: AccountName, from transaction: borrowing Transaction) throws -> Account {
        guard let bytes = try transaction.get(Self.key(name), in: accounts) else {
            throw AccountStoreError.notFound(name)
        }
        return try decode(bytes, key: Self.key(name))
    }

    private static func unknownUserFailures(in transaction: borrowing Transaction, meta: Database) throws -> UInt64 {
        guard let bytes = try transaction.get(unknownUserFailuresKey, in: meta) else { return 0 }
        guard bytes.count == 8 else { throw AccountStoreError.corruptRecord(key: "meta/unknown-user-failures") }
        return bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    private static func encodeCounter(_ value: UInt64) -> [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}
