import AccountStore
import Glibc
import LMDB
import OneTimePassword
import StoredRecords
import Synchronization

/// The account store on LMDB: one environment in the state directory, with the named databases
/// - `meta`: the schema version, the audit sequence and the secrets-key check (stores written before
///   this build may also hold an `unknown-user-failures` counter, which nothing reads or writes any more);
/// - `accounts`: key = account name (UTF-8), value = an `AccountRecord`;
/// - `organizations`: key = organization name, value = an `OrganizationRecord`;
/// - `members`: the organization index, key = organization name, NUL, account name; value empty. Names
///   never contain NUL, so one organization's keys are one contiguous range;
/// - `audit`: key = u64 big-endian sequence, value = an `AuditRecordCodec` record;
/// - `audit-organizations`: the audit trail by organization, key = organization name, NUL, u64 big-endian
///   sequence (a NUL and the sequence for a record of no organization); value empty. `meta` holds each
///   organization's count of records (LMDBAccountStore+Audit.swift);
/// - `logins`: key = account name, value = a `LoginStateRecord`: what logins changed since the account's
///   record was last written whole. Reads apply it to the record; a write of the whole record removes it
///   (LMDBAccountStore+LoginState.swift).
///
/// Every mutating method runs exactly one write (a nested transaction in a group-committed batch, see
/// Transactions.swift), committed with LMDB's default sync, so when it returns the change is on disk;
/// when it throws, nothing was written.
///
/// `@unchecked Sendable` is safe because every stored property is an immutable `let` of a thread-safe
/// kind: the LMDB environment (opened with `MDB_NOTLS`, whose handle LMDB allows to be shared), database
/// handles (integers, valid everywhere once the transaction that opened them committed), and two locks.
/// All mutable state lives in LMDB and is reached only through the transactions in Transactions.swift,
/// whose writes the LMDB wrapper group-commits and keeps apart from map resizing.
///
/// Open one store per state directory per process: LMDB's locks are per process.
public final class LMDBAccountStore: AccountStore, @unchecked Sendable {
    /// The schema this build reads and writes. Version 1 (no organizations, members or audit databases),
    /// version 2 (no `logins` database) and version 3 (no `audit-organizations` database) are upgraded in place
    /// when they are opened.
    public static let schemaVersion: UInt32 = 4

    static let schemaVersionKey = Array("schema-version".utf8)
    static let auditSequenceKey = Array("audit-sequence".utf8)
    /// The named databases an environment of the store may open: those the type's comment lists, with room to spare.
    static let maxDatabases = 12

    let directory: String
    let keys: KeyHolder
    /// The key new secrets are sealed with.
    var secretsKey: SecretsKey { keys.current }
    let environment: Environment
    let databases: Databases
    let auditRetention: AuditRetention
    /// A read-only store (`--check`) keeps its directory open, locked shared when it has no `lock.mdb`, so that
    /// no daemon or writing job starts on it while it reads without LMDB's lock file.
    private let readOnlySource: StateDirectory.ReadOnlySource?
    /// Taken shared by every write, exclusively by a key rotation across its write and the switch to the new key
    /// (SealedSecrets.swift), so no write seals with the old key after the rotation committed.
    let writerLock = ReadWriteLock()
    /// How many account records had their secrets opened (`opened`), for tests: what a request read.
    let openedRecords = Atomic(0)
    /// How many account records were decoded (`decodeAccount`), for tests: what a write read.
    let decodedRecords = Atomic(0)
    /// The login stand-in (LMDBAccountStore+LoginStandIn.swift), sealed with the key whose bytes it holds.
    let loginStandIn = Mutex<SealedStandIn?>(nil)

    var meta: Database { databases.meta }
    var accounts: Database { databases.accounts }

