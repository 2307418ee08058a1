import AccountStore
import Foundation
import LMDBAccountStore
import StoredRecords
import Synchronization
import Testing
import TestSupport

@testable import PostgresAccountStore

// What only the PostgreSQL store has: its URL, its password file, its migrations, and its faults (a server
// that stops, a statement that waits too long). The semantics it shares with LMDB are in the conformance suite.

@Suite struct PostgresLocationTests {
    @Test func url_withAPassword_isRefused_andNamesWhereThePasswordGoes() {
        for url in ["postgresql://tfd:secret-pw@db.example/tfd", "postgresql://tfd@db.example/tfd?password=secret-pw"] {
            do {
                _ = try PostgresLocation(url: url)
                Issue.record("\(url) was accepted")
            } catch {
                #expect(error.description.contains("--store-password-file"))
                #expect(!error.description.contains("secret-pw"))
            }
        }
    }

    /// PostgreSQL refuses a connection asking for more than 2^31-1 ms; the URL is refused first, saying the range.
    @Test func url_statementTimeout_isRefusedOutsideWhatPostgreSQLTakes() throws {
        for value in ["0", "2147483648", "9223372036854775807", "-5", "soon"] {
            do {
                _ = try PostgresLocation(
                    url: "postgresql://tfd@/twofactord?host=/run/postgresql&statement_timeout=\(value)"
                )
                Issue.record("statement_timeout=\(value) was accepted")
            } catch {
                #expect(error.description.contains("from 1 to 2147483647"), "\(error)")
            }
        }
        let longest = try PostgresLocation(url: "postgresql://tfd@/t?host=/run/postgresql&statement_timeout=2147483647")
        #expect(longest.statementTimeoutMilliseconds == 2_147_483_647)
    }

    @Test func url_socketDirectory_tcpDefaults_andTLSModes() throws {
        let socket = try PostgresLocation(url: "postgresql://tfd@/twofactord?host=/run/postgresql")
        #expect(socket.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5432"))
        #expect(socket.tls == .disable && socket.database == "twofactord" && socket.user == "tfd")
        let encoded = try PostgresLocation(url: "postgres://tfd@%2Fvar%2Frun%2Fpg:5433")
        #expect(encoded.endpoint == .unixSocket(path: "/var/run/pg/.s.PGSQL.5433") && encoded.database == "tfd")
        let remote = try PostgresLocation(url: "postgresql://tfd@db.example:6432/fleet?statement_timeout=2000")
        #expect(remote.endpoint == .tcp(host: "db.example", port: 6432))
        #expect(remote.tls == .verifyFull, "a remote server gets checked TLS unless asked otherwise")
        #expect(remote.statementTimeoutMilliseconds == 2_000)
        #expect(try PostgresLocation(url: "postgresql://tfd@127.0.0.1/fleet").tls == .disable)
        #expect(try PostgresLocation(url: "postgresql://tfd@db.example/fleet?sslmode=require").tls == .require)
        // Only an address that is loopback, as parsed, goes without TLS; names that look like one are names.
        for loopback in ["127.0.0.1", "127.8.9.10", "[::1]", "localhost"] {
            #expect(try PostgresLocation(url: "postgresql://tfd@\(loopback)/fleet").tls == .disable, "\(loopback)")
        }
        for name in ["127.db.corp.example", "127.0.0.1.nip.io", "128.0.0.1", "[::2]"] {
            #expect(try PostgresLocation(url: "postgresql://tfd@\(name)/fleet").tls == .verifyFull, "\(name)")
        }
        // A root certificate is checked only by verify-full: with libpq, require and a root certificate check the
        // CA, so that URL must not look checked here.
        let checked = try PostgresLocation(url: "postgresql://tfd@db.example/fleet?sslrootcert=/etc/ssl/db-ca.pem")
        #expect(checked.tls == .verifyFull && checked.rootCertificateFile == "/etc/ssl/db-ca.pem")
        for unchecked in [
            "postgresql://tfd@db.example/fleet?sslmode=require&sslrootcert=/etc/ssl/db-ca.pem",
            "postgresql://tfd@127.0.0.1/fleet?sslrootcert=/etc/ssl/db-ca.pem",
        ] {
            #expect(throws: PostgresLocation.Problem.self, "\(unchecked)") { try PostgresLocation(url: unchecked) }
        }
        for bad in [
            "postgresql://tfd@db.example/fleet?sslmode=prefer", "postgresql://tfd@db.example/fleet?sslmod=disable",
            "postgresql://db.example/fleet", "postgresql://tfd@/fleet?host=/run&sslmode=require",
            "mysql://tfd@db/fleet",
        ] {
            #expect(throws: PostgresLocation.Problem.self, "\(bad)") { try PostgresLocation(url: bad) }
        }
    }

