import AccountStore
import PostgresNIO
import StoredRecords

/// The schema, as numbered migrations applied in order when a store opens. MUSTs:
/// - a migration is never edited once released; a change is a new migration with the next number;
/// - all pending migrations, the version rows and the secrets-key check run in one transaction under an
///   advisory lock, so daemons starting together apply each migration once and none sees half a schema;
/// - a database whose version is higher than `Migrations.all.count` (written by a newer twofactord) is
///   refused untouched: this binary does not know what the newer columns mean;
/// - a store opened read-only (`--check`) applies nothing and writes nothing (`inspect`): it reports a schema
///   that is missing, older or newer, and its connections are read-only, so no statement could write.
///
/// Records are stored as the shared `AccountRecord`/`OrganizationRecord` bytes, sealed like on LMDB, beside
/// the few columns queries need (name, organization, audit filters), so a new field of `Account` needs no
/// migration. Names use the "C" collation: listing and paging follow byte order, as on LMDB.
enum Migrations {
    /// Taken with pg_advisory_xact_lock while migrating: "2fa" in ASCII.
    static let advisoryLock: Int64 = 0x32_66_61

    static let all: [(description: String, statements: [String])] = [
        (
            "accounts, organizations, throttle, audit trail, counters and meta",
            [
                """
                CREATE TABLE meta (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL)
                """,
                """
                CREATE TABLE counters (name text COLLATE "C" PRIMARY KEY, value bigint NOT NULL)
                """,
                """
                CREATE TABLE organizations (name text COLLATE "C" PRIMARY KEY, record bytea NOT NULL)
                """,
                """
                CREATE TABLE accounts (
                    name text COLLATE "C" PRIMARY KEY,
                    organization text COLLATE "C" NOT NULL REFERENCES organizations (name),
                    record bytea NOT NULL
                )
                """,
                "CREATE INDEX accounts_by_organization ON accounts (organization, name)",
                """
                CREATE TABLE throttle (
                    subject text COLLATE "C" NOT NULL,
                    origin text COLLATE "C" NOT NULL,
                    failures bigint NOT NULL,
                    last_failure_at bigint,
                    PRIMARY KEY (subject, origin)
                )
                """,
                "CREATE INDEX throttle_by_last_failure ON throttle (last_failure_at)",
                """
                CREATE TABLE audit (
                    sequence bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    time bigint NOT NULL,
                    target text COLLATE "C",
                    organization text COLLATE "C",
                    record bytea NOT NULL
                )
                """,
                "CREATE INDEX audit_by_target ON audit (target, sequence)",
                "CREATE INDEX audit_by_organization ON audit (organization, sequence)",
            ]
        ),
        (
            "the number of audit records of each organization",
            [
                """
                CREATE TABLE audit_counts (
                    organization text COLLATE "C" NOT NULL,
                    shard smallint NOT NULL,
                    records bigint NOT NULL,
                    PRIMARY KEY (organization, shard)
                )
                """,
                """
                INSERT INTO audit_counts (organization, shard, records)
                SELECT coalesce(organization, ''), (sequence % \(PostgresAccountStore.auditCountShards))::smallint, count(*)
                FROM audit GROUP BY 1, 2
                """,
            ]
        ),
    ]

    static var latest: Int { all.count }

