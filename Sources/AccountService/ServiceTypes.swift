import AccountStore
import Authentication
import OneTimePassword

/// Settings of the account service that an operator may change.
public struct ServiceConfiguration: Sendable {
    /// The issuer shown in authenticator apps, e.g. the host or company name.
    public var issuer: String
    /// How long a started enrollment (a shown QR code) stays valid, in seconds.
    public var enrollmentLifetime: Int64
    public var throttle: ThrottlePolicy
    /// Steps on each side of now whose codes are accepted (RFC 6238 section 5.2 recommends one).
    public var codeWindow: UInt64
    /// Seconds a login that checked a code spares later logins from the same host or session the code
    /// (`--grace-period`); 0: off. An organization's own period wins.
    public var gracePeriod: Int64 = 0
    /// The largest clock drift, in steps, that an authenticator learns from its accepted codes.
    public var maximumDrift: Int32
    /// Seconds a connection acts for the account it logged in as (`--session-lifetime`); then it must log in
    /// again, however busy it keeps (AccountSession.swift).
    public var sessionLifetime: Int64 = ServiceConfiguration.defaultSessionLifetime
    /// One hour: far longer than any client holds a login (`twofactorctl --as` sends one request; an
    /// enrollment waits at most the enrollment lifetime for its code).
    public static let defaultSessionLifetime: Int64 = 3600

    public init(
        issuer: String = "twofactord",
        enrollmentLifetime: Int64 = 900,
        throttle: ThrottlePolicy = .standard,
        codeWindow: UInt64 = 1,
        maximumDrift: Int32 = DriftPolicy.defaultMaximumDrift
    ) {
        self.issuer = issuer
        self.enrollmentLifetime = enrollmentLifetime
        self.throttle = throttle
        self.codeWindow = codeWindow
        self.maximumDrift = maximumDrift
    }

    /// The window and drift rules of every code check at login.
    public var drift: DriftPolicy { DriftPolicy(window: codeWindow, maximumDrift: maximumDrift) }
}

/// The answer to a login, as docs/product.md "Logging in" lists them.
public enum LoginResult: Sendable, Hashable {
    case ok
    /// The login finished an enrollment: show these one-time recovery codes once.
    case enrolled(recoveryCodes: [String])
    /// A recovery code was used up in place of a TOTP code; this many remain.
    case recovered(remaining: Int)
    case codeNeeded
    /// The account must enroll: show `otpauthURI` as a QR code, then log in again with its first code.
    case enroll(otpauthURI: String)
    /// One answer for an unknown user, a wrong password and a wrong or replayed code.
    case denied
    case locked(retryAfter: Int64)
}

/// A started enrollment: what to show the user, and until when it can be confirmed.
public struct EnrollmentOffer: Sendable, Hashable {
    public var otpauthURI: String
    public var expiresAt: UnixTime
}

/// An account as `user show` reports it: the record and what follows from it now.
public struct AccountStatus: Sendable, Hashable {
    public var account: Account
    /// Until when logins are refused after too many failures through privileged peers; nil when not locked.
    public var lockedUntil: UnixTime?
    /// The origins locked out now by their own failures, latest failure first: as many as were asked for.
    public var originLocks: [OriginLock] = []
    /// How many origins are locked out now, listed in `originLocks` or not.
    public var lockedOrigins: Int = 0
}

/// One origin (a local uid, a remote host, the local console) that the throttle refuses for an account now.
public struct OriginLock: Sendable, Hashable {
    public var origin: ThrottleOrigin
    public var failures: UInt32
    public var lockedUntil: UnixTime
}

/// An organization with its member count.
public struct OrganizationStatus: Sendable, Hashable {
    public var organization: Organization
    public var members: Int
}

/// A refused or failed service call. `message` is a sentence a person can act on and never holds a secret.
public struct ServiceError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case noSuchAccount
        case accountExists
        case invalidArgument
        case wrongCode
        case noEnrollmentInProgress
        case notPermitted
        case noSuchOrganization
        case organizationExists
        case organizationNotEmpty
        case storageFailure
        case internalError
        case noSuchAuthenticator
        case authenticatorExists
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    static func from(_ error: AccountStoreError) -> ServiceError {
        switch error {
        case .notFound: ServiceError(.noSuchAccount, error.description)
        case .alreadyExists: ServiceError(.accountExists, error.description)
        case .organizationNotFound: ServiceError(.noSuchOrganization, error.description)
        case .organizationExists: ServiceError(.organizationExists, error.description)
        case .organizationNotEmpty: ServiceError(.organizationNotEmpty, error.description)
        case .invalidChange, .organizationHasAdmin: ServiceError(.invalidArgument, error.description)
        case .unsupportedSchemaVersion, .corruptRecord, .storageFailure:
            ServiceError(.storageFailure, error.description)
        }
    }
}
