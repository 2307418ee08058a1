/// An account's role as the wire carries it.
public enum WireRole: UInt8, Sendable, Hashable, CaseIterable {
    case agent = 1
    case admin = 2
}

/// An account's two-factor state as the wire carries it (the states of docs/product.md).
public enum WireTwoFactorState: UInt8, Sendable, Hashable, CaseIterable {
    /// No second factor.
    case off = 0
    /// Required, no authenticator enrolled yet.
    case pending = 1
    /// Enrolled by the account itself; it may disable it with its password.
    case onSelf = 2
    /// Required by an admin or operator; only they may disable it.
    case onEnforced = 3
}

/// A TOTP hash function. `default` is only meaningful in EnrollBegin (it means SHA1) and in
/// AccountInfo (it means no authenticator is enrolled).
public enum WireAlgorithm: UInt8, Sendable, Hashable, CaseIterable {
    case `default` = 0
    case sha1 = 1
    case sha256 = 2
    case sha512 = 3
}

/// What a Login answer says.
public enum LoginOutcome: UInt8, Sendable, Hashable, CaseIterable {
    /// Password (and code, if needed) right: the login succeeds.
    case ok = 0
    /// Password right, two-factor is on, and no code was sent: send again with a code.
    case codeNeeded = 1
    /// Password right, two-factor is pending: show the otpauth URI, then confirm with the first code.
    case enroll = 2
    /// Wrong password, wrong code or unknown user: one answer for all three.
    case denied = 3
    /// Too many failures: wait `retryAfter` seconds.
    case locked = 4
}

/// What the `code` field of a Login holds.
public enum CodeKind: UInt8, Sendable, Hashable, CaseIterable {
    /// No code: the `code` field is empty.
    case none = 0
    /// A TOTP code from the authenticator app.
    case totp = 1
    /// A one-time recovery code, accepted once in place of a TOTP code.
    case recovery = 2

    /// The kind of a code a person typed: 6 to 8 digits is a TOTP code, anything else a recovery code.
    public init(typed code: String) {
        let digits = code.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        self = digits && (6...8).contains(code.utf8.count) ? .totp : .recovery
    }
}

/// The code of an Error response. A struct rather than an enum so that codes added by later
/// daemons still decode: a client treats any code it does not know as an error.
public struct ErrorCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt16

    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The body broke a rule of docs/protocol.md. Closes the connection.
    public static let malformedRequest = ErrorCode(rawValue: 1)
    /// The Hello offered no version the daemon speaks. Closes the connection.
    public static let unsupportedVersion = ErrorCode(rawValue: 2)
    /// The message type is not a request type of the negotiated version. Closes the connection.
    public static let unknownMessageType = ErrorCode(rawValue: 3)
    /// The length prefix is above the maximum. Closes the connection.
    public static let frameTooLarge = ErrorCode(rawValue: 4)
    /// A request other than Hello came first. Closes the connection.
    public static let helloRequired = ErrorCode(rawValue: 5)
    /// The caller may not do this to this account.
    public static let notPermitted = ErrorCode(rawValue: 6)
    /// No account has this name.
    public static let noSuchAccount = ErrorCode(rawValue: 7)
    /// An account with this name already exists.
    public static let accountExists = ErrorCode(rawValue: 8)
    /// A field is well-formed but its value is refused (a name with a forbidden character, say).
    public static let invalidArgument = ErrorCode(rawValue: 9)
    /// The code did not match (enrollment confirmation).
    public static let wrongCode = ErrorCode(rawValue: 10)
    /// EnrollConfirm without a started, unexpired enrollment.
    public static let noEnrollmentInProgress = ErrorCode(rawValue: 11)
    /// A bug in the daemon; its log says more.
    public static let internalError = ErrorCode(rawValue: 12)
    /// The daemon could not read or write its state.
    public static let storageFailure = ErrorCode(rawValue: 13)
    /// The daemon is overloaded or shutting down; try again later.
    public static let busy = ErrorCode(rawValue: 14)
    /// No organization has this name.
    public static let noSuchOrganization = ErrorCode(rawValue: 15)
    /// An organization with this name already exists.
    public static let organizationExists = ErrorCode(rawValue: 16)
    /// The organization still has accounts.
    public static let organizationNotEmpty = ErrorCode(rawValue: 17)
    /// The daemon's store cannot do this (a PostgreSQL store is backed up with the server's own tools).
    public static let notSupported = ErrorCode(rawValue: 23)
    /// The account has no authenticator with this label.
    public static let noSuchAuthenticator = ErrorCode(rawValue: 29)
    /// The account already has an authenticator with this label.
    public static let authenticatorExists = ErrorCode(rawValue: 30)
    /// The peer, or the user a privileged client acts for, has its whole share of the daemon's workers or
    /// connections in use: its own load, not an outage. Try again once its other requests are answered.
    public static let tooManyRequests = ErrorCode(rawValue: 31)

    private static let names: [UInt16: String] = [
        1: "malformedRequest", 2: "unsupportedVersion", 3: "unknownMessageType", 4: "frameTooLarge",
        5: "helloRequired", 6: "notPermitted", 7: "noSuchAccount", 8: "accountExists", 9: "invalidArgument",
        10: "wrongCode", 11: "noEnrollmentInProgress", 12: "internalError", 13: "storageFailure", 14: "busy",
        15: "noSuchOrganization", 16: "organizationExists", 17: "organizationNotEmpty", 23: "notSupported",
        29: "noSuchAuthenticator", 30: "authenticatorExists", 31: "tooManyRequests",
    ]

    /// True for the codes after which the daemon closes the connection (1 to 5).
    public var closesConnection: Bool { (1...5).contains(rawValue) }

    /// True for the codes this build knows.
    public var isKnown: Bool { Self.names[rawValue] != nil }

    /// The name used in docs/protocol.md, or `unknown(N)`.
    public var description: String { Self.names[rawValue] ?? "unknown(\(rawValue))" }
}

