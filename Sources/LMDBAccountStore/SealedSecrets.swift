import AccountStore
import Glibc
import LMDB
import StoredRecords

/// Secrets at rest in LMDB: `SecretSealing` seals and opens; this file applies it to records and keeps
/// `meta/secrets-key-check`. A store written before sealing (no key check, plaintext secrets) is sealed
/// in place, in the one write transaction that writes the key check.
extension LMDBAccountStore {
    static let secretsKeyCheckKey = Array("secrets-key-check".utf8)
    /// The file the store's secrets key came from.
    public var secretsKeyPath: String { secretsKey.path }

    /// The record bytes of `account`, with its secrets sealed.
    func sealedRecord(_ account: Account) throws(AccountStoreError) -> [UInt8] {
        AccountRecord.encode(try SecretSealing.sealed(account, with: secretsKey))
    }

    /// `account` as decoded from its record, with its secrets opened; a secret that does not open (damage,
    /// or a secret moved from another account) makes the record corrupt.
    func opened(_ account: Account) throws(AccountStoreError) -> Account {
        guard let opened = SecretSealing.unsealed(account, with: secretsKey) else {
            throw .corruptRecord(key: "accounts/" + account.name.value)
        }
        return opened
    }

    /// Checks the store's key against the key check, or, for a new or never-sealed store, seals every
    /// plaintext secret and writes the check, in one write transaction.
    func checkSecretsKey() throws(AccountStoreError) {
        let key = secretsKey
        let meta = databases.meta
        let accounts = databases.accounts
        try write { transaction in
            if let check = try transaction.get(Self.secretsKeyCheckKey, in: meta) {
                guard SecretSealing.isKeyCheck(check, of: key) else {
                    // A rotation interrupted between its commit and the rename leaves the new key beside the old.
                    let interrupted =
                        access(key.path + ".new", F_OK) == 0
                        ? " (an interrupted --rotate-key left \(key.path).new: if it is newer, move it to \(key.path))"
                        : ""
                    throw AccountStoreError.storageFailure(
                        "the secrets key \(key.path) is not the key this database's secrets were sealed with: "
                            + "restore the key file that belongs to this state directory (see --secrets-key-file)"
                            + interrupted
                    )
                }
                return
            }
            let plaintext = try Self.range(in: accounts, of: transaction, prefix: [], after: nil, limit: .max)
            for (recordKey, value) in plaintext {
                let account = try Self.decode(value, key: recordKey)
                try transaction.put(
                    AccountRecord.encode(try SecretSealing.sealed(account, with: key)),
                    for: recordKey,
                    in: accounts
                )
            }
            try transaction.put(
                try SecretSealing.keyCheck(with: key),
                for: Self.secretsKeyCheckKey,
                in: meta
            )
        }
    }
}

extension LMDBAccountStore {
    /// Re-seals every secret under `newKey` and rewrites the key check, in one write transaction: after it
    /// commits, only `newKey` opens the store. This store value keeps the old key, so the caller must not
    /// use it afterwards (twofactord --rotate-key exits). Returns how many accounts were re-sealed.
    public func rotateSecretsKey(to newKey: SecretsKey) throws(AccountStoreError) -> Int {
        let oldKey = secretsKey
        let meta = databases.meta
        let accounts = databases.accounts
        return try write { transaction in
            let entries = try Self.range(in: accounts, of: transaction, prefix: [], after: nil, limit: .max)
            for (recordKey, value) in entries {
                let sealed = try Self.decode(value, key: recordKey)
                guard let account = SecretSealing.unsealed(sealed, with: oldKey) else {
                    throw AccountStoreError.corruptRecord(key: "accounts/" + sealed.name.value)
                }
                try transaction.put(
                    AccountRecord.encode(try SecretSealing.sealed(account, with: newKey)),
                    for: recordKey,
                    in: accounts
                )
            }
            try transaction.put(
                try SecretSealing.keyCheck(with: newKey),
                for: Self.secretsKeyCheckKey,
                in: meta
            )
            return entries.count
        }
    }
}