    /// Opens or creates the store in `directory`.
    ///
    /// The directory is created with mode 0700 if missing; one that group or others can write is refused.
    /// A new store is made only in a directory holding none of `data.mdb`, `secrets.key` and `lock.mdb`; a key or
    /// lock file without its database, an empty or truncated `data.mdb` is refused with what to do
    /// (StateDirectory.swift). Reader slots
    /// left by crashed processes are cleared (`mdb_reader_check`). A new store gets the current schema version
    /// and the `default` organization; a version 1 or 2 store is upgraded; a store with another version is
    /// refused with `.unsupportedSchemaVersion`.
    ///
    /// TOTP secrets are sealed under `secretsKey` (see SealedSecrets.swift); without one, the key file
    /// `secrets.key` in `directory` is read, or created with a fresh random key together with a new store.
    ///
    /// - Parameter initialMapSize: The map size to start with; the map doubles whenever it fills up.
    /// - Parameter auditRetention: How much of the audit trail to keep.
    /// - Parameter readOnly: Open an existing store without creating or changing anything (`--check`): no
    ///   directory, key or lock file is made, no schema upgraded; writes fail.
    /// - Parameter mayCreate: Whether a new store is made where there is none (serving). Without it (a job on
    ///   an existing store, `--rotate-key`) a directory without a store is refused, and nothing is created.
    public init(
        directory: String,
        initialMapSize: Int = 16 << 20,
        auditRetention: AuditRetention = .standard,
        secretsKey: SecretsKey? = nil,
        readOnly: Bool = false,
        mayCreate: Bool = true
    ) throws(AccountStoreError) {
        let contents = try StateDirectory.prepare(directory, readOnly: readOnly, mayCreate: mayCreate)
        readOnlySource = readOnly ? try StateDirectory.ReadOnlySource(directory, for: "check it") : nil
        self.directory = directory
        self.auditRetention = auditRetention
        // A new store that fails half-way is taken away again, or its key alone would block the next start.
        let removeIfNew = { if contents.isNew { StateDirectory.removeNewStore(directory, withKey: secretsKey == nil) } }
        do throws(AccountStoreError) {
            if let secretsKey {
                keys = KeyHolder(secretsKey)
            } else {
                keys = KeyHolder(try Self.directoryKey(directory, creating: contents.isNew))
            }
            environment = try Self.openEnvironment(
                directory,
                initialMapSize: initialMapSize,
                readOnly: readOnly,
                contents
            )
            databases = try Schema.open(environment, directory: directory, readOnly: readOnly)
        } catch {
            removeIfNew()
            throw error
        }
        do throws(AccountStoreError) {
            try checkSecretsKey(readOnly: readOnly)
        } catch {
            removeIfNew()
            throw error
        }
        if contents.isNew { StateDirectory.syncEntries(directory) }
    }

    private static func openEnvironment(
        _ directory: String,
        initialMapSize: Int,
        readOnly: Bool,
        _ contents: StateDirectory.Contents
    ) throws(AccountStoreError) -> Environment {
        do throws(LMDBError) {
            var flags: Environment.Flags = []
            if readOnly {
                // Without lock.mdb no process has the store open; a read-only open must not create one.
                flags = contents.hasLockFile ? [.readOnly] : [.readOnly, .noLock]
            }
            let environment = try Environment(
                path: directory,
                mapSize: initialMapSize,
                maximumMapSize: maximumMapSize,
                maxDatabases: Self.maxDatabases,
                flags: flags
            )
            if !readOnly { try environment.readerCheck() }
            return environment
        } catch {
            throw storageFailure(error, directory: directory)
        }
    }

    /// Whether `directory` holds a database file: a key for it must be the one its secrets were sealed with,
    /// so none is created for it.
    public static func holdsDatabase(_ directory: String) -> Bool {
        var info = stat()
        return lstat(directory + "/" + StateDirectory.dataFile, &info) == 0
    }

    /// The directory's own `secrets.key`, created only together with a new store: a new key cannot open an
    /// existing database, and writing one would leave the operator a wrong key to remove before restoring.
    private static func directoryKey(_ directory: String, creating: Bool) throws(AccountStoreError) -> SecretsKey {
        let path = directory + "/" + SecretsKey.defaultFileName
        var info = stat()
        if !creating && lstat(path, &info) != 0 && errno == ENOENT {
            throw .storageFailure(
                "\(path) is missing, and \(directory)/\(StateDirectory.dataFile) holds a database sealed with it: "
                    + "put back the key file that belongs to this database, or give it with --secrets-key-file"
            )
        }
        return try SecretsKey.load(path: path, create: creating)
    }

    /// Derived from the key in use when called: after a rotation, from the new one.
    public func derivedKey(label: String) -> [UInt8] {
        secretsKey.derivedKey(label: label)
    }

    /// The big-endian encoding of a schema version, as stored under `meta/schema-version`.
    public static func encodeSchemaVersion(_ version: UInt32) -> [UInt8] {
        [UInt8(version >> 24), UInt8(version >> 16 & 0xff), UInt8(version >> 8 & 0xff), UInt8(version & 0xff)]
    }

