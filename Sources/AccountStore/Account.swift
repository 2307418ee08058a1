import OneTimePassword

/// Seconds since the Unix epoch. Every time in the store is one of these.
public typealias UnixTime = Int64

public enum Role: UInt8, Sendable, Hashable, CaseIterable {
    case agent = 1
    case admin = 2
}

/// Who turned two-factor authentication on.
public enum EnabledBy: UInt8, Sendable, Hashable {
    /// The account enrolled on its own and may disable it with its password.
    case `self` = 1
    /// An admin or operator required it; only they may disable it.
    case enforced = 2
}

/// The two-factor states of docs/product.md.
public enum TwoFactorState: Sendable, Hashable, CustomStringConvertible {
    /// No second factor.
    case off
    /// Required, but no authenticator enrolled yet: the next login enrolls one.
    case pending
    /// A TOTP secret is enrolled and every login needs a code.
    case on(EnabledBy)

    /// As docs/product.md writes it, and as the audit trail records it: `off`, `pending`, `on/self`, `on/enforced`.
    public var description: String {
        switch self {
        case .off: "off"
        case .pending: "pending"
        case .on(.self): "on/self"
        case .on(.enforced): "on/enforced"
        }
    }
}

/// A TOTP secret with the parameters it was enrolled with.
public struct TOTPCredential: Sendable, Hashable {
    public var secret: [UInt8]
    public var parameters: TOTPParameters

    public init(secret: [UInt8], parameters: TOTPParameters) {
        self.secret = secret
        self.parameters = parameters
    }
}

/// An enrollment that was started (a secret shown as a QR code) and not yet confirmed by a code.
/// Until it is confirmed the account's two-factor state stays as it was.
public struct PendingEnrollment: Sendable, Hashable {
    public var credential: TOTPCredential
    public var expiresAt: UnixTime

    public init(credential: TOTPCredential, expiresAt: UnixTime) {
        self.credential = credential
        self.expiresAt = expiresAt
    }
}

/// One account as the store keeps it.
public struct Account: Sendable, Hashable {
    public var name: AccountName
    public var organization: OrganizationName
    public var role: Role
    /// A PHC string, e.g. `$scrypt$ln=17,r=8,p=1$salt$hash`.
    public var passwordHash: String
    public var twoFactor: TwoFactorState
    /// The enrolled credential; present exactly when `twoFactor` is `.on`. It is the first of
    /// `authenticators` (Authenticator.swift), which adds `moreAuthenticators` after it.
    public var totp: TOTPCredential?
    /// The time step of the last code accepted from `totp`. Its codes for this step or earlier are refused.
    public var lastAcceptedStep: UInt64?
    public var pendingEnrollment: PendingEnrollment?
    /// Consecutive failed logins since the last success.
    public var failureCount: UInt32
    public var lastFailureAt: UnixTime?
    public var createdAt: UnixTime
    public var updatedAt: UnixTime
    /// Who last set the two-factor state, and when; nil for an account never changed since it was created.
    public var twoFactorChange: StateChange?
    /// When the current authenticator was enrolled.
    public var enrolledAt: UnixTime?
    /// The last login answered `ok`.
    public var lastLoginAt: UnixTime?
    /// The unused one-time recovery codes, as salted hashes. Empty unless an authenticator is enrolled.
    public var recoveryCodes: [RecoveryCodeHash]
    /// Running grace periods (AccessGrants.swift): empty unless the daemon or organization sets one.
    public var graces: [Grace] = []
    /// Scoped exemptions for automation (AccessGrants.swift): empty unless an admin or operator added one.
    public var exemptions: [Exemption] = []
    /// The label of `totp`, the first authenticator.
    public var totpLabel: AuthenticatorLabel
    /// The clock offset of `totp` in steps (see `Authenticator.drift`).
    public var totpDrift: Int32
    /// The offset the last accepted code of `totp` measured (see `Authenticator.lastOffset`).
    public var totpLastOffset: Int32?
    /// The authenticators enrolled besides `totp`, in the order they were added.
    public var moreAuthenticators: [Authenticator]
    /// An authenticator being added with `2fa add`, not yet confirmed by a code.
    public var pendingAuthenticator: PendingAuthenticator?

