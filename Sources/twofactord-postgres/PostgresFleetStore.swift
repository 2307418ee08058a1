import AccountStore
import Logging
import PostgresAccountStore
import StoredRecords
import TwofactordCommand

/// `PostgresAccountStore` as the daemon opens it.
enum PostgresFleetStore: FleetStore {
    static func open(
        url: String,
        passwordFile: String?,
        secretsKey: SecretsKey,
        auditRetention: AuditRetention,
        readOnly: Bool,
        logger: Logger
    ) throws -> any AccountStore {
        let location: PostgresLocation
        do {
            location = try PostgresLocation(url: url)
        } catch {
            throw AccountStoreError.storageFailure("--store: \(error)")
        }
        return try PostgresAccountStore(
            location: location,
            password: try PostgresPassword.load(file: passwordFile),
            secretsKey: secretsKey,
            auditRetention: auditRetention,
            readOnly: readOnly,
            logger: logger
        )
    }

    static func schemaVersion(of store: any AccountStore) throws -> Int {
        guard let store = store as? PostgresAccountStore else {
            throw AccountStoreError.storageFailure("not a PostgreSQL store")
        }
        return try store.databaseSchemaVersion()
    }
}