    public func account(named name: AccountName) throws(AccountStoreError) -> Account? {
        try account(named: name, trimmed: { $0 })
    }

    public func accountExists(named name: AccountName) throws(AccountStoreError) -> Bool {
        try read { transaction in try transaction.get(Self.key(name), in: accounts) != nil }
    }

    public func accountForCodeCheck(named name: AccountName) throws(AccountStoreError) -> Account? {
        try account(named: name, trimmed: \.forCodeCheck)
    }

    /// The record of `name`, decoded, given to `trim`, then opened: only the secrets `trim` keeps are opened.
    private func account(
        named name: AccountName,
        trimmed trim: (Account) -> Account
    ) throws(AccountStoreError) -> Account? {
        try read { transaction in
            guard let bytes = try transaction.get(Self.key(name), in: accounts) else { return nil }
            return try opened(trim(decodeAccount(bytes, key: Self.key(name), in: transaction)))
        }
    }

    /// Walks the `accounts` database in name order with a cursor; for one organization, walks its range of
    /// the `members` index instead, so listing one organization never reads other organizations' accounts.
    public func accounts(
        in organization: OrganizationName?,
        after: AccountName?,
        limit: Int
    ) throws(AccountStoreError) -> [Account] {
        guard limit > 0 else { return [] }
        return try read { transaction in
            guard let organization else {
                let entries = try Self.range(
                    in: accounts,
                    of: transaction,
                    prefix: [],
                    after: after.map(Self.key),
                    limit: limit
                )
                return try entries.map { try opened(decodeAccount($0.value, key: $0.key, in: transaction)) }
            }
            let prefix = Self.memberPrefix(organization)
            let entries = try Self.range(
                in: databases.members,
                of: transaction,
                prefix: prefix,
                after: after.map { prefix + Self.key($0) },
                limit: limit
            )
            return try entries.map { (key, _) in
                let nameKey = Array(key[prefix.count...])
                guard let bytes = try transaction.get(nameKey, in: accounts) else {
                    throw AccountStoreError.corruptRecord(key: "members/" + String(decoding: key, as: UTF8.self))
                }
                return try opened(decodeAccount(bytes, key: nameKey, in: transaction))
            }
        }
    }

    /// Up to `limit` entries whose keys start with `prefix`, in key order, after the key `after` when given.
    static func range(
        in database: Database,
        of transaction: borrowing Transaction,
        prefix: [UInt8],
        after: [UInt8]?,
        limit: Int
    ) throws(LMDBError) -> [Cursor.Entry] {
        try transaction.withCursor(in: database) { (cursor: borrowing Cursor) throws(LMDBError) -> [Cursor.Entry] in
            // LMDB refuses an empty key to seek to: start from the first entry instead.
            let start = after ?? prefix
            var entry = start.isEmpty ? try cursor.first() : try cursor.seek(atOrAfter: start)
            if let after, entry?.key == after { entry = try cursor.next() }
            var result: [Cursor.Entry] = []
            while let current = entry, result.count < limit, current.key.starts(with: prefix) {
                result.append(current)
                entry = try cursor.next()
            }
            return result
        }
    }

    static func memberPrefix(_ organization: OrganizationName) -> [UInt8] { Array(organization.value.utf8) + [0] }

    static func memberKey(_ account: Account) -> [UInt8] { memberPrefix(account.organization) + key(account.name) }

