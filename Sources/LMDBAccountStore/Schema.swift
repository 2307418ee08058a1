import AccountStore
import LMDB
import StoredRecords

/// The database handles of an open store.
struct Databases: Sendable {
    let meta: Database
    let accounts: Database
    let organizations: Database
    let members: Database
    let audit: Database
    /// The audit trail by organization: each record's index entry under its organization's part
    /// (LMDBAccountStore+Audit.swift).
    let auditByOrganization: Database
    let throttle: Database
    /// What logins changed since an account's record was last written whole (LMDBAccountStore+LoginState.swift).
    let logins: Database
}

/// Opening a store: the schema check, the first-start set-up and the upgrades from versions 1 to 3, in one
/// write transaction (database handles become usable by other transactions only once it commits).
/// Version 3 added the `logins` database; a twofactord of version 2 would not read it, and so would take an
/// account's record for its last login state and accept codes again: the version bump makes it refuse.
/// Version 4 added `audit-organizations` and the counts of each organization's part of the trail; a
/// twofactord of version 3 would append records without them and so leave them wrong.
/// A store without a schema version is set up only when LMDB's main database is empty: a first start that
/// was interrupted before its first commit. Anything else without a version is damage, never a new store.
/// A read-only open (`--check`) changes nothing: it needs the current version and every database in place.
/// A backup opens no store: it reads the version alone (`version(of:directory:)`) and copies any.
enum Schema {
    static func open(
        _ environment: Environment,
        directory: String,
        readOnly: Bool
    ) throws(AccountStoreError) -> Databases {
        do {
            return readOnly
                ? try openReadOnly(environment, directory: directory)
                : try openForWriting(environment, directory: directory)
        } catch {
            throw LMDBAccountStore.storeError(error, directory: directory)
        }
    }

    /// Through `Environment.write`, which grows the map when the set-up or an upgrade fills it: a store whose
    /// data fills its map (a compacted backup larger than the initial map) has no page to spare.
    private static func openForWriting(
        _ environment: Environment,
        directory: String
    ) throws(AccountStoreError) -> Databases {
        do {
            return try environment.write { (transaction: borrowing Transaction) throws -> Databases in
                try setUpOrUpgrade(transaction)
            }
        } catch {
            throw LMDBAccountStore.storeError(error, directory: directory)
        }
    }

    private static func setUpOrUpgrade(_ transaction: borrowing Transaction) throws -> Databases {
        let neverSetUp = try isEmpty(transaction)
        // The version is read before anything else is opened, so a store of another schema is left untouched.
        let meta = try transaction.openDatabase(named: "meta")
        let stored = try storedVersion(transaction, meta: meta)
        if let stored, !(1...LMDBAccountStore.schemaVersion).contains(stored) {
            throw AccountStoreError.unsupportedSchemaVersion(found: stored, supported: LMDBAccountStore.schemaVersion)
        }
        if stored == nil && !neverSetUp {
            throw AccountStoreError.corruptRecord(key: "meta/schema-version")
        }
        let databases = Databases(
            meta: meta,
            accounts: try transaction.openDatabase(named: "accounts"),
            organizations: try transaction.openDatabase(named: "organizations"),
            members: try transaction.openDatabase(named: "members"),
            audit: try transaction.openDatabase(named: "audit"),
            auditByOrganization: try transaction.openDatabase(named: "audit-organizations"),
            throttle: try transaction.openDatabase(named: "throttle"),
            logins: try transaction.openDatabase(named: "logins")
        )
        if stored == nil || stored == 1 {
            try addOrganizations(transaction, databases)
        }
        if let stored, stored < 4 {
            try indexAuditTrail(transaction, databases)
        }
        if stored != LMDBAccountStore.schemaVersion {
            try transaction.put(
                LMDBAccountStore.encodeSchemaVersion(LMDBAccountStore.schemaVersion),
                for: LMDBAccountStore.schemaVersionKey,
                in: meta
            )
        }
        return databases
    }

    /// The schema version of the store in `environment`, read in one read transaction: for a backup, which
    /// copies the store as it is, whatever its version (a restore upgrades an older one). A database that was
    /// never set up or has no version is refused, as a read-only open refuses it.
    static func version(of environment: Environment, directory: String) throws(AccountStoreError) -> UInt32 {
        do {
            return try environment.read { (transaction: borrowing Transaction) throws -> UInt32 in
                try existingVersion(transaction, directory: directory).version
            }
        } catch {
            throw LMDBAccountStore.storeError(error, directory: directory)
        }
    }

