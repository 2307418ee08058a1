/// One line of the audit trail: who did what to whom, and how it ended. Never a password, a secret
/// or a code.
public struct AuditRecord: Sendable, Hashable {
    /// Assigned by the store when the record is appended: increasing, never reused.
    public var sequence: UInt64
    public var time: UnixTime
    public var actor: Actor
    /// The account acted on; nil when there is none (an unknown user, an organization action).
    public var target: AccountName?
    /// The organization of the target, or the organization acted on; what admins are scoped by.
    public var organization: OrganizationName?
    public var action: AuditAction
    public var outcome: AuditOutcome
    /// A short, secret-free explanation ("wrong code", "2 recovery codes left").
    public var detail: String

    public init(
        sequence: UInt64 = 0,
        time: UnixTime,
        actor: Actor,
        target: AccountName?,
        organization: OrganizationName?,
        action: AuditAction,
        outcome: AuditOutcome,
        detail: String = ""
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

/// What was done. The raw values are what `twofactorctl audit` prints and the wire carries.
public enum AuditAction: String, Sendable, Hashable, CaseIterable {
    case login
    case enroll
    case enable
    case force
    case disable
    case reset
    case recoveryCodeUsed = "recovery-code"
    case recoveryCodesIssued = "recovery-codes"
    case unlock
    case accountAdd = "account-add"
    case accountRemove = "account-remove"
    case passwordChange = "password-change"
    case organizationAdd = "org-add"
    case organizationSet = "org-set"
    case organizationRemove = "org-remove"
    case backup
    case keyRotate = "key-rotate"
    case graceRevoke = "grace-revoke"
    case exemptionAdd = "exempt-add"
    case exemptionRemove = "exempt-remove"
    case authenticatorAdd = "authenticator-add"
    case authenticatorRemove = "authenticator-remove"
    case resync
}

/// How it ended.
public enum AuditOutcome: String, Sendable, Hashable, CaseIterable {
    case ok
    case denied
    case locked
    case codeNeeded = "code-needed"
    case enroll
    /// The actor was not allowed to do this; nothing changed.
    case refused
    /// The action was allowed but failed (a wrong code at enrollment, a store error).
    case failed
}

/// Which audit records a query wants. Nil fields match everything.
public struct AuditFilter: Sendable, Hashable {
    public var target: AccountName?
    public var organization: OrganizationName?
    public var since: UnixTime?

    public init(target: AccountName? = nil, organization: OrganizationName? = nil, since: UnixTime? = nil) {
        self.target = target
        self.organization = organization
        self.since = since
    }

    public func matches(_ record: AuditRecord) -> Bool {
        if let target, record.target != target { return false }
        if let organization, record.organization != organization { return false }
        if let since, record.time < since { return false }
        return true
    }
}

/// How much audit trail the store keeps: the oldest records go first when either limit is passed.
public struct AuditRetention: Sendable, Hashable {
    public var maximumRecords: UInt64
    public var maximumAge: Int64

    /// 100,000 records or 365 days, whichever is reached first.
    public static let standard = AuditRetention(maximumRecords: 100_000, maximumAge: 365 * 86_400)

    public init(maximumRecords: UInt64, maximumAge: Int64) {
        self.maximumRecords = maximumRecords
        self.maximumAge = maximumAge
    }
}