    public init(
        name: AccountName,
        organization: OrganizationName = .default,
        role: Role = .agent,
        passwordHash: String,
        twoFactor: TwoFactorState = .off,
        totp: TOTPCredential? = nil,
        lastAcceptedStep: UInt64? = nil,
        pendingEnrollment: PendingEnrollment? = nil,
        failureCount: UInt32 = 0,
        lastFailureAt: UnixTime? = nil,
        createdAt: UnixTime,
        updatedAt: UnixTime,
        twoFactorChange: StateChange? = nil,
        enrolledAt: UnixTime? = nil,
        lastLoginAt: UnixTime? = nil,
        recoveryCodes: [RecoveryCodeHash] = [],
        totpLabel: AuthenticatorLabel = .enrolled,
        totpDrift: Int32 = 0,
        totpLastOffset: Int32? = nil,
        moreAuthenticators: [Authenticator] = [],
        pendingAuthenticator: PendingAuthenticator? = nil
    ) {
        self.name = name
        self.organization = organization
        self.role = role
        self.passwordHash = passwordHash
        self.twoFactor = twoFactor
        self.totp = totp
        self.lastAcceptedStep = lastAcceptedStep
        self.pendingEnrollment = pendingEnrollment
        self.failureCount = failureCount
        self.lastFailureAt = lastFailureAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.twoFactorChange = twoFactorChange
        self.enrolledAt = enrolledAt
        self.lastLoginAt = lastLoginAt
        self.recoveryCodes = recoveryCodes
        self.totpLabel = totpLabel
        self.totpDrift = totpDrift
        self.totpLastOffset = totpLastOffset
        self.moreAuthenticators = moreAuthenticators
        self.pendingAuthenticator = pendingAuthenticator
    }
}

/// Who did something: the socket peer acting as operator, or an account acting through a login.
public enum Actor: Sendable, Hashable, CustomStringConvertible {
    /// A privileged peer (root, the daemon's user, the operator group), known by its uid.
    case `operator`(uid: UInt32)
    /// An account that logged in on the connection (itself, or an admin of its organization).
    case account(AccountName)
    /// The daemon itself, e.g. when an organization's rule moves members to `pending`.
    case system

    public var description: String {
        switch self {
        case .operator(let uid): "operator (uid \(uid))"
        case .account(let name): "'\(name)'"
        case .system: "twofactord"
        }
    }
}

/// Who set an account's two-factor state, and when.
public struct StateChange: Sendable, Hashable {
    public var actor: Actor
    public var time: UnixTime

    public init(actor: Actor, time: UnixTime) {
        self.actor = actor
        self.time = time
    }
}

/// One unused recovery code, kept as HMAC-SHA256(salt, normalized code): the code itself is shown once
/// and never stored.
public struct RecoveryCodeHash: Sendable, Hashable {
    public var salt: [UInt8]
    public var digest: [UInt8]

    public init(salt: [UInt8], digest: [UInt8]) {
        self.salt = salt
        self.digest = digest
    }
}

extension Account {
    /// What tells this account from another made later under its name: its name, organization and role
    /// (which no change of an account alters) and its creation time. Two accounts made under one name in the
    /// same second, in the same organization and with the same role, have the same identity; whoever may act
    /// on one may act on the other (`AccessPolicy` looks at nothing else of a target).
    public var identity: AccountIdentity {
        AccountIdentity(name: name, organization: organization, role: role, createdAt: createdAt)
    }
}

/// `Account.identity`: a write decided on an account read earlier checks it against the record it changes.
public struct AccountIdentity: Sendable, Hashable {
    public var name: AccountName
    public var organization: OrganizationName
    public var role: Role
    public var createdAt: UnixTime
}