    @Test func passwordFile_readableByGroupOrOthers_isRefused_0600And0400AreRead_andItsNewlineDropped() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/db-password"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("Sw0rdfish-db\n".utf8)))
        for mode: mode_t in [0o640, 0o644, 0o604, 0o620] {
            chmod(path, mode)
            let error = storeError { try PostgresPassword.load(file: path, credentials: nil) }
            guard case .storageFailure(let message) = error else {
                Issue.record("a password file of mode \(String(mode, radix: 8)) was read")
                continue
            }
            #expect(message.contains("chmod 600 \(path)") && !message.contains("Sw0rdfish"), "\(message)")
        }
        for mode: mode_t in [0o600, 0o400] {
            chmod(path, mode)
            #expect(try PostgresPassword.load(file: path, credentials: nil) == "Sw0rdfish-db")
        }
    }

    @Test(.enabled(if: geteuid() == 0, "chown to another user needs root"))
    func passwordFile_ownedByAnotherUser_isRefused_sayingWhatToDo() throws {
        let directory = TemporaryDirectory()
        let path = directory.path + "/db-password"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("Sw0rdfish-db\n".utf8)))
        chmod(path, 0o600)
        #expect(chown(path, 65534, 65534) == 0)
        guard
            case .storageFailure(let message) = storeError({ try PostgresPassword.load(file: path, credentials: nil) })
        else {
            Issue.record("a password file owned by uid 65534 was read")
            return
        }
        #expect(message.contains("uid 65534") && message.contains("chown root \(path)"), "\(message)")
        #expect(!message.contains("Sw0rdfish"))
    }

    /// systemd grants a credential to the service's user by owning it to that user, or through an ACL, whose
    /// mask shows as the file's group bits (0440); both are read. Open to others it is refused like a file.
    @Test func passwordCredential_ofSystemd_isRead_evenWithAnACLMaskInItsGroupBits() throws {
        let credentials = TemporaryDirectory()
        let path = credentials.path + "/" + PostgresPassword.credentialName
        #expect(FileManager.default.createFile(atPath: path, contents: Data("Sw0rdfish-db".utf8)))
        for mode: mode_t in [0o400, 0o440] {
            chmod(path, mode)
            #expect(try PostgresPassword.load(file: nil, credentials: credentials.path) == "Sw0rdfish-db")
        }
        chmod(path, 0o444)
        guard
            case .storageFailure(let message) = storeError({
                try PostgresPassword.load(file: nil, credentials: credentials.path)
            })
        else {
            Issue.record("a credential others may read was read")
            return
        }
        #expect(message.contains("chmod 600"), "\(message)")
        #expect(try PostgresPassword.load(file: nil, credentials: TemporaryDirectory().path) == nil)
    }
}

@Suite struct PostgresStoreTests {
    /// A server that takes TLS connections only: `verify-full` with its certificate as the root and `require`
    /// connect; `verify-full` with another root is refused, and so is `disable` (the server has no entry for
    /// a connection without TLS), so the first two really went through TLS.
    @Test func tls_verifyFullAndRequire_connect_anotherRootAndNoTLSAreRefused() throws {
        let cluster = try PostgresCluster(tls: true)
        try cluster.psql("CREATE DATABASE t_tls OWNER \(PostgresCluster.role)")
        let password = try PostgresPassword.load(file: cluster.passwordFile)
        let directory = TemporaryDirectory()
        let key = SecretsKey.random(path: directory.path + "/secrets.key")
        let otherRoot = directory.path + "/other-root.crt"
        try PostgresCluster.makeSelfSignedCertificate(key: directory.path + "/other-root.key", certificate: otherRoot)
        func open(_ mode: String, root: String?) throws -> PostgresAccountStore {
            let url = cluster.tlsURL(database: "t_tls", mode: mode, rootCertificate: root)
            return try PostgresAccountStore(
                location: try PostgresLocation(url: url),
                password: password,
                secretsKey: key
            )
        }
        let verified = try open("verify-full", root: cluster.certificateFile)
        try verified.create(makeAccount("alice"))
        verified.close()
        let required = try open("require", root: nil)
        #expect(try required.account(named: accountName("alice"))?.name == accountName("alice"))
        required.close()
        for (mode, root) in [("verify-full", otherRoot), ("disable", nil)] {
            guard case .storageFailure(let message) = storeError({ _ = try open(mode, root: root) }) else {
                Issue.record("sslmode=\(mode) with root \(root ?? "none") connected")
                continue
            }
            #expect(!message.contains(PostgresCluster.rolePassword))
        }
    }

    @Test func migrations_recordTheirVersion_andADatabaseFromANewerBinaryIsRefused() throws {
        let fixture = try BackendFixture(.postgresql)
        let database = try PostgresLocation(url: fixture.url!).database
        do {
            let store = try fixture.open() as! PostgresAccountStore
            #expect(try store.databaseSchemaVersion() == PostgresAccountStore.schemaVersion)
        }
        // Opening again applies nothing twice.
        _ = try fixture.open()
        let rows = try fixture.cluster!.psql("SELECT count(*) FROM schema_migrations", database: database)
        #expect(rows.trimmingCharacters(in: .whitespacesAndNewlines) == "\(PostgresAccountStore.schemaVersion)")
        try fixture.cluster!.psql(
            "INSERT INTO schema_migrations (version, description) VALUES (99, 'from the future')",
            database: database
        )
        guard case .storageFailure(let message) = storeError({ try fixture.open() }) else {
            Issue.record("a database with a newer schema was opened")
            return
        }
        #expect(message.contains("schema version 99") && message.contains("upgrade twofactord"))
    }

