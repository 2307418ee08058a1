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
        openedRecords.add(1, ordering: .relaxed)
        guard let opened = keys.opening.lazy.compactMap({ SecretSealing.unsealed(account, with: $0) }).first else {
            throw .corruptRecord(key: "accounts/" + account.name.value)
        }
        return opened
    }

    /// One sealed authenticator credential of `name`, opened; one that does not open makes the record corrupt.
    func opened(
        _ credential: TOTPCredential,
        of name: AccountName,
        authenticator label: AuthenticatorLabel
    ) throws(AccountStoreError) -> TOTPCredential {
        let opened = keys.opening.lazy.compactMap {
            SecretSealing.opened(credential, of: name, authenticator: label, with: $0)
        }.first
        guard let opened else { throw .corruptRecord(key: "accounts/" + name.value) }
        return opened
    }

    /// Checks the store's key against the key check, or, for a new or never-sealed store, seals every
    /// plaintext secret and writes the check, in one write transaction. Read-only, a never-sealed store with
    /// accounts is refused instead: checking it would mean sealing it.
    func checkSecretsKey(readOnly: Bool) throws(AccountStoreError) {
        let key = secretsKey
        let meta = databases.meta
        let accounts = databases.accounts
        guard !readOnly else {
            try read { transaction in
                if let check = try transaction.get(Self.secretsKeyCheckKey, in: meta) {
                    try Self.refuseWrongKey(key, check: check)
                } else if try transaction.count(in: accounts) > 0 {
                    throw AccountStoreError.storageFailure(
                        "the secrets in \(directory) are not sealed yet: start twofactord once to seal them, "
                            + "then check again"
                    )
                }
            }
            return
        }
        try write { transaction in
            if let check = try transaction.get(Self.secretsKeyCheckKey, in: meta) {
                try Self.refuseWrongKey(key, check: check)
                return
            }
            let plaintext = try Self.range(in: accounts, of: transaction, prefix: [], after: nil, limit: .max)
            for (recordKey, value) in plaintext {
                let account = try decodeAccount(value, key: recordKey, in: transaction)
                try putRecord(
                    AccountRecord.encode(try SecretSealing.sealed(account, with: key)),
                    for: recordKey,
                    in: transaction
                )
            }
            try transaction.put(
                try SecretSealing.keyCheck(with: key),
                for: Self.secretsKeyCheckKey,
                in: meta
            )
        }
    }

    /// Throws when `key` is not the key that wrote the key check `check`.
    static func refuseWrongKey(_ key: SecretsKey, check: [UInt8]) throws(AccountStoreError) {
        guard !SecretSealing.isKeyCheck(check, of: key) else { return }
        let staged = stagedKeyPath(key.path)
        if isKey(at: staged, of: check) {
            throw .storageFailure(
                "the secrets in this database are sealed with the key in \(staged), not \(key.path): a key rotation "
                    + "committed but was stopped before it renamed \(staged) over \(key.path); finish it: "
                    + "mv \(staged) \(key.path), then start again"
            )
        }
        throw .storageFailure(
            "the secrets key \(key.path) is not the key this database's secrets were sealed with: "
                + "restore the key file that belongs to this state directory (see --secrets-key-file)"
        )
    }

    /// Where a rotation writes the new key before its commit, to rename it over `keyPath` after.
    static func stagedKeyPath(_ keyPath: String) -> String { keyPath + ".new" }

    /// Whether the file at `path` holds the key that wrote the key check `check`; false when it holds no key.
    static func isKey(at path: String, of check: [UInt8]) -> Bool {
        guard let key = try? SecretsKey.load(path: path, create: false) else { return false }
        return SecretSealing.isKeyCheck(check, of: key)
    }

    /// The error for a rotation that finds `KEY.new` already there, saying what it is left from.
    private func leftoverStagedKey(_ staged: String) throws(AccountStoreError) -> AccountStoreError {
        let meta = databases.meta
        let check = try read { transaction in try transaction.get(Self.secretsKeyCheckKey, in: meta) }
        if let check, Self.isKey(at: staged, of: check) {
            return .storageFailure(
                "the secrets are sealed with the key in \(staged), which an earlier rotation could not rename over "
                    + "\(secretsKey.path): mv \(staged) \(secretsKey.path), then rotate again"
            )
        }
        return .storageFailure(
            "\(staged) is left over from a key rotation that was stopped before it committed: this store's secrets "
                + "are sealed with \(secretsKey.path), not with it, so it is safe to remove: rm \(staged), then "
                + "rotate again"
        )
    }
}

