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
    let throttle: Database
    /// What logins changed since an account's record was last written whole (LMDBAccountStore+LoginState.swift).
    let logins: Database
}

/// Opening a store: the schema check, the first-start set-up and the upgrades from versions 1 and 2, in one
/// write transaction (database handles become usable by other transactions only once it commits).
/// Version 3 added the `logins` database; a twofactord of version 2 would not read it, and so would take an
/// account's record for its last login state and accept codes again: the version bump makes it refuse.
enum Schema {
    static func open(_ environment: Environment, directory: String) throws(AccountStoreError) -> Databases {
        do {
            let transaction = try environment.beginTransaction()
            // The version is read before anything else is opened, so a store of another schema is left untouched.
            let meta = try transaction.openDatabase(named: "meta")
            let stored = try storedVersion(transaction, meta: meta)
            if let stored, !(1...LMDBAccountStore.schemaVersion).contains(stored) {
                throw AccountStoreError.unsupportedSchemaVersion(
                    found: stored,
                    supported: LMDBAccountStore.schemaVersion
                )
            }
            let databases = Databases(
                meta: meta,
                accounts: try transaction.openDatabase(named: "accounts"),
                organizations: try transaction.openDatabase(named: "organizations"),
                members: try transaction.openDatabase(named: "members"),
                audit: try transaction.openDatabase(named: "audit"),
                throttle: try transaction.openDatabase(named: "throttle"),
                logins: try transaction.openDatabase(named: "logins")
            )
            if stored == nil {
                // Accounts without a version means the meta record was lost, not a new store.
                guard try transaction.count(in: databases.accounts) == 0 else {
                    throw AccountStoreError.corruptRecord(key: "meta/schema-version")
                }
            }
            if stored == nil || stored == 1 {
                try addOrganizations(transaction, databases)
            }
            if stored != LMDBAccountStore.schemaVersion {
                try transaction.put(
                    LMDBAccountStore.encodeSchemaVersion(LMDBAccountStore.schemaVersion),
                    for: LMDBAccountStore.schemaVersionKey,
                    in: meta
                )
            }
            try transaction.commit()
            return databases
        } catch {
            throw LMDBAccountStore.storeError(error, directory: directory)
        }
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
}