/// One account as UserShow and UserList report it. Never holds a secret.
public struct AccountInfo: Sendable, Hashable {
    /// 1 to 64 bytes.
    public var user: String
    /// 1 to 64 bytes.
    public var organization: String
    public var role: WireRole
    public var twoFactor: WireTwoFactorState
    /// `.default` when no authenticator is enrolled.
    public var algorithm: WireAlgorithm
    /// 0 when no authenticator is enrolled, else 6 to 8.
    public var digits: UInt8
    /// 0 when no authenticator is enrolled, else the period in seconds.
    public var period: UInt16
    /// Consecutive failed logins since the last success.
    public var failureCount: UInt32
    /// Unix seconds.
    public var createdAt: UInt64
    /// Unix seconds.
    public var updatedAt: UInt64
    /// Who last set the two-factor state; `.none` when nobody changed it since the account was created.
    public var stateSetBy: ActorInfo
    /// Unix seconds; 0 with `stateSetBy` none.
    public var stateSetAt: UInt64
    /// Unix seconds; 0 when no authenticator is enrolled.
    public var enrolledAt: UInt64
    /// Unix seconds; 0 when the account never logged in.
    public var lastLoginAt: UInt64
    /// Unused recovery codes.
    public var recoveryCodes: UInt8
    /// Unix seconds until which logins are refused for failures through privileged peers (the account-wide
    /// lock); 0 when not locked, `UInt64(Int64.max)` or more: until unlocked.
    public var lockedUntil: UInt64
    /// How many origins (local uids, remote hosts, the local console) are locked out now by their own failures.
    public var lockedOrigins: UInt32

    public init(
        user: String,
        organization: String,
        role: WireRole,
        twoFactor: WireTwoFactorState,
        algorithm: WireAlgorithm,
        digits: UInt8,
        period: UInt16,
        failureCount: UInt32,
        createdAt: UInt64,
        updatedAt: UInt64,
        stateSetBy: ActorInfo = .none,
        stateSetAt: UInt64 = 0,
        enrolledAt: UInt64 = 0,
        lastLoginAt: UInt64 = 0,
        recoveryCodes: UInt8 = 0,
        lockedUntil: UInt64 = 0,
        lockedOrigins: UInt32 = 0
    ) {
        self.user = user
        self.organization = organization
        self.role = role
        self.twoFactor = twoFactor
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
        self.failureCount = failureCount
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.stateSetBy = stateSetBy
        self.stateSetAt = stateSetAt
        self.enrolledAt = enrolledAt
        self.lastLoginAt = lastLoginAt
        self.recoveryCodes = recoveryCodes
        self.lockedUntil = lockedUntil
        self.lockedOrigins = lockedOrigins
    }
}

/// One origin locked out of an account by its own failures, as UserInfo lists it.
public struct OriginLockInfo: Sendable, Hashable {
    public enum Origin: Sendable, Hashable {
        /// An unprivileged local peer.
        case uid(UInt32)
        /// The remote host a privileged peer reported: 1 to 255 bytes.
        case host(String)
        /// A privileged peer without a remote host (a console login, sudo).
        case local
    }

    public var origin: Origin
    public var failures: UInt32
    /// Unix seconds; more than 0.
    public var lockedUntil: UInt64

    public init(origin: Origin, failures: UInt32, lockedUntil: UInt64) {
        self.origin = origin
        self.failures = failures
        self.lockedUntil = lockedUntil
    }
}

/// Who did something, as AccountInfo and AuditEntry carry it: u8 kind, u32 uid, str name.
public enum ActorInfo: Sendable, Hashable {
    case none
    /// A privileged peer, by uid.
    case `operator`(uid: UInt32)
    /// An account that logged in on the connection.
    case account(String)
    /// The daemon itself.
    case daemon

    var kind: UInt8 {
        switch self {
        case .none: 0
        case .operator: 1
        case .account: 2
        case .daemon: 3
        }
    }
}

/// One organization as OrganizationShow and OrganizationList report it.
public struct OrganizationInfo: Sendable, Hashable {
    public var name: String
    public var requiresTwoFactor: Bool
    public var members: UInt32
    public var createdAt: UInt64
    public var updatedAt: UInt64

    public init(name: String, requiresTwoFactor: Bool, members: UInt32, createdAt: UInt64, updatedAt: UInt64) {
        self.name = name
        self.requiresTwoFactor = requiresTwoFactor
        self.members = members
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// One record of the audit trail. Never holds a password, a secret or a code.
public struct AuditEntry: Sendable, Hashable {
    public var sequence: UInt64
    /// Unix seconds.
    public var time: UInt64
    public var actor: ActorInfo
    /// Empty when there is no target account.
    public var target: String
    /// Empty when there is none.
    public var organization: String
    /// A word of the table in docs/protocol.md ("login", "force", ...); clients show unknown words as they are.
    public var action: String
    /// "ok", "denied", "refused", ...
    public var outcome: String
    public var detail: String

    public init(
        sequence: UInt64,
        time: UInt64,
        actor: ActorInfo,
        target: String,
        organization: String,
        action: String,
        outcome: String,
        detail: String
    ) {
        self.sequence = sequence
        self.time = time
        self.actor = actor
        self.target = target
        self.organization = organization
        self.action = action
        self.outcome = outcome
        self.detail = detail
    }
}