extension LMDBAccountStore: StoreMaintenance {
    /// Re-seals every secret under a new random key and replaces the key file, while the store serves.
    ///
    /// The new key is written beside the old one first (`KEY.new`, created new, mode 0600), then every
    /// secret is re-sealed and the key check rewritten in one write transaction, then `KEY.new` is renamed
    /// over `KEY`: a crash at any point leaves a key file that opens the store (after a crash between the
    /// commit and the rename, the startup error says to move `KEY.new` over `KEY`; before the commit, the
    /// next rotation says `KEY.new` is safe to remove). The writer lock is held from the transaction until
    /// this store seals with the new key, so no write in between uses the old one; readers that began
    /// before the commit still open secrets with the old key.
    public func rotateSecretsKey() throws(AccountStoreError) -> KeyRotation {
        let path = secretsKey.path
        if let credentials = getenv("CREDENTIALS_DIRECTORY").map({ String(cString: $0) }), !credentials.isEmpty,
            path.hasPrefix(credentials + "/")
        {
            throw .storageFailure(
                "the secrets key \(path) is a systemd credential, which twofactord cannot replace: stop twofactord, "
                    + "run twofactord --rotate-key --secrets-key-file with a copy of it, and install the new key "
                    + "as the credential"
            )
        }
        let staged = Self.stagedKeyPath(path)
        var info = stat()
        if lstat(staged, &info) == 0 { throw try leftoverStagedKey(staged) }
        let newKey = SecretsKey.random(path: path)
        try SecretsKey.write(newKey, to: staged)
        let count: Int
        do throws(AccountStoreError) {
            count = try writerLock.withExclusive { () throws(AccountStoreError) -> Int in
                let count = try reseal(from: keys.opening, to: newKey)
                keys.replace(with: newKey)
                return count
            }
        } catch {
            unlink(staged)
            throw error
        }
        guard rename(staged, path) == 0 else {
            throw .storageFailure(
                "the secrets are now sealed under the key in \(staged), but it could not replace \(path) "
                    + "(\(FileText.systemMessage(errno))): move it there before twofactord restarts"
            )
        }
        let parent = open(String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]), O_RDONLY | O_DIRECTORY)
        if parent >= 0 {
            fsync(parent)
            close(parent)
        }
        return KeyRotation(accounts: count, keyFile: path)
    }

    /// In one write transaction: every account's secrets opened with one of `oldKeys` and sealed under
    /// `newKey`, and the key check rewritten for `newKey`. Returns how many accounts were re-sealed.
    private func reseal(from oldKeys: [SecretsKey], to newKey: SecretsKey) throws(AccountStoreError) -> Int {
        let meta = databases.meta
        let accounts = databases.accounts
        return try writeHoldingWriterLock { transaction in
            let entries = try Self.range(in: accounts, of: transaction, prefix: [], after: nil, limit: .max)
            for (recordKey, value) in entries {
                let sealed = try decodeAccount(value, key: recordKey, in: transaction)
                guard let account = oldKeys.lazy.compactMap({ SecretSealing.unsealed(sealed, with: $0) }).first
                else { throw AccountStoreError.corruptRecord(key: "accounts/" + sealed.name.value) }
                try putRecord(
                    AccountRecord.encode(try SecretSealing.sealed(account, with: newKey)),
                    for: recordKey,
                    in: transaction
                )
            }
            try transaction.put(try SecretSealing.keyCheck(with: newKey), for: Self.secretsKeyCheckKey, in: meta)
            return entries.count
        }
    }
}

/// The store's secrets keys: the current one seals and opens; after a rotation, the previous one still
/// opens, for readers that began before the rotation committed.
final class KeyHolder: @unchecked Sendable {
    private let lock = Lock()
    private var keys: [SecretsKey]

    init(_ key: SecretsKey) { keys = [key] }

    var current: SecretsKey { lock.withLock { keys[0] } }
    var opening: [SecretsKey] { lock.withLock { keys } }

    func replace(with key: SecretsKey) { lock.withLock { keys = [key, keys[0]] } }
}
