import AccountStore
import OpenSSLCrypto

/// Secrets at rest, for every store backend: TOTP secrets (enrolled and pending) and recovery-code
/// digests are written only sealed with AES-256-GCM under the store's `SecretsKey`. The MUSTs:
/// - a store seals an account given to `create`/`update` and opens every account it returns;
///   `AccountRecord` sees sealed bytes in those fields and knows nothing of the sealing;
/// - the associated data binds the account name and the field, so a sealed secret copied into another
///   account's record, or from `pending` to `totp`, does not open; an authenticator's secret also binds
///   its label, so secrets swapped between two authenticators of one account (whose replay steps differ)
///   do not open either (the first authenticator under its original label `default` keeps the `totp`
///   binding records had before there could be several);
/// - a store keeps `keyCheck(with:)` beside the records, so a wrong key is refused when the store opens
///   instead of failing record by record.
/// Sealed value: `u8 version (1) || AES256GCM box`.
package enum SecretSealing {
    package static let version: UInt8 = 1
    private static let keyCheckPlaintext = Array("twofactord secrets key check".utf8)
    private static let keyCheckAssociatedData = Array("twofactord/meta/secrets-key-check".utf8)

    private enum Field: String {
        case totp
        case pending
        case recovery
        case authenticator
        case pendingAuthenticator = "pending-authenticator"
    }

    private static func associatedData(_ field: Field, _ name: AccountName) -> [UInt8] {
        Array("twofactord/\(field.rawValue)/".utf8) + Array(name.value.utf8)
    }

    /// Names and labels cannot contain `/`, so name and label are told apart unambiguously.
    private static func associatedData(_ field: Field, _ name: AccountName, _ label: AuthenticatorLabel) -> [UInt8] {
        associatedData(field, name) + Array("/\(label.value)".utf8)
    }

    private static func authenticatorData(_ name: AccountName, _ label: AuthenticatorLabel) -> [UInt8] {
        label == .enrolled ? associatedData(.totp, name) : associatedData(.authenticator, name, label)
    }

    package static func sealed(_ account: Account, with key: SecretsKey) throws(AccountStoreError) -> Account {
        var account = account
        var authenticators = account.authenticators
        for index in authenticators.indices {
            let data = authenticatorData(account.name, authenticators[index].label)
            authenticators[index].credential.secret = try seal(authenticators[index].credential.secret, data, key)
        }
        account.authenticators = authenticators
        if let pending = account.pendingAuthenticator {
            account.pendingAuthenticator?.enrollment.credential.secret = try seal(
                pending.enrollment.credential.secret,
                associatedData(.pendingAuthenticator, account.name, pending.label),
                key
            )
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
    package static func unsealed(_ account: Account, with key: SecretsKey) -> Account? {
        var account = account
        var authenticators = account.authenticators
        for index in authenticators.indices {
            let authenticator = authenticators[index]
            guard
                let credential = opened(
                    authenticator.credential,
                    of: account.name,
                    authenticator: authenticator.label,
                    with: key
                )
            else { return nil }
            authenticators[index].credential = credential
        }
        account.authenticators = authenticators
        if let pending = account.pendingAuthenticator {
            let data = associatedData(.pendingAuthenticator, account.name, pending.label)
            guard let secret = open(pending.enrollment.credential.secret, data, key) else { return nil }
            account.pendingAuthenticator?.enrollment.credential.secret = secret
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

    /// The sealed `credential` of `name`'s authenticator `label` with its secret opened, or nil when it does
    /// not open: what the replay guard compares, without opening the account's other secrets.
    package static func opened(
        _ credential: TOTPCredential,
        of name: AccountName,
        authenticator label: AuthenticatorLabel,
        with key: SecretsKey
    ) -> TOTPCredential? {
        guard let secret = open(credential.secret, authenticatorData(name, label), key) else { return nil }
        var credential = credential
        credential.secret = secret
        return credential
    }

    /// A sealed constant that only `key` opens: stored once per store to recognize its key.
    package static func keyCheck(with key: SecretsKey) throws(AccountStoreError) -> [UInt8] {
        try seal(keyCheckPlaintext, keyCheckAssociatedData, key)
    }

    /// Whether `box` is the key check sealed with `key`.
    package static func isKeyCheck(_ box: [UInt8], of key: SecretsKey) -> Bool {
        open(box, keyCheckAssociatedData, key) == keyCheckPlaintext
    }

    private static func seal(
        _ secret: [UInt8],
        _ associatedData: [UInt8],
        _ key: SecretsKey
    ) throws(AccountStoreError) -> [UInt8] {
        do {
            return [version] + (try AES256GCM.seal(secret, key: key.bytes, associatedData: associatedData))
        } catch {
            throw .storageFailure("cannot seal a secret: \(error): restart twofactord")
        }
    }

    private static func open(_ box: [UInt8], _ associatedData: [UInt8], _ key: SecretsKey) -> [UInt8]? {
        guard box.first == version else { return nil }
        return try? AES256GCM.open(Array(box.dropFirst()), key: key.bytes, associatedData: associatedData)
    }
}
