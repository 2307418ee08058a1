import AccountStore
import Glibc
import LMDB
import OpenSSLCrypto

/// Secrets at rest: TOTP secrets and recovery-code digests. The MUSTs:
/// - every TOTP secret (enrolled and pending) and every recovery-code digest is written to LMDB only
///   sealed with AES-256-GCM under the store's `SecretsKey`. The store's API seals an account given to
///   `create`/`update` and opens every account it returns; `AccountRecord` sees sealed bytes in those
///   fields and knows nothing of the sealing, and internal paths that only change other fields (counters,
///   the replay step, organization moves, schema upgrades) pass the sealed bytes through untouched;
/// - the associated data binds the account name and the field, so a sealed secret copied into another
///   account's record, or from `pending` to `totp`, does not open;
/// - `meta/secrets-key-check` holds a sealed constant, so a wrong key is refused when the store opens,
///   with a message naming the key file, instead of failing record by record;
/// - a store written before sealing (no key check, plaintext secrets) is sealed in place, in the one
///   write transaction that writes the key check.
/// Sealed value: `u8 version (1) || AES256GCM box`.
extension LMDBAccountStore {
    static let secretsKeyCheckKey = Array("secrets-key-check".utf8)
    static let sealedSecretVersion: UInt8 = 1
    static let keyCheckPlaintext = Array("twofactord secrets key check".utf8)

    private enum Field: String {
        case totp
        case pending
        case recovery
    }

    private static func associatedData(_ field: Field, _ name: AccountName) -> [UInt8] {
        Array("twofactord/\(field.rawValue)/".utf8) + Array(name.value.utf8)
    }

    /// The file the store's secrets key came from.
    public var secretsKeyPath: String { secretsKey.path }

    /// The record bytes of `account`, with its secrets sealed.
    func sealedRecord(_ account: Account) throws(AccountStoreError) -> [UInt8] {
        AccountRecord.encode(try Self.sealed(account, with: secretsKey))
    }

    /// `account` as decoded from its record, with its secrets opened; a secret that does not open (damage,
    /// or a secret moved from another account) makes the record corrupt.
    func opened(_ account: Account) throws(AccountStoreError) -> Account {
        guard let opened = Self.unsealed(account, with: secretsKey) else {
            throw .corruptRecord(key: "accounts/" + account.name.value)
        }
        return opened
    }

    static func sealed(_ account: Account, with key: SecretsKey) throws(AccountStoreError) -> Account {
        var account = account
        if let secret = account.totp?.secret {
            account.totp?.secret = try seal(secret, associatedData(.totp, account.name), key)
        }
        if let secret = account.pendingEnrollment?.credential.secret {
            account.pendingEnrollment?.credential.secret = try seal(secret, associatedData(.pending, account.name), key)
        }
        for index in account.recoveryCodes.indices {
            account.recoveryCodes[index].digest = try seal(
                account.recoveryCodes[index].digest,
                associatedData(.recovery, account.name),
                key
            )
        }
        return account
    }

    /// The account with its secrets opened, or nil when one does not open (wrong key, wrong account, damage).
    static func unsealed(_ account: Account, with key: SecretsKey) -> Account? {
        var account = account
        if let box = account.totp?.secret {
            guard let secret = open(box, associatedData(.totp, account.name), key) else { return nil }
            account.totp?.secret = secret
        }
        if let box = account.pendingEnrollment?.credential.secret {
            guard let secret = open(box, associatedData(.pending, account.name), key) else { return nil }
            account.pendingEnrollment?.credential.secret = secret
        }
        for index in account.recoveryCodes.indices {
            let box = account.recoveryCodes[index].digest
            guard let digest = open(box, associatedData(.recovery, account.name), key) else { return nil }
            account.recoveryCodes[index].digest = digest
        }
        return account
    }

    static func seal(
        _ secret: [UInt8],
        _ associatedData: [UInt8],
        _ key: SecretsKey
    ) throws(AccountStoreError) -> [UInt8] {
        do {
            return [sealedSecretVersion] + (try AES256GCM.seal(secret, key: key.bytes, associatedData: associatedData))
        } catch {
            throw .storageFailure("cannot seal a secret: \(error): restart twofactord")
        }
    }

    static func open(_ box: [UInt8], _ associatedData: [UInt8], _ key: SecretsKey) -> [UInt8]? {
        guard box.first == sealedSecretVersion else { return nil }
        return try? AES256GCM.open(Array(box.dropFirst()), key: key.bytes, associatedData: associatedData)
    }

    /// Checks the store's key against the key check, or, for a new or never-sealed store, seals every
    /// plaintext secret and writes the check, in one write transaction.
    func checkSecretsKey() throws(AccountStoreError) {
        let key = secretsKey
        let meta = databases.meta
        let accounts = databases.accounts
        try write { transaction in
            let checkAssociatedData = Array("twofactord/meta/".utf8) + Self.secretsKeyCheckKey
            if let check = try transaction.get(Self.secretsKeyCheckKey, in: meta) {
                guard Self.open(check, checkAssociatedData, key) == Self.keyCheckPlaintext else {
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
                    AccountRecord.encode(try Self.sealed(account, with: key)),
                    for: recordKey,
                    in: accounts
                )
            }
            try transaction.put(
                try Self.seal(Self.keyCheckPlaintext, checkAssociatedData, key),
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
                guard let account = Self.unsealed(sealed, with: oldKey) else {
                    throw AccountStoreError.corruptRecord(key: "accounts/" + sealed.name.value)
                }
                try transaction.put(
                    AccountRecord.encode(try Self.sealed(account, with: newKey)),
                    for: recordKey,
                    in: accounts
                )
            }
            let checkAssociatedData = Array("twofactord/meta/".utf8) + Self.secretsKeyCheckKey
            try transaction.put(
                try Self.seal(Self.keyCheckPlaintext, checkAssociatedData, newKey),
                for: Self.secretsKeyCheckKey,
                in: meta
            )
            return entries.count
        }
    }
}