    /// Applies what is missing and checks (or, on a new database, writes) the secrets-key check.
    static func apply(to store: PostgresAccountStore) throws(AccountStoreError) {
        let location = store.location
        let key = store.secretsKey
        try store.write { transaction in
            try transaction.execute("SELECT pg_advisory_xact_lock(\(advisoryLock))")
            try transaction.execute(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    description text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """
            )
            let current = try version(in: transaction)
            guard current <= latest else { throw newerSchema(current, of: location) }
            for version in (current + 1)...max(current + 1, latest) where version <= latest {
                let migration = all[version - 1]
                for statement in migration.statements {
                    try transaction.execute(PostgresQuery(unsafeSQL: statement))
                }
                try transaction.execute(
                    "INSERT INTO schema_migrations (version, description) VALUES (\(version), \(migration.description))"
                )
                if version == 1 {
                    let organization = Organization(name: .default, createdAt: 0, updatedAt: 0)
                    try transaction.execute(
                        """
                        INSERT INTO organizations (name, record)
                        VALUES (\(OrganizationName.default.value), \(OrganizationRecord.encode(organization).buffer))
                        """
                    )
                }
            }
            if try !checkSecretsKey(key, of: location, in: transaction) {
                let keyCheck = try SecretSealing.keyCheck(with: key).buffer
                try transaction.execute("INSERT INTO meta (key, value) VALUES ('secrets-key-check', \(keyCheck))")
            }
        }
    }

    /// What a store opened read-only (`--check`) does instead of `apply`: reads the schema version and checks
    /// the secrets key, changing nothing. A database `apply` would migrate (an older schema, or none) or that it
    /// refuses (a newer one) is reported, saying what a daemon would do.
    static func inspect(_ store: PostgresAccountStore) throws(AccountStoreError) {
        let location = store.location
        let current = try store.read { transaction in
            let migrated = try transaction.rows("SELECT to_regclass('schema_migrations') IS NOT NULL")
            return try migrated.first?.decode(Bool.self) == true ? try version(in: transaction) : 0
        }
        guard current <= latest else { throw newerSchema(current, of: location) }
        guard current == latest else {
            throw AccountStoreError.storageFailure(pendingMigrations(from: current, of: location))
        }
        try store.read { transaction in _ = try checkSecretsKey(store.secretsKey, of: location, in: transaction) }
    }

    /// What `inspect` says of a database of schema version `current`, older than `latest`.
    private static func pendingMigrations(from current: Int, of location: PostgresLocation) -> String {
        let pending = all[current...].map(\.description).joined(separator: "; ")
        let found =
            current == 0
            ? "the database of \(location) has no twofactord schema yet (no schema_migrations table)"
            : "the database of \(location) has schema version \(current), older than this twofactord's \(latest)"
        return found + ": the first daemon to start would migrate it to version \(latest) (\(pending)); "
            + "nothing was changed: start twofactord once, then check again"
    }

    /// The error for a statement of a running store that met a table or column it does not know, when the
    /// database's schema is now newer than this build's (a newer host migrated it); nil otherwise.
    static func newerSchema(on session: Session, of location: PostgresLocation) -> AccountStoreError? {
        guard let rows = try? session.query("SELECT coalesce(max(version), 0)::bigint FROM schema_migrations"),
            let found = try? rows.first?.decode(Int64.self), Int(found) > latest
        else { return nil }
        return newerSchema(Int(found), of: location)
    }

    private static func newerSchema(_ current: Int, of location: PostgresLocation) -> AccountStoreError {
        .storageFailure(
            "the database of \(location) has schema version \(current), but this twofactord knows only up to "
                + "\(latest): upgrade twofactord on this host (every host sharing the database must run a version "
                + "that knows its schema)"
        )
    }

    /// Checks the secrets-key check against `key`; returns false when there is none yet, which only a database
    /// without accounts may lack (the check is written with the first migrations).
    private static func checkSecretsKey(
        _ key: SecretsKey,
        of location: PostgresLocation,
        in transaction: Transaction
    ) throws -> Bool {
        let check = try transaction.rows("SELECT value FROM meta WHERE key = 'secrets-key-check'")
        guard let row = check.first else {
            let accounts = try transaction.rows("SELECT count(*)::bigint FROM accounts")
            guard try accounts.first?.decode(Int64.self) == 0 else {
                throw AccountStoreError.corruptRecord(key: "meta/secrets-key-check")
            }
            return false
        }
        guard SecretSealing.isKeyCheck(try row.decode(ByteBuffer.self).bytes, of: key) else {
            throw AccountStoreError.storageFailure(
                "the secrets key \(key.path) is not the key the secrets in \(location) were sealed with: "
                    + "give every host of the fleet the same key file (see --secrets-key-file)"
            )
        }
        return true
    }

    /// The schema version the database has (0 when it has none), for `--check` and the tests.
    static func version(of store: PostgresAccountStore) throws(AccountStoreError) -> Int {
        try store.read { transaction in try version(in: transaction) }
    }

    private static func version(in transaction: Transaction) throws -> Int {
        let rows = try transaction.rows("SELECT coalesce(max(version), 0)::bigint FROM schema_migrations")
        return try Int(rows.first?.decode(Int64.self) ?? 0)
    }
}