    /// The organization is read in the write transaction that inserts the account, which no other write runs
    /// beside. A refusal ends the write before anything was put, so the transaction is committed empty.
    @discardableResult
    public func create<Rejection: Error>(
        _ account: Account,
        checkingOrganization body: (inout Account, Organization) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account {
        let outcome: Result<Account, Rejection>
        do throws(AccountStoreError) {
            outcome = try write { (transaction: borrowing Transaction) throws -> Result<Account, Rejection> in
                guard
                    let organization = try Self.loadOrganization(
                        account.organization,
                        from: transaction,
                        in: databases.organizations
                    )
                else { throw AccountStoreError.organizationNotFound(account.organization) }
                var checked = account
                do throws(Rejection) {
                    try body(&checked, organization)
                } catch {
                    return .failure(error)
                }
                guard checked.name == account.name, checked.organization == account.organization,
                    checked.role == account.role
                else {
                    throw AccountStoreError.invalidChange("a new account's check cannot rename, move or promote it")
                }
                try insert(checked, in: transaction)
                return .success(checked)
            }
        } catch {
            throw .store(error)
        }
        return try UpdateError.unwrap(outcome)
    }

    /// Writes a new account, sealed, and its entry in the member index, inside a write transaction; an
    /// existing name throws `.alreadyExists`, an unknown organization `.organizationNotFound` and a second
    /// admin `.organizationHasAdmin`, after which the caller's transaction must be rolled back (throwing out of
    /// `write` does that).
    func insert(_ account: Account, in transaction: borrowing Transaction) throws {
        guard try transaction.get(Self.key(account.organization), in: databases.organizations) != nil else {
            throw AccountStoreError.organizationNotFound(account.organization)
        }
        if account.role == .admin, let admin = try admin(of: account.organization, in: transaction) {
            throw AccountStoreError.organizationHasAdmin(account.organization, admin: admin)
        }
        try transaction.put([], for: Self.memberKey(account), in: databases.members)
        let record = try sealedRecord(account)
        do throws(LMDBError) {
            try putRecord(record, for: Self.key(account.name), in: transaction, flags: .noOverwrite)
        } catch .keyExists {
            throw AccountStoreError.alreadyExists(account.name)
        }
    }

    /// The admin among the organization's members, read through the member index in `transaction`; every member
    /// is decoded, which only the creation of an admin pays.
    func admin(of organization: OrganizationName, in transaction: borrowing Transaction) throws -> AccountName? {
        let prefix = Self.memberPrefix(organization)
        let members = try Self.range(in: databases.members, of: transaction, prefix: prefix, after: nil, limit: .max)
        for (key, _) in members {
            let nameKey = Array(key[prefix.count...])
            guard let bytes = try transaction.get(nameKey, in: accounts) else {
                throw AccountStoreError.corruptRecord(key: "members/" + String(decoding: key, as: UTF8.self))
            }
            let member = try Self.decodeRecord(bytes, key: nameKey)
            if member.role == .admin { return member.name }
        }
        return nil
    }

    /// `body` runs inside the write transaction; it may run more than once if the map has to grow, so it
    /// must not have effects outside the account it is given. A refusal ends the write before anything was
    /// put, so the transaction is committed empty. With `withOrganization`, the organization is read in the same
    /// write transaction, which no other write runs beside.
    public func update<Rejection: Error>(
        _ name: AccountName,
        withOrganization: Bool,
        _ body: (inout Account, Organization?) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account {
        let outcome: Result<Account, Rejection>
        do throws(AccountStoreError) {
            outcome = try write { (transaction: borrowing Transaction) throws -> Result<Account, Rejection> in
                let before = try opened(loadAccount(name, in: transaction))
                var account = before
                let organization =
                    withOrganization
                    ? try Self.loadOrganization(before.organization, from: transaction, in: databases.organizations)
                    : nil
                do throws(Rejection) {
                    try body(&account, organization)
                } catch {
                    return .failure(error)
                }
                guard account.name == name else {
                    throw AccountStoreError.invalidChange("an account cannot be renamed")
                }
                if account.organization != before.organization {
                    guard try transaction.get(Self.key(account.organization), in: databases.organizations) != nil
                    else { throw AccountStoreError.organizationNotFound(account.organization) }
                    _ = try transaction.delete(Self.memberKey(before), in: databases.members)
                    try transaction.put([], for: Self.memberKey(account), in: databases.members)
                }
                try putRecord(try sealedRecord(account), for: Self.key(name), in: transaction)
                return .success(account)
            }
        } catch {
            throw .store(error)
        }
        return try UpdateError.unwrap(outcome)
    }

    public func remove(_ name: AccountName, ifStill identity: AccountIdentity?) throws(AccountStoreError) {
        try write { transaction in
            let account = try loadAccount(name, in: transaction)
            if let identity, account.identity != identity { throw AccountStoreError.notFound(name) }
            _ = try transaction.delete(Self.key(name), in: accounts)
            _ = try transaction.delete(Self.key(name), in: databases.logins)
            _ = try transaction.delete(Self.memberKey(account), in: databases.members)
        }
    }

    public func recordAcceptedStep(
        _ step: UInt64,
        for name: AccountName,
        authenticator label: AuthenticatorLabel,
        credential: TOTPCredential,
        drift: Int32,
        offset: Int32?,
        at time: UnixTime,
        alongside: AcceptedStepChange?
    ) throws(AccountStoreError) -> StepAcceptance {
        try write { transaction in
            try acceptStep(
                StepClaim(step: step, authenticator: label, credential: credential, drift: drift, offset: offset),
                for: name,
                at: time,
                alongside: alongside,
                in: transaction
            )
        }
    }

    /// The replay guard of `recordAcceptedStep`, inside a write transaction (`Account.acceptStep` is the rule).
    /// `stored`, when given, is `name`'s account as this transaction holds it, read through `decodeAccount`
    /// with nothing of it written since, so that it is not decoded again.
    func acceptStep(
        _ claim: StepClaim,
        for name: AccountName,
        at time: UnixTime,
        alongside: AcceptedStepChange?,
        in transaction: borrowing Transaction,
        stored: Account? = nil
    ) throws -> StepAcceptance {
        let before = try stored ?? loadAccount(name, in: transaction)
        var account = before
        let acceptance = try account.acceptSealed(claim, at: time) { (sealed) throws(AccountStoreError) in
            try opened(sealed, of: name, authenticator: claim.authenticator)
        }
        // Nothing was written when refused; the transaction is committed empty, which costs no sync.
        guard acceptance == .accepted else { return .replayed }
        if let alongside {
            // The organization as this write reads it: a grace period shortened meanwhile is the one that applies.
            alongside(
                &account,
                try Self.loadOrganization(account.organization, from: transaction, in: databases.organizations)
            )
        }
        try save(account, changedFrom: before, in: transaction)
        return .accepted
    }

    /// A login's writes in one nested transaction of one group commit: the step or the success, the throttle
    /// key cleared and the audit record appended.
    public func recordLogin(
        of name: AccountName,
        claiming claim: StepClaim?,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        clearing key: ThrottleKey?,
        audit: AuditRecord?
    ) throws(AccountStoreError) -> StepAcceptance {
        try write { transaction in
            if let claim {
                let acceptance = try acceptStep(claim, for: name, at: time, alongside: alongside, in: transaction)
                guard acceptance == .accepted else { return acceptance }
            } else {
                try markSuccess(of: name, at: time, in: transaction)
            }
            if let key { try clear(key, in: transaction, resetBySuccessOf: name) }
            if let audit { try append(audit, in: transaction) }
            return .accepted
        }
    }

    public func recordSuccess(for name: AccountName, at time: UnixTime) throws(AccountStoreError) {
        try write { transaction in try markSuccess(of: name, at: time, in: transaction) }
    }

    /// Resets `name`'s failure count and records the login; `stored` as for `acceptStep`.
    func markSuccess(
        of name: AccountName,
        at time: UnixTime,
        in transaction: borrowing Transaction,
        stored: Account? = nil
    ) throws {
        let before = try stored ?? loadAccount(name, in: transaction)
        var account = before
        account.failureCount = 0
        account.lastLoginAt = time
        account.updatedAt = time
        try save(account, changedFrom: before, in: transaction)
    }

    /// How many account records were read with their secrets opened since the store was opened, for tests.
    public var accountRecordsOpened: Int {
        openedRecords.load(ordering: .relaxed)
    }

    /// How many account records were decoded, with their login state applied, since the store was opened, for
    /// tests.
    public var accountRecordsDecoded: Int {
        decodedRecords.load(ordering: .relaxed)
    }

    /// How many durable commits the store's writes made since it was opened (several concurrent writes
    /// share one: group commit), for tests and benchmarks.
    public var durableCommits: Int {
        environment.writeStatistics.commits
    }

    // MARK: Records

    static func key(_ name: AccountName) -> [UInt8] { Array(name.value.utf8) }
    static func key(_ name: OrganizationName) -> [UInt8] { Array(name.value.utf8) }

    /// Decodes an account record alone, checking that it is stored under its own name; `decodeAccount` adds
    /// the account's login state. Its TOTP secrets stay sealed (see SealedSecrets.swift): code that only
    /// changes other fields writes them back untouched.
    static func decodeRecord(_ bytes: [UInt8], key: [UInt8]) throws(AccountStoreError) -> Account {
        let recordKey = "accounts/" + String(decoding: key, as: UTF8.self)
        guard let account = try? AccountRecord.decode(bytes), Array(account.name.value.utf8) == key else {
            throw .corruptRecord(key: recordKey)
        }
        return account
    }

    static func encodeCounter(_ value: UInt64) -> [UInt8] {
        (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
}
