import AccountStore
import LMDB
import OpenSSLCrypto

/// TOTP secrets at rest. The MUSTs:
/// - every TOTP secret (enrolled and pending) and every recovery-code hash is written to LMDB only sealed with AES-256-GCM under the
///   store's `SecretsKey`, and is unsealed only when read back: `AccountRecord` sees sealed bytes in
///   `TOTPCredential.secret` and knows nothing of the sealing;
/// - the associated data binds the account name and the field, so a sealed secret copied into another
///   account's record, or from `pending` to `totp`, does not open;
/// - `meta/secrets-key-check` holds a sealed constant, so a wrong key is refused when the store opens,
///   with a message naming the key file, instead of failing record by record;
/// - a store written before sealing (no key check, plaintext secrets) is sealed in place, in the same
///   write transaction that writes the key check.
/// Sealed secret: `u8 version (1) || AES256GCM box`.
extension LMDBAccountStore {
    static let secretsKeyCheckKey = Array("secrets-key-check".utf8)
    static let sealedSecretVersion: UInt8 = 1
    private static let keyCheckPlaintext = Array("twofactord secrets key check".utf8)

    private enum Field: String {
        case totp
        case pending
        case recovery
    }

    private static func associatedData(_ field: Field, _ name: AccountName) -> [UInt8] {
        Array("twofactord/\(field.rawValue)/".utf8) + Array(name.value.utf8)
    }

    /// The record bytes of `account`, with its secrets sealed.
    func encode(_ account: Account) throws(AccountStoreError) -> [UInt8] {
        AccountRecord.encode(try Self.sealed(account, with: secretsKey))
    }

    /// Decodes a record, checking that it is stored under its own name, and unseals its secrets.
    func decode(_ bytes: [UInt8], key: [UInt8]) throws(AccountStoreError) -> Account {
        let recordKey = "accounts/" + String(decoding: key, as: UTF8.self)
        guard let account = try? AccountRecord.decode(bytes), Array(account.name.value.utf8) == key,
            let opened = Self.unsealed(account, with: secretsKey)
        else {
            throw .corruptRecord(key: recordKey)
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
            let digest = account.recoveryCodes[index].digest
            account.recoveryCodes[index].digest = try seal(digest, associatedData(.recovery, account.name), key)
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
            guard let digest = open(account.recoveryCodes[index].digest, associatedData(.recovery, account.name), key)
            else { return nil }
            account.recoveryCodes[index].digest = digest
        }
        return account
    }

    private static func seal(
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

    private static func open(_ box: [UInt8], _ associatedData: [UInt8], _ key: SecretsKey) -> [UInt8]? {
        guard box.first == sealedSecretVersion else { return nil }
        return try? AES256GCM.open(Array(box.dropFirst()), key: key.bytes, associatedData: associatedData)
    }

    /// Checks `key` against the store's key check, or, for a new or never-sealed store, seals every
    /// plaintext secret and writes the check. Runs inside the write transaction that opens the store.
    static func checkSecretsKey(
        _ key: SecretsKey,
        in transaction: borrowing Transaction,
        meta: Database,
        accounts: Database
    ) throws {
        let checkAssociatedData = Array("twofactord/meta/".utf8) + secretsKeyCheckKey
        if let check = try transaction.get(secretsKeyCheckKey, in: meta) {
            guard open(check, checkAssociatedData, key) == keyCheckPlaintext else {
                throw AccountStoreError.storageFailure(
                    "the secrets key \(key.path) is not the key this database's secrets were sealed with: "
                        + "restore the key file that belongs to this state directory (see --secrets-key-file)"
                )
            }
            return
        }
        let plaintextRecords = try transaction.withCursor(in: accounts) {
            (cursor: borrowing Cursor) throws(LMDBError) -> [(key: [UInt8], value: [UInt8])] in
            var found: [(key: [UInt8], value: [UInt8])] = []
            var entry = try cursor.first()
            while let (key, value) = entry {
                found.append((key, value))
                entry = try cursor.next()
            }
            return found
        }
        for record in plaintextRecords {
            guard let account = try? AccountRecord.decode(record.value) else {
                throw AccountStoreError.corruptRecord(key: "accounts/" + String(decoding: record.key, as: UTF8.self))
            }
            try transaction.put(AccountRecord.encode(try sealed(account, with: key)), for: record.key, in: accounts)
        }
        try transaction.put(
            try seal(keyCheckPlaintext, checkAssociatedData, key),
            for: secretsKeyCheckKey,
            in: meta
        )
    }
}
