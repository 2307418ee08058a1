import AccountStore
import Authentication
import OpenSSLCrypto

// MUSTs of a session (the account a connection logged in as, `twofactorctl --as`):
// - a session acts only for the account as it was when it logged in: the stamp of its credentials (the
//   account's creation time, organization and role, its password hash, its two-factor state and who set it,
//   and each authenticator's label and secret) is taken from the record the login checked, and every request
//   on the session compares it with the record it reads; a request on a session whose account is gone, was
//   made again under the same name, or whose stamp differs acts for nobody and is refused, saying to log in
//   again, whatever the peer is;
// - the stamp covers nothing another login changes (replay steps, drift, failure counts, login times, graces,
//   recovery codes), so another login of the same account never ends a session; the one exception is the
//   password hash that a login upgrades after the operator changed the scrypt cost, once per account (a login
//   racing that upgrade opens its own session on the upgraded record: `upgradePasswordHashIfNeeded`);
// - a write a session makes to its own account first checks, in the same write transaction, that the record
//   still has the session's stamp, and the session then goes on with the record as that write left it: its
//   own password change or enrollment never ends it, and a change someone else made just before never
//   passes to it;
// - a session ends `ServiceConfiguration.sessionLifetime` seconds after its login, whatever it sends.

/// The account a connection logged in as, and what it was then.
public struct AccountSession: Sendable, Hashable {
    public let name: AccountName
    /// When the Login that opened it succeeded, by the service's clock.
    public let loggedInAt: UnixTime
    let stamp: CredentialStamp

    /// A session of `account` as it is now, opened at `loggedInAt`.
    init(_ account: Account, loggedInAt: UnixTime) {
        name = account.name
        self.loggedInAt = loggedInAt
        stamp = CredentialStamp(account)
    }

    /// The session after a change it made to its own account: `account` is that account as the change left it.
    /// A record of another account leaves the session as it is.
    public func continued(after account: Account) -> AccountSession {
        guard account.name == name else { return self }
        return AccountSession(account, loggedInAt: loggedInAt)
    }

    /// Whether `account` is the account this session logged in as, with the same credentials.
    func holds(for account: Account) -> Bool {
        account.name == name && CredentialStamp(account) == stamp
    }
}

/// A keyed digest of what an account logs in with. Equal stamps mean the same account (not one removed and
/// made again under its name: a new password hash has a new salt) with the same credentials.
struct CredentialStamp: Sendable, Hashable {
    private let digest: [UInt8]

    /// Keys the digests, so that a stamp says nothing about a secret; made at start-up, never stored or shown.
    private static let key = SecureRandom.bytes(count: 32)

    init(_ account: Account) {
        var bytes: [UInt8] = []
        func field(_ value: [UInt8]) {
            withUnsafeBytes(of: UInt32(value.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: value)
        }
        func text(_ value: String) { field(Array(value.utf8)) }
        func number(_ value: Int64) { withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) } }

        text(account.name.value)
        text(account.organization.value)
        number(Int64(account.role.rawValue))
        number(account.createdAt)
        text(account.passwordHash)
        text(account.twoFactor.description)
        switch account.twoFactorChange?.actor {
        case nil: text("")
        case .operator(let uid): text("operator \(uid)")
        case .account(let name): text("account \(name.value)")
        case .system: text("system")
        }
        number(account.twoFactorChange?.time ?? 0)
        let authenticators = account.authenticators
        number(Int64(authenticators.count))
        for authenticator in authenticators {
            let parameters = authenticator.credential.parameters
            text(authenticator.label.value)
            field(authenticator.credential.secret)
            text("\(parameters.algorithm)")
            number(Int64(parameters.digits))
            number(Int64(parameters.period))
        }
        digest = HMAC.authenticationCode(for: bytes, key: Self.key, using: .sha256)
    }
}

extension AccountService {
    /// The refusal of a request on a session that no longer holds.
    static func sessionEnded(_ name: AccountName) -> ServiceError {
        ServiceError(
            .notPermitted,
            "log in again: the password, two-factor state or authenticators of '\(name)' changed, or the account "
                + "was removed, since this connection logged in"
        )
    }

    /// Refuses a write by `caller` to its own account when that account's credentials are no longer those the
    /// caller's session logged in with. Runs inside the write transaction, on the record it is about to change.
    static func checkSession(of caller: Caller?, stillHoldsFor stored: Account) throws(ServiceError) {
        guard case .account(let own)? = caller, own.name == stored.name else { return }
        guard CredentialStamp(own) == CredentialStamp(stored) else { throw sessionEnded(stored.name) }
    }
}

extension LoginResult {
    /// A Login with this result makes the connection act for the account.
    public var logsIn: Bool {
        switch self {
        case .ok, .enrolled, .recovered: true
        case .codeNeeded, .enroll, .denied, .locked: false
        }
    }
}