    /// A newer host migrated the shared schema while this store was open (here: a column renamed, version 99):
    /// a read and a write that meet what they do not know fail saying that the schema is newer and to upgrade
    /// twofactord on this host, not with PostgreSQL's bare "column does not exist".
    @Test func schemaMigratedByANewerHostWhileOpen_requestsFailSayingToUpgradeThisHost() throws {
        let fixture = try BackendFixture(.postgresql)
        let database = try databaseName(of: fixture.url!)
        let store = try fixture.open()
        let alice = accountName("alice")
        try store.create(makeAccount("alice"))
        try fixture.cluster!.psql(
            """
            ALTER TABLE accounts RENAME COLUMN record TO record_v99;
            INSERT INTO schema_migrations (version, description) VALUES (99, 'from the future');
            """,
            database: database
        )
        let read = storeError { _ = try store.account(named: alice) }
        let write = storeError { try store.recordAcceptedStep(50, for: alice, credential: enrolledCredential, at: 1) }
        for (what, error) in [("read", read), ("write", write)] {
            guard case .storageFailure(let message) = error else {
                Issue.record("a \(what) on a newer schema did not fail: \(String(describing: error))")
                continue
            }
            #expect(
                message.contains("schema version 99") && message.contains("upgrade twofactord on this host"),
                "\(what): \(message)"
            )
        }
    }

    /// `--check` opens the store read-only and changes nothing: a database without the schema, or with an older
    /// one, is reported with what a daemon would do and left as it was; a newer one and another key are refused;
    /// the current one is read, on connections that cannot write.
    @Test func readOnlyOpen_migratesNothing_andSaysWhatItFound() throws {
        let fixture = try BackendFixture(.postgresql)
        let cluster = try #require(fixture.cluster)
        let database = try PostgresLocation(url: fixture.url!).database
        func tables() throws -> [String] {
            try cluster.psql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
                database: database
            ).split(whereSeparator: \.isNewline).map(String.init)
        }
        guard case .storageFailure(let empty) = storeError({ try fixture.open(readOnly: true) }) else {
            Issue.record("a read-only open of an empty database succeeded")
            return
        }
        #expect(empty.contains("no twofactord schema yet") && empty.contains("nothing was changed"), "\(empty)")
        #expect(try tables() == [], "a read-only open created tables")

        _ = try fixture.open()
        try cluster.psql("DROP TABLE audit_counts; DELETE FROM schema_migrations WHERE version = 2", database: database)
        let versionOne = try tables()
        guard case .storageFailure(let older) = storeError({ try fixture.open(readOnly: true) }) else {
            Issue.record("a read-only open of a database of version 1 succeeded")
            return
        }
        #expect(older.contains("schema version 1, older") && older.contains(Migrations.all[1].description), "\(older)")
        #expect(try tables() == versionOne, "a read-only open migrated")

        _ = try fixture.open()
        let store = try fixture.open(readOnly: true) as! PostgresAccountStore
        #expect(try store.databaseSchemaVersion() == PostgresAccountStore.schemaVersion)
        #expect(storeError { try store.create(makeAccount("alice")) } != nil, "a read-only store wrote")
        let otherKey = SecretsKey.random(path: fixture.directory.path + "/other.key")
        #expect(storeError { try fixture.open(key: otherKey, readOnly: true) } != nil)
        try cluster.psql(
            "INSERT INTO schema_migrations (version, description) VALUES (99, 'from the future')",
            database: database
        )
        guard case .storageFailure(let newer) = storeError({ try fixture.open(readOnly: true) }) else {
            Issue.record("a read-only open of a newer schema succeeded")
            return
        }
        #expect(newer.contains("schema version 99") && newer.contains("upgrade twofactord"), "\(newer)")
    }

    /// Migration 2 counts the audit trail a database of version 1 already holds, organization by organization.
    @Test func migrationTwo_countsEachOrganizationsAuditRecords() throws {
        let fixture = try BackendFixture(.postgresql)
        let database = try PostgresLocation(url: fixture.url!).database
        let retention = AuditRetention(maximumRecords: 3, maximumAge: 1_000_000)
        let north = try OrganizationName("north")
        do {
            let store = try fixture.open(retention: retention)
            for (time, organization) in [(1, north), (2, nil), (3, north), (4, north), (5, nil)]
                as [(UnixTime, OrganizationName?)]
            {
                try store.appendAudit(
                    AuditRecord(
                        time: time,
                        actor: .system,
                        target: nil,
                        organization: organization,
                        action: .unlock,
                        outcome: .ok
                    )
                )
            }
        }
        try fixture.cluster!.psql(
            "DROP TABLE audit_counts; DELETE FROM schema_migrations WHERE version = 2",
            database: database
        )
        let store = try fixture.open(retention: retention)
        let counts = try fixture.cluster!.psql(
            "SELECT organization || '=' || sum(records) FROM audit_counts GROUP BY organization ORDER BY organization",
            database: database
        )
        #expect(
            counts.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) } == [
                "=2", "north=3",
            ]
        )
        // North is full: its next record drops its oldest.
        try store.appendAudit(
            AuditRecord(time: 6, actor: .system, target: nil, organization: north, action: .unlock, outcome: .ok)
        )
        let kept = try store.auditRecords(matching: AuditFilter(organization: north), before: nil, limit: 9)
        #expect(kept.map(\.time) == [6, 4, 3])
    }

    /// What is old enough to prune is decided by the server's clock as well as the host's: a host whose clock is
    /// a month ahead must not prune the throttle rows and audit records another host wrote just now (forgotten
    /// failures would allow more guesses), and still prunes what is old by both clocks.
    @Test func pruning_byAHostWhoseClockIsFarAhead_keepsWhatAnotherHostWroteNow() throws {
        let fixture = try BackendFixture(.postgresql)
        let retention = AuditRetention(maximumRecords: 1_000, maximumAge: 86_400)
        let onTime = try fixture.open(retention: retention) as! PostgresAccountStore
        let ahead = try fixture.open(retention: retention)
        let now = UnixTime(time(nil))
        let future = now + 30 * 86_400
        func audit(at time: UnixTime) -> AuditRecord {
            AuditRecord(time: time, actor: .system, target: nil, organization: nil, action: .login, outcome: .ok)
        }
        let recent = ThrottleKey(subject: "mallory", origin: .host("192.0.2.7"))
        let old = ThrottleKey(subject: "eve", origin: .host("192.0.2.8"))
        _ = try onTime.reserveAttempt(recent, at: now) { _, _ in .allowed }
        _ = try onTime.reserveAttempt(old, at: now - 3 * 86_400) { _, _ in .allowed }
        try onTime.appendAudit(audit(at: now))

        for uid in UInt32(0)..<16 {
            _ = try ahead.reserveAttempt(ThrottleKey(subject: "somebody", origin: .peer(uid: uid)), at: future) {
                _,
                _ in
                .allowed
            }
            try ahead.appendAudit(audit(at: future))
        }
        #expect(try onTime.throttleRecord(recent) == ThrottleRecord(failures: 1, lastFailureAt: now))
        #expect(try onTime.throttleRecord(old) == ThrottleRecord(), "a row old by both clocks was kept")
        let times = try onTime.auditRecords(matching: AuditFilter(), before: nil, limit: 100).map(\.time)
        #expect(times.count == 17 && times.last == now, "\(times.count) records, the oldest at \(times.last ?? 0)")
    }

    /// A code check's transaction takes the step, or the success, and the clear on the account the throttle
    /// decision of a privileged origin locked: one round trip for the account, not three.
    @Test func checkAttempt_fromAPrivilegedOrigin_locksTheAccountRowOnce() throws {
        let fixture = try BackendFixture(.postgresql)
        let store = try fixture.open() as! PostgresAccountStore
        let alice = accountName("alice")
        try store.create(makeAccount("alice"))
        let key = ThrottleKey(subject: "alice", origin: .host("192.0.2.7"))
        func check(_ claim: AttemptClaim, at time: UnixTime) throws -> (AttemptVerdict, counted: Int) {
            try checkAttempt(claim, under: key, at: time, on: store) { store.accountRowsLocked }
        }
        let step = stepClaim(100, of: alice)

        #expect(try check(.failed, at: 2_000) == (.denied, 1))
        #expect(try store.account(named: alice)?.failureCount == 1)
        #expect(try check(step, at: 2_001) == (.accepted, 1))
        #expect(try check(step, at: 2_001) == (.denied, 1))
        #expect(try check(passedClaim(alice), at: 2_002) == (.accepted, 1))
        let account = try #require(try store.account(named: alice))
        #expect(account.lastAcceptedStep == 100 && account.failureCount == 0 && account.lastLoginAt == 2_002)
        // A peer's key locks no account for its decision: the step's write locks it once.
        let peer = ThrottleKey(subject: "alice", origin: .peer(uid: 1000))
        let later = try checkAttempt(stepClaim(101, of: alice), under: peer, at: 2_003, on: store) {
            store.accountRowsLocked
        }
        #expect(later == (.accepted, 1))
    }

    /// Every transaction takes its row locks in one order (Transactions.swift), so logins recorded through one
    /// daemon and attempts checked through another, on one account and one key at once, never deadlock. The
    /// server looks for deadlocks after deadlock_timeout (a second by default): 10 ms here, so that a deadlock
    /// costs little and many would show in a run this long.
    @Test func recordLoginAndCheckAttempt_onOneAccountThroughTwoStores_neverDeadlock() throws {
        let fixture = try BackendFixture(.postgresql)
        let database = try PostgresLocation(url: fixture.url!).database
        try fixture.cluster!.psql("ALTER DATABASE \(database) SET deadlock_timeout = '10ms'")
        let stores = [try fixture.open() as! PostgresAccountStore, try fixture.open() as! PostgresAccountStore]
        let alice = accountName("alice")
        try stores[0].create(makeAccount("alice"))
        let key = ThrottleKey(subject: "alice", origin: .host("192.0.2.7"))
        let failures = Mutex<[String]>([])
        onThreads(4) { thread in
            let store = stores[thread % 2]
            for round in 0..<300 {
                let time = UnixTime(10_000 + round)
                do {
                    if thread < 2 {
                        _ = try store.recordLogin(
                            of: alice,
                            claiming: nil,
                            alongside: nil,
                            at: time,
                            clearing: key,
                            audit: nil
                        )
                    } else {
                        _ = try store.checkAttempt(
                            key,
                            claiming: round.isMultiple(of: 3) ? passedClaim(alice) : .failed,
                            alongside: nil,
                            at: time,
                            decide: { _, _ in .allowed },
                            audit: AttemptAudit(accepted: nil, denied: .none)
                        )
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(stores.map(\.deadlocksRetried) == [0, 0])
    }

    /// Appends that drop the trail's old records at once, through two daemons, never deadlock, and every part's
    /// count stays its number of records. The trail is 3,000 records past the age limit, each append dropping
    /// up to 8 of them, so the appends keep colliding on the oldest records and on the counts' rows.
    @Test func auditAppends_droppingOldRecordsAtOnceThroughTwoStores_neverDeadlock_andKeepTheCounts() throws {
        let fixture = try BackendFixture(.postgresql)
        let cluster = try #require(fixture.cluster)
        let database = try PostgresLocation(url: fixture.url!).database
        try cluster.psql("ALTER DATABASE \(database) SET deadlock_timeout = '10ms'")
        let retention = AuditRetention(maximumRecords: 100_000, maximumAge: 100)
        let stores = [
            try fixture.open(retention: retention) as! PostgresAccountStore,
            try fixture.open(retention: retention) as! PostgresAccountStore,
        ]
        let north = try OrganizationName("north")
        @Sendable func record(at time: UnixTime, of organization: OrganizationName?) -> AuditRecord {
            AuditRecord(
                time: time,
                actor: .system,
                target: nil,
                organization: organization,
                action: .login,
                outcome: .ok
            )
        }
        try stores[0].appendAudit(record(at: 1, of: north))
        try stores[0].appendAudit(record(at: 1, of: nil))
        try cluster.psql(
            """
            INSERT INTO audit (time, target, organization, record)
            SELECT time, target, organization, record FROM audit, generate_series(1, 1500);
            DELETE FROM audit_counts;
            INSERT INTO audit_counts (organization, shard, records)
            SELECT coalesce(organization, ''), (sequence % 16)::smallint, count(*) FROM audit GROUP BY 1, 2
            """,
            database: database
        )
        let failures = Mutex<[String]>([])
        onThreads(4) { thread in
            for round in 0..<150 {
                do {
                    try stores[thread % 2].appendAudit(record(at: 1_000, of: round.isMultiple(of: 2) ? north : nil))
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(stores.map(\.deadlocksRetried) == [0, 0])
        let mismatched = try cluster.psql(
            """
            SELECT count(*) FROM (SELECT coalesce(organization, '') AS part, count(*) AS records FROM audit GROUP BY 1) a
            FULL JOIN (SELECT organization AS part, sum(records) AS records FROM audit_counts GROUP BY 1) c USING (part)
            WHERE a.records IS DISTINCT FROM c.records AND coalesce(c.records, 0) <> coalesce(a.records, 0)
            """,
            database: database
        )
        #expect(mismatched.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "a part's count drifted")
        // Appends that found the oldest records held dropped the next ones: the old records went (all of them in
        // the runs seen; half is asked, so that a slow machine does not fail it).
        let old = try cluster.psql("SELECT count(*) FROM audit WHERE time = 1", database: database)
        #expect(Int(old.trimmingCharacters(in: .whitespacesAndNewlines)).map { $0 <= 1_500 } == true, "\(old)")
    }

    /// What a code check reads before its transaction, the account and its organization's rules, is one round
    /// trip.
    @Test func accountForCodeCheckWithOrganization_isOneStatement() throws {
        let fixture = try BackendFixture(.postgresql)
        let store = try fixture.open() as! PostgresAccountStore
        var acme = Organization(name: try OrganizationName("acme"), requiresTwoFactor: true, createdAt: 1, updatedAt: 1)
        acme.gracePeriod = 60
        try store.createOrganization(acme)
        var alice = makeAccount("alice")
        alice.organization = acme.name
        try store.create(alice)
        let before = store.statementsSent
        let read = try #require(try store.accountForCodeCheckWithOrganization(named: alice.name))
        #expect(store.statementsSent - before == 1)
        #expect(read.account == alice.forCodeCheck && read.organization == acme)
    }

    /// A code check's transaction, counted: BEGIN, the throttle row, the account locked, its update, the throttle
    /// cleared, COMMIT (an audit record would be one more). Directly on the server the connection's startup
    /// parameters hold: no statement sets the timeouts again.
    @Test func codeCheck_isOneTransactionOfSixStatements() throws {
        let fixture = try BackendFixture(.postgresql)
        let store = try fixture.open() as! PostgresAccountStore
        let counted = try statementsOfAnAcceptedCodeCheck(on: store)
        #expect(counted == (.accepted, 6))
    }

    @Test func daemonsStartingTogether_migrateOnce() throws {
        let fixture = try BackendFixture(.postgresql)
        let failures = Mutex<[String]>([])
        onThreads(6) { _ in
            do { _ = try fixture.open() } catch { failures.withLock { $0.append("\(error)") } }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(try fixture.open().organization(named: .default) != nil)
    }

    @Test func statementPastTheTimeout_failsClosed_andChangesNothing() throws {
        let fixture = try BackendFixture(.postgresql)
        let holder = try fixture.open() as! PostgresAccountStore
        let store = try fixture.open(statementTimeoutMilliseconds: 300)
        let alice = accountName("alice")
        try store.create(makeAccount("alice"))
        let locked = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        // Another daemon holds alice's row inside a transaction, as a stalled login would.
        let thread = startThread {
            _ = try? holder.update(alice) { _ in
                locked.signal()
                release.wait()
            }
        }
        locked.wait()
        let error = storeError { try store.recordAcceptedStep(50, for: alice, credential: enrolledCredential, at: 1) }
        release.signal()
        pthread_join(thread, nil)
        guard case .storageFailure(let message) = error else {
            Issue.record("a statement past its timeout did not fail: \(String(describing: error))")
            return
        }
        #expect(message.contains("statement_timeout"))
        #expect(try store.account(named: alice)?.lastAcceptedStep == nil)
        #expect(try store.recordAcceptedStep(50, for: alice, credential: enrolledCredential, at: 1) == .accepted)
    }

    /// A COMMIT the server does not confirm leaves the change in doubt. Here a deferred trigger holds COMMIT
    /// until the backend is terminated (57P01, as a server shutdown or an operator's pg_terminate_backend does):
    /// the write fails, is not run again, and its error says the change may or may not have been made.
    @Test func commitKilledByAnAdministrator_failsSayingTheChangeMayOrMayNotHaveBeenMade() throws {
        let fixture = try BackendFixture(.postgresql)
        let database = try databaseName(of: fixture.url!)
        let store = try fixture.open(statementTimeoutMilliseconds: 60_000)
        let alice = accountName("alice")
        try store.create(makeAccount("alice"))
        try fixture.cluster!.psql(
            """
            CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$;
            CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON accounts DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION slow_commit();
            """,
            database: database
        )
        let killer = startThread {
            let waiting =
                "SELECT pid FROM pg_stat_activity WHERE datname = '\(database)' AND state = 'active' AND query = 'COMMIT'"
            for _ in 0..<2_000 {
                guard let pid = try? fixture.cluster!.psql(waiting).trimmingCharacters(in: .whitespacesAndNewlines),
                    !pid.isEmpty
                else {
                    usleep(10_000)
                    continue
                }
                _ = try? fixture.cluster!.psql("SELECT pg_terminate_backend(\(pid), 10000)")
                return
            }
        }
        let error = storeError { try store.recordAcceptedStep(50, for: alice, credential: enrolledCredential, at: 1) }
        pthread_join(killer, nil)
        guard case .storageFailure(let message) = error else {
            Issue.record("a COMMIT that was killed did not fail: \(String(describing: error))")
            return
        }
        #expect(message.contains("COMMIT") && message.contains("may or may not have been made"), "\(message)")
        try fixture.cluster!.psql("DROP TRIGGER slow_commit ON accounts", database: database)
        // Here the server rolled it back; the store did not run it again.
        #expect(try store.recordAcceptedStep(50, for: alice, credential: enrolledCredential, at: 2) == .accepted)
    }

    /// A server that takes no writes (a hot standby the URL points at after a failover, or
    /// default_transaction_read_only): the error says so and what to do, and the store opens once it takes writes.
    @Test func readOnlyServer_isRefusedSayingWhatToDo_andNothingChanges() throws {
        let fixture = try BackendFixture(.postgresql)
        let database = try databaseName(of: fixture.url!)
        try fixture.cluster!.psql("ALTER DATABASE \(database) SET default_transaction_read_only = on")
        guard case .storageFailure(let message) = storeError({ try fixture.open() }) else {
            Issue.record("a store opened on a database that takes no writes")
            return
        }
        #expect(message.contains("takes no writes") && message.contains("primary"), "\(message)")
        #expect(message.contains("nothing was changed"), "\(message)")
        let tables = try fixture.cluster!.psql(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            database: database
        )
        #expect(tables.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
        try fixture.cluster!.psql("ALTER DATABASE \(database) RESET default_transaction_read_only")
        try fixture.open().create(makeAccount("alice"))
    }

    /// PgBouncer in transaction mode drops the connections' startup parameters (docs/fleet.md has it ignore them),
    /// and a later transaction may run on another server connection than the one the store asked about. Here the
    /// role carries the very values the store asks for, so the server connection it asks shows them, but not as
    /// the client's: every transaction still sets its timeouts itself (one statement more, and a statement past the
    /// timeout is cancelled), and a read-only store reads in read-only transactions.
    @Test func behindPgBouncer_everyTransactionSetsItsTimeouts() throws {
        let cluster = try PostgresCluster()
        try cluster.startBouncer()
        let url = try cluster.makeDatabase()
        let database = try databaseName(of: url)
        for (name, value) in [("statement_timeout", 300), ("idle_in_transaction_session_timeout", 10_000)] {
            try cluster.psql("ALTER ROLE \(PostgresCluster.role) IN DATABASE \(database) SET \(name) = \(value)")
        }
        var location = try PostgresLocation(url: cluster.throughBouncer(url))
        location.statementTimeoutMilliseconds = 300
        let secretsKey = SecretsKey.random(path: "/nonexistent/test.key")
        let store = try PostgresAccountStore(
            location: location,
            password: PostgresPassword.load(file: cluster.passwordFile),
            secretsKey: secretsKey
        )
        defer { store.close() }
        let counted = try statementsOfAnAcceptedCodeCheck(on: store)
        #expect(counted == (.accepted, 7))

        let error = storeError { try store.write { transaction in try transaction.execute("SELECT pg_sleep(2)") } }
        guard case .storageFailure(let message) = error else {
            Issue.record("a statement past the store's statement_timeout ran to its end: \(String(describing: error))")
            return
        }
        #expect(message.contains("statement_timeout"), "\(message)")

        // `--check`'s store: read-only, which was a startup parameter too.
        let checking = try PostgresAccountStore(
            location: location,
            password: PostgresPassword.load(file: cluster.passwordFile),
            secretsKey: secretsKey,
            readOnly: true
        )
        defer { checking.close() }
        let write = storeError {
            try checking.write { transaction in try transaction.execute("CREATE TABLE t (x int)") }
        }
        guard case .storageFailure(let refusal) = write else {
            Issue.record("a read-only store wrote through PgBouncer: \(String(describing: write))")
            return
        }
        #expect(refusal.contains("25006"), "\(refusal)")
        let read = storeError { try checking.read { transaction in try transaction.execute("CREATE TABLE u (x int)") } }
        guard case .storageFailure(let readRefusal) = read else {
            Issue.record("a read-only store's read wrote through PgBouncer: \(String(describing: read))")
            return
        }
        #expect(readRefusal.contains("25006"), "\(readRefusal)")
    }

    /// A server that will not show its settings (`pg_settings` revoked) proves nothing: the store still opens, and
    /// every transaction sets its parameters itself.
    @Test func settingsTheServerWillNotShow_countAsDropped() throws {
        let cluster = try PostgresCluster()
        let url = try cluster.makeDatabase()
        let database = try databaseName(of: url)
        try cluster.psql("REVOKE SELECT ON pg_catalog.pg_settings FROM PUBLIC", database: database)
        let store = try PostgresAccountStore(
            location: PostgresLocation(url: url),
            password: PostgresPassword.load(file: cluster.passwordFile),
            secretsKey: SecretsKey.random(path: "/nonexistent/test.key")
        )
        defer { store.close() }
        let counted = try statementsOfAnAcceptedCodeCheck(on: store)
        #expect(counted == (.accepted, 7))
    }

    /// PgBouncer refuses a client that sends a startup parameter it was not told to ignore: the error says which
    /// setting of pgbouncer.ini the store needs.
    @Test func behindPgBouncerNotIgnoringTheStartupParameters_theErrorSaysWhatToSet() throws {
        let cluster = try PostgresCluster()
        try cluster.startBouncer(ignoringStartupParameters: false)
        let location = try PostgresLocation(url: cluster.throughBouncer(try cluster.makeDatabase()))
        let error = storeError {
            _ = try PostgresAccountStore(
                location: location,
                password: PostgresPassword.load(file: cluster.passwordFile),
                secretsKey: SecretsKey.random(path: "/nonexistent/test.key")
            )
        }
        guard case .storageFailure(let message) = error else {
            Issue.record("a store opened through a bouncer that refuses its parameters: \(String(describing: error))")
            return
        }
        #expect(message.contains("ignore_startup_parameters = statement_timeout,"), "\(message)")
    }

    /// A server that stops answering without closing the connection (SIGSTOP): statement_timeout cannot
    /// fire, so the client's own deadline must fail the call, closed, instead of hanging a worker for ever.
    @Test func serverThatStopsAnswering_failsClosedAtTheDeadline() throws {
        let cluster = try PostgresCluster()
        var location = try PostgresLocation(url: try cluster.makeDatabase())
        location.statementTimeoutMilliseconds = 200
        let store = try PostgresAccountStore(
            location: location,
            password: PostgresPassword.load(file: cluster.passwordFile),
            secretsKey: SecretsKey.random(path: "/nonexistent/test.key")
        )
        let alice = accountName("alice")
        try store.create(makeAccount("alice"))
        try cluster.signalServer(SIGSTOP)
        let error = storeError { try store.recordAcceptedStep(7, for: alice, credential: enrolledCredential, at: 1) }
        try cluster.signalServer(SIGCONT)
        guard case .storageFailure(let message) = error else {
            Issue.record("a frozen server's answer was not refused: \(String(describing: error))")
            return
        }
        #expect(message.contains("no answer") && message.contains("may or may not"), "\(message)")
        #expect(try store.recordAcceptedStep(7, for: alice, credential: enrolledCredential, at: 2) == .accepted)
        store.close()
    }

    /// Needs a cluster of its own: stopping the shared one would fail every other test running meanwhile.
    @Test func serverDown_failsClosed_thenTheStoreReconnectsByItself_andSaysSo() throws {
        let cluster = try PostgresCluster()
        let url = try cluster.makeDatabase()
        let log = CapturedLog()
        let store = try PostgresAccountStore(
            location: PostgresLocation(url: url),
            password: PostgresPassword.load(file: cluster.passwordFile),
            secretsKey: SecretsKey.random(path: "/nonexistent/test.key"),
            logger: log.logger
        )
        let alice = accountName("alice")
        try store.create(makeAccount("alice"))
        #expect(try store.recordAcceptedStep(10, for: alice, credential: enrolledCredential, at: 1) == .accepted)

        cluster.stop(immediate: false)
        let error = storeError { try store.recordAcceptedStep(11, for: alice, credential: enrolledCredential, at: 1) }
        guard case .storageFailure(let message) = error else {
            Issue.record("a step was answered with the server down: \(String(describing: error))")
            return
        }
        #expect(message.contains(url), "the message names the store: \(message)")
        #expect(message.contains("reconnect") || message.contains("running"), "the message says what to do: \(message)")
        #expect(!message.contains(PostgresCluster.rolePassword))
        #expect(log.lines.contains { $0.contains("PostgreSQL") && $0.hasPrefix("error") }, "\(log.lines)")

        try cluster.start()
        #expect(try store.recordAcceptedStep(11, for: alice, credential: enrolledCredential, at: 2) == .accepted)
        #expect(try store.recordAcceptedStep(11, for: alice, credential: enrolledCredential, at: 2) == .replayed)
        #expect(log.lines.contains { $0.contains("reconnected to PostgreSQL") }, "\(log.lines)")
        store.close()
    }
}

@Suite struct StoreCopyTests {
    @Test func copy_lmdbToPostgresqlAndBack_keepsAccountsOrganizationsAuditAndReplaySteps() throws {
        let first = try BackendFixture(.lmdb)
        let middle = try BackendFixture(.postgresql)
        let last = try BackendFixture(.lmdb)
        let alice = accountName("alice")
        do {
            let store = try first.open()
            try store.addOrganizationsNamed("ops")
            try store.updateOrganization(try OrganizationName("ops"), { $0.requiresTwoFactor = true }) { _ in false }
            try store.create(makeAccount("alice", organization: "ops"))
            try store.create(makeAccount("bob"))
            #expect(try store.recordAcceptedStep(4_242, for: alice, credential: enrolledCredential, at: 9) == .accepted)
            for time in UnixTime(1)...3 {
                try store.appendAudit(
                    AuditRecord(
                        time: time,
                        actor: .system,
                        target: alice,
                        organization: nil,
                        action: .login,
                        outcome: .ok
                    )
                )
            }
            let counts = try StoreCopy.copy(from: store, to: try middle.open(key: middle.key))
            #expect(counts == StoreCopy.Counts(organizations: 2, accounts: 2, auditRecords: 3))
        }
        do {
            let store = try middle.open()
            // Another key: the copy was opened by the source and sealed again by the target.
            let counts = try StoreCopy.copy(from: store, to: try last.open())
            #expect(counts.accounts == 2)
            // A copy never merges into a store that has accounts.
            guard case .storageFailure = storeError({ try StoreCopy.copy(from: store, to: try first.open()) }) else {
                Issue.record("a copy into a store with accounts was not refused")
                return
            }
        }
        let store = try last.open()
        #expect(try store.account(named: alice) == (try first.open()).account(named: alice))
        #expect(try store.organization(named: OrganizationName("ops"))?.requiresTwoFactor == true)
        #expect(try store.auditRecords(matching: AuditFilter(), before: nil, limit: 10).map(\.time) == [3, 2, 1])
        #expect(try store.recordAcceptedStep(4_242, for: alice, credential: enrolledCredential, at: 10) == .replayed)
        #expect(try store.recordAcceptedStep(4_243, for: alice, credential: enrolledCredential, at: 10) == .accepted)
    }
}

/// The statements a code check's transaction sends, accepted for a new account `alice` of `store`.
private func statementsOfAnAcceptedCodeCheck(on store: PostgresAccountStore) throws -> (AttemptVerdict, counted: Int) {
    let alice = accountName("alice")
    try store.create(makeAccount("alice"))
    let key = ThrottleKey(subject: "alice", origin: .host("192.0.2.7"))
    return try checkAttempt(stepClaim(100, of: alice), under: key, at: 2_000, on: store) { store.statementsSent }
}

/// The database of a `PostgresCluster.makeDatabase()` URL.
private func databaseName(of url: String) throws -> String {
    String(try #require(url.components(separatedBy: "@/").last?.split(separator: "?").first))
}
