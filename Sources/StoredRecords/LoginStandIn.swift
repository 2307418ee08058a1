import AccountStore

/// What a store reads in place of an account when a login names none (`AccountStore.accountForLogin`): an
/// account with 2FA on, shaped as an enrolled account's record is (one authenticator, ten recovery codes, a
/// password hash of the default form), so that decoding its record and opening its one secret costs what
/// reading an account costs. It is never stored and never matched: its secret is nobody's.
package enum LoginStandIn {
    package static let name = try! AccountName("twofactord-stand-in")

    /// The stand-in in the clear; a store seals it with its own key.
    package static let account = Account(
        name: name,
        passwordHash: "$scrypt$ln=17,r=8,p=1$" + String(repeating: "A", count: 22) + "$"
            + String(repeating: "A", count: 43),
        twoFactor: .on(.self),
        totp: TOTPCredential(secret: Array(repeating: 0x5A, count: 20), parameters: .standard),
        lastAcceptedStep: 0,
        createdAt: 0,
        updatedAt: 0,
        enrolledAt: 0,
        lastLoginAt: 0,
        recoveryCodes: Array(
            repeating: RecoveryCodeHash(
                salt: Array(repeating: 0xA5, count: 16),
                digest: Array(repeating: 0, count: 32)
            ),
            count: 10
        )
    )
}

extension Account {
    /// Whether opening this account's secrets opens nothing (an account without 2FA, or one trimmed of all it has):
    /// a login read then opens the stand-in's secret too, so that it does not tell whether 2FA is on.
    package var hasNoSecrets: Bool {
        authenticators.isEmpty && pendingEnrollment == nil && pendingAuthenticator == nil && recoveryCodes.isEmpty
    }
}

/// The stand-in sealed with one key: its record's bytes, and its authenticator's sealed credential.
package struct SealedStandIn: Sendable {
    private let keyBytes: [UInt8]
    package let record: [UInt8]
    /// A login state for it, as an account that has logged in has one (stored apart on LMDB).
    package let loginState: [UInt8]
    package let credential: TOTPCredential

    package init(sealedWith key: SecretsKey) throws(AccountStoreError) {
        let sealed = try SecretSealing.sealed(LoginStandIn.account, with: key)
        keyBytes = key.bytes
        record = AccountRecord.encode(sealed)
        loginState = LoginStateRecord.encode(LoginState(of: LoginStandIn.account))
        credential = sealed.authenticators[0].credential
    }

    package func isSealed(with key: SecretsKey) -> Bool { keyBytes == key.bytes }
}
