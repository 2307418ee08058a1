import AccountStore
import Foundation
import LMDBAccountStore
import Logging
import PostgresAccountStore
import StoredRecords
import Testing
import TestSupport

/// The backends the conformance suite runs against, unchanged.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case lmdb
    case postgresql

    var testDescription: String { rawValue }
}

/// One store of one backend: an LMDB state directory, or a database of its own on the shared test cluster.
/// Releasing the store and opening it again reads the same data (a restart of the daemon).
final class BackendFixture: @unchecked Sendable {
    let backend: Backend
    let directory = TemporaryDirectory()
    let key: SecretsKey
    /// The database's URL, for PostgreSQL.
    let url: String?
    let cluster: PostgresCluster?

    init(_ backend: Backend) throws {
        self.backend = backend
        key = SecretsKey.random(path: directory.path + "/secrets.key")
        switch backend {
        case .lmdb:
            url = nil
            cluster = nil
        case .postgresql:
            let cluster = try PostgresCluster.shared.get()
            self.cluster = cluster
            url = try cluster.makeDatabase()
        }
    }

    var stateDirectory: String { directory.path + "/state" }

    /// Opens the store; with LMDB, release the previous one first (one handle per process). `readOnly`: as
    /// `--check` opens it.
    func open(
        retention: AuditRetention = .standard,
        key: SecretsKey? = nil,
        statementTimeoutMilliseconds: Int64? = nil,
        readOnly: Bool = false,
        logger: Logger = Logger(label: "test")
    ) throws -> any AccountStore {
        let key = key ?? self.key
        switch backend {
        case .lmdb:
            return try LMDBAccountStore(
                directory: stateDirectory,
                initialMapSize: 1 << 20,
                auditRetention: retention,
                secretsKey: key,
                readOnly: readOnly
            )
        case .postgresql:
            var location = try PostgresLocation(url: url!)
            if let statementTimeoutMilliseconds { location.statementTimeoutMilliseconds = statementTimeoutMilliseconds }
            return try PostgresAccountStore(
                location: location,
                password: try PostgresPassword.load(file: cluster!.passwordFile),
                secretsKey: key,
                auditRetention: retention,
                readOnly: readOnly,
                logger: logger
            )
        }
    }

    /// Every byte the backend keeps at rest for the store: LMDB's data file, PostgreSQL's rows as stored
    /// (read back raw by the superuser, bypassing the store).
    func bytesAtRest() throws -> [UInt8] {
        switch backend {
        case .lmdb:
            return Array(try Data(contentsOf: URL(fileURLWithPath: stateDirectory + "/data.mdb")))
        case .postgresql:
            let database = try PostgresLocation(url: url!).database
            var bytes: [UInt8] = []
            for (table, column) in [
                ("accounts", "record"), ("organizations", "record"), ("meta", "value"), ("audit", "record"),
            ] {
                let hex = try cluster!.psql("SELECT encode(\(column), 'hex') FROM \(table)", database: database)
                    .replacingOccurrences(of: "\n", with: "")
                bytes += stride(from: 0, to: hex.count - 1, by: 2).compactMap { offset in
                    let start = hex.index(hex.startIndex, offsetBy: offset)
                    return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
                }
            }
            return bytes
        }
    }
}

/// Whether `needle` occurs in `haystack`.
func bytes(_ haystack: [UInt8], contain needle: [UInt8]) -> Bool {
    guard haystack.count >= needle.count, !needle.isEmpty else { return false }
    return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
}

extension AccountStore {
    func addOrganizationsNamed(_ names: String...) throws {
        for name in names {
            try createOrganization(Organization(name: try OrganizationName(name), createdAt: 1, updatedAt: 1))
        }
    }
}

/// A code check's one write (`checkAttempt`) of `claim` under `key`, the throttle allowing it and no audit
/// record kept, and how much `count` grew meanwhile: what the write read, by the store's own test count.
func checkAttempt(
    _ claim: AttemptClaim,
    under key: ThrottleKey,
    at time: UnixTime,
    on store: some AccountStore,
    counting count: () -> Int
) throws -> (AttemptVerdict, counted: Int) {
    let before = count()
    let verdict = try store.checkAttempt(
        key,
        claiming: claim,
        alongside: nil,
        at: time,
        decide: { _, _ in .allowed },
        audit: AttemptAudit(accepted: nil, denied: .none)
    )
    return (verdict, count() - before)
}

/// The claim of a code for `step` of the enrolled authenticator of `makeAccount`'s account `name`.
func stepClaim(_ step: UInt64, of name: AccountName) -> AttemptClaim {
    .step(
        StepClaim(step: step, authenticator: .enrolled, credential: enrolledCredential, drift: 0, offset: 0),
        of: name
    )
}

/// Runs `body` on `count` threads at once (real threads: the store blocks) and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let threads = (0..<count).map { index in startThread { body(index) } }
    for thread in threads { pthread_join(thread, nil) }
}