    /// The `meta` database and the version it holds, in a transaction that may not create anything.
    private static func existingVersion(
        _ transaction: borrowing Transaction,
        directory: String
    ) throws -> (meta: Database, version: UInt32) {
        guard let meta = try existingDatabase(named: "meta", in: transaction) else {
            guard try isEmpty(transaction) else { throw AccountStoreError.corruptRecord(key: "meta/schema-version") }
            throw AccountStoreError.storageFailure(
                "the database in \(directory) was never set up (its first start was interrupted): start twofactord "
                    + "to set it up"
            )
        }
        guard let version = try storedVersion(transaction, meta: meta) else {
            throw AccountStoreError.corruptRecord(key: "meta/schema-version")
        }
        return (meta, version)
    }

    private static func openReadOnly(_ environment: Environment, directory: String) throws -> Databases {
        let transaction = try environment.beginTransaction(readOnly: true)
        let (meta, version) = try existingVersion(transaction, directory: directory)
        switch version {
        case LMDBAccountStore.schemaVersion:
            break
        case let stored where stored < LMDBAccountStore.schemaVersion:
            throw AccountStoreError.storageFailure(
                "the store in \(directory) has schema version \(stored), which twofactord upgrades to "
                    + "\(LMDBAccountStore.schemaVersion) when it starts: start it once, then check again"
            )
        case let stored:
            throw AccountStoreError.unsupportedSchemaVersion(found: stored, supported: LMDBAccountStore.schemaVersion)
        }
        let databases = Databases(
            meta: meta,
            accounts: try transaction.openDatabase(named: "accounts", create: false),
            organizations: try transaction.openDatabase(named: "organizations", create: false),
            members: try transaction.openDatabase(named: "members", create: false),
            audit: try transaction.openDatabase(named: "audit", create: false),
            auditByOrganization: try transaction.openDatabase(named: "audit-organizations", create: false),
            throttle: try transaction.openDatabase(named: "throttle", create: false),
            logins: try transaction.openDatabase(named: "logins", create: false)
        )
        // Committing a read-only transaction keeps the handles it opened for the environment's later ones.
        try transaction.commit()
        return databases
    }

    /// The named database, or nil when there is none (a read-only transaction cannot create it).
    private static func existingDatabase(
        named name: String,
        in transaction: borrowing Transaction
    ) throws(LMDBError) -> Database? {
        do {
            return try transaction.openDatabase(named: name, create: false)
        } catch .notFound {
            return nil
        }
    }

    /// Whether LMDB's main database, which lists the named databases, holds nothing.
    private static func isEmpty(_ transaction: borrowing Transaction) throws -> Bool {
        try transaction.count(in: transaction.openDatabase(named: nil, create: false)) == 0
    }

    private static func storedVersion(_ transaction: borrowing Transaction, meta: Database) throws -> UInt32? {
        guard let stored = try transaction.get(LMDBAccountStore.schemaVersionKey, in: meta) else { return nil }
        guard stored.count == 4 else { throw AccountStoreError.corruptRecord(key: "meta/schema-version") }
        return stored.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// Creates the `default` organization, one organization for every other name accounts use, and the
    /// member index. For a new store only `default` is created.
    private static func addOrganizations(_ transaction: borrowing Transaction, _ databases: Databases) throws {
        var names: Set<OrganizationName> = [.default]
        let entries = try LMDBAccountStore.range(
            in: databases.accounts,
            of: transaction,
            prefix: [],
            after: nil,
            limit: .max
        )
        for (key, value) in entries {
            // A version 1 store has no login states: its records are whole.
            let account = try LMDBAccountStore.decodeRecord(value, key: key)
            names.insert(account.organization)
            try transaction.put([], for: LMDBAccountStore.memberKey(account), in: databases.members)
        }
        for name in names where try transaction.get(LMDBAccountStore.key(name), in: databases.organizations) == nil {
            // The creation time of an organization found in old accounts is unknown: 0 says so.
            let organization = Organization(name: name, createdAt: 0, updatedAt: 0)
            try transaction.put(
                OrganizationRecord.encode(organization),
                for: LMDBAccountStore.key(name),
                in: databases.organizations
            )
        }
    }

    /// Indexes every record of the audit trail under its organization's part and counts each part. A record
    /// that cannot be decoded stays unindexed: `--check` reports it, and the age limit drops it in time.
    private static func indexAuditTrail(_ transaction: borrowing Transaction, _ databases: Databases) throws {
        var counts: [[UInt8]: UInt64] = [:]
        let records = try LMDBAccountStore.range(
            in: databases.audit,
            of: transaction,
            prefix: [],
            after: nil,
            limit: .max
        )
        for (key, value) in records {
            guard let record = try? AuditRecordCodec.decode(value) else { continue }
            let part = LMDBAccountStore.auditPart(record.organization)
            try transaction.put([], for: part + key, in: databases.auditByOrganization)
            counts[part, default: 0] += 1
        }
        for (part, count) in counts {
            try transaction.put(
                LMDBAccountStore.encodeCounter(count),
                for: LMDBAccountStore.auditCountPrefix + part,
                in: databases.meta
            )
        }
    }
}
