/// The account operations the daemon needs, and nothing else: the seam where a second backend
/// (PostgreSQL for fleets of hosts) plugs in without touching the daemon.
///
/// Every method is blocking and must not be called on an event loop. Every change happens in one
/// durable transaction: when a mutating method returns, the change survives a crash; when it
/// throws, nothing changed.
public protocol AccountStore: Sendable {
    /// The account called `name`, or nil.
    func account(named name: AccountName) throws(AccountStoreError) -> Account?

    /// Whether an account called `name` exists, without decoding its record or opening its secrets: what a
    /// login asks before its throttle decision, so that a `locked` answer takes as long for every name.
    func accountExists(named name: AccountName) throws(AccountStoreError) -> Bool

    /// The account called `name` as far as matching a TOTP code needs it, or nil: without its recovery
    /// codes, pending enrollment and pending authenticator (`Account.forCodeCheck`), so a store that seals
    /// secrets opens only its authenticators'. Never give it back to `create` or `update`.
    func accountForCodeCheck(named name: AccountName) throws(AccountStoreError) -> Account?

    /// `accountForCodeCheck`, with the organization it belongs to (nil when that has no record), or nil without
    /// an account: in one read where the backend can (a round trip fewer per code check on PostgreSQL).
    func accountForCodeCheckWithOrganization(
        named name: AccountName
    ) throws(AccountStoreError) -> (account: Account, organization: Organization?)?

    /// The account called `name` as a login needs it, or nil (`Account.forLogin`): with 2FA on, as
    /// `accountForCodeCheck` reads it; otherwise whole. Never give it back to `create` or `update`. The read
    /// costs the same for every name: a name without an account has a stand-in record read in its place, and
    /// an account with no secret to open has the stand-in's opened, so that the time of a login's answer tells
    /// neither whether the account exists nor whether its 2FA is on.
    func accountForLogin(named name: AccountName) throws(AccountStoreError) -> Account?

    /// The read `accountForLogin` makes for a name without an account, for a login of a name that could not be
    /// one.
    func readStandInForLogin() throws(AccountStoreError)

    /// Up to `limit` accounts in name order, starting after `after`, optionally of one organization.
    func accounts(
        in organization: OrganizationName?,
        after: AccountName?,
        limit: Int
    ) throws(AccountStoreError) -> [Account]

    /// Adds a new account in one write transaction, in which `body` is first given the account's organization as
    /// stored in that write, read only: a change of the organization's rules (its agent names, its two-factor
    /// requirement) that commits before this write is seen by `body`, and none commits between the two. `body`
    /// may change the account, not its name, organization or role (`.store(.invalidChange)`), or refuse: an error
    /// of the caller's own type aborts the transaction and is rethrown as `.rejected(error)`; it runs before the
    /// name is looked up, so a refusal does not tell whether the name is taken. Throws
    /// `.store(.organizationNotFound)` for an unknown organization, `.store(.organizationHasAdmin)` for an admin of
    /// an organization that has one as stored in the write (two admins created at once: one wins), and
    /// `.store(.alreadyExists)` when the name is taken. Returns the account as written. Callers that check nothing
    /// use `create(_:)`.
    @discardableResult
    func create<Rejection: Error>(
        _ account: Account,
        checkingOrganization body: (inout Account, Organization) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account

    /// Reads the account, lets `body` change it, and writes it back, all in one write transaction; with
    /// `withOrganization`, `body` is also given the account's organization as stored in the same write (nil when
    /// it has no record), read only. Throws `.store(.notFound)` for an unknown name. An error thrown by `body` (of
    /// the caller's own type) aborts the transaction and is rethrown as `.rejected(error)`. The account's name
    /// must not be changed (`.store(.invalidChange)`). Callers use `update(_:_:)` and `updateWithOrganization`.
    func update<Rejection: Error>(
        _ name: AccountName,
        withOrganization: Bool,
        _ body: (inout Account, Organization?) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account

    /// Removes the account, in one write transaction only when it still has `identity` (nil: whatever
    /// account has the name). Throws `.notFound` for an unknown name, and for an account of another identity
    /// (the one read was removed, and another made under its name, since), which is left as it is.
    func remove(_ name: AccountName, ifStill identity: AccountIdentity?) throws(AccountStoreError)

    /// The replay guard: in one write transaction, records `step` as the last accepted step of the
    /// account's authenticator labelled `label` (with `drift` as its learned clock offset and `offset` as
    /// the one this code measured, `Authenticator.lastOffset`) if the step is
    /// later than the one recorded for it and it still holds `credential`, resets the failure count and
    /// records the login time (`Account.acceptStep` is the rule). Returns `.replayed` and changes nothing
    /// when `step` is not later, or when the authenticator changed or was removed meanwhile (a reset or
    /// removal racing a login). When this returns `.accepted` the step is durable, so the caller may
    /// answer `ok`. `alongside`, when given, changes the account in the same write when the step is accepted (a
    /// grace period starting with this login), decided on the account's organization as stored in that write
    /// (`AcceptedStepChange`); like `update`'s body it may run more than once and must only change the account it
    /// is given.
    func recordAcceptedStep(
        _ step: UInt64,
        for name: AccountName,
        authenticator label: AuthenticatorLabel,
        credential: TOTPCredential,
        drift: Int32,
        offset: Int32?,
        at time: UnixTime,
        alongside: AcceptedStepChange?
    ) throws(AccountStoreError) -> StepAcceptance

    /// Resets the failure count and records the login time after a successful login that needed no code.
    func recordSuccess(for name: AccountName, at time: UnixTime) throws(AccountStoreError)

    /// Everything a successful login writes, as one durable write (no default: separate calls would neither be
    /// one commit nor check the claim's password hash):
    /// - with `claim`, the replay guard exactly as `recordAcceptedStep` (with `alongside`), refused as well when
    ///   the account no longer has the claim's password hash (`StepClaim.passwordHash`,
    ///   `Account.stillAcceptsLogin`); when it answers `.replayed`, nothing at all is written and `.replayed` is
    ///   returned;
    /// - without `claim`, `recordSuccess`;
    /// - then, for an accepted login, `clearAttempts(key)` and `appendAudit(audit)` when given.
    /// When this returns `.accepted`, all of it is durable.
    func recordLogin(
        of name: AccountName,
        claiming claim: StepClaim?,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        clearing key: ThrottleKey?,
        audit: AuditRecord?
    ) throws(AccountStoreError) -> StepAcceptance

    // MARK: Throttling

    /// The lock decision and the failure count as one atomic step: in one write transaction, decides with
    /// `decide` (given the key's record and, for a privileged origin, the subject's account-wide failures:
    /// `ThrottleDecision`) whether the attempt may run; when it may, counts it as a failure of the key (and,
    /// for a privileged origin, of the account named `key.subject`, or of the stand-in counter of a name
    /// without an account) before the caller checks anything. However many attempts run in parallel, no
    /// more run than the limits allow.
    func reserveAttempt(
        _ key: ThrottleKey,
        at time: UnixTime,
        decide: ThrottleDecision
    ) throws(AccountStoreError) -> AttemptReservation

    /// The decision `reserveAttempt` would take for `key` now, read only: nothing is counted or written. For a
    /// request that checks nothing (a code check asking what an account needs), so that it can answer `locked`
    /// without being counted as an attempt.
    func previewAttempt(
        _ key: ThrottleKey,
        decide: ThrottleDecision
    ) throws(AccountStoreError) -> AttemptReservation

    /// A whole attempt (a code check, or a login once its password was hashed) as one durable write:
    /// - the throttle decision exactly as `reserveAttempt` takes it; when locked, nothing is written;
    /// - when the attempt may run, a `.step` claim goes through the replay guard as in `recordLogin` (with
    ///   `alongside`), and `.passed` records the success as `recordLogin` without a claim. Accepted: `key` is
    ///   cleared, `audit.accepted` appended, and no failure stays counted;
    /// - `.failed`, or a refused step (a replay): the attempt is counted as `reserveAttempt` counts it, and
    ///   `audit.denied` written.
    /// The caller decides the claim from an account it read before; the replay guard checks a step again
    /// against the account as stored. Nothing slow may run inside the write: a password is hashed before.
    func checkAttempt(
        _ key: ThrottleKey,
        claiming claim: AttemptClaim,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        decide: ThrottleDecision,
        audit: AttemptAudit
    ) throws(AccountStoreError) -> AttemptVerdict

    /// `checkAttempt` for a caller that does not wait for the durable write: returns once the attempt is queued
    /// (or done), and `completion` gets the verdict or the error once the write is durable. It may run on
    /// another thread, between the store's writes: it must be short and must not call the store. A store
    /// that cannot queue a write runs it at once (the default).
    func checkAttempt(
        _ key: ThrottleKey,
        claiming claim: AttemptClaim,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        decide: @escaping ThrottleDecision,
        audit: AttemptAudit,
        whenDurable completion: @escaping (Result<AttemptVerdict, AccountStoreError>) -> Void
    )

    /// The durable write a denied login of a name without an account makes in place of the audit record an
    /// account's denial appends: the key's throttle record (counted by `reserveAttempt`) and the audit sequence,
    /// written again unchanged, in one commit of about the pages an appended record takes. No record is kept,
    /// since names sprayed by an attacker would push real records out of the capped trail, but the denial takes
    /// as long as an account's, so its time does not tell whether the account exists.
    func recordDenialOfUnknownName(_ key: ThrottleKey) throws(AccountStoreError)

    /// Clears the key's failures (and, for a privileged origin, the account's, or the stand-in counter of a
    /// name without an account) after a success.
    func clearAttempts(_ key: ThrottleKey) throws(AccountStoreError)

    /// Clears every throttle record of `subject`, the stand-in counter of a name without an account included,
    /// and the account's own counter (unlock).
    func clearAllAttempts(of subject: String) throws(AccountStoreError)

    /// For each of `subjects`, its throttle records by origin that `filter` accepts (the stand-in counter of a
    /// name without an account is no origin's, and is never listed), latest failure first: at most `limit`
    /// of them, and how many the filter accepted in all. A subject with none is missing from the answer.
    func throttleRecords(
        of subjects: [String],
        matching filter: ThrottleFilter,
        limit: Int
    ) throws(AccountStoreError) -> [String: ThrottleListing]

    /// A 32-byte key for the purpose `label` names, derived from the secrets key the store seals with: the same
    /// after a restart and on every host sharing the store, and not computable without the secrets key. It
    /// changes when the secrets key is rotated.
    func derivedKey(label: String) -> [UInt8]

    // MARK: Organizations

    func organization(named name: OrganizationName) throws(AccountStoreError) -> Organization?

    /// Up to `limit` organizations in name order, starting after `after`.
    func organizations(after: OrganizationName?, limit: Int) throws(AccountStoreError) -> [Organization]

    /// How many accounts belong to the organization (read from the organization index, not by
    /// reading every account).
    func memberCount(of name: OrganizationName) throws(AccountStoreError) -> Int

    /// Adds an organization. Throws `.organizationExists` when the name is taken.
    func createOrganization(_ organization: Organization) throws(AccountStoreError)

    /// Changes an organization and, in the same write transaction, lets `eachMember` change each of
    /// its accounts (it returns whether it changed the account). Throws `.store(.organizationNotFound)`;
    /// like `update`, an error thrown by `body` is rethrown as `.rejected(error)` and the bodies may run
    /// more than once.
    @discardableResult
    func updateOrganization<Rejection: Error>(
        _ name: OrganizationName,
        _ body: (inout Organization) throws(Rejection) -> Void,
        eachMember: (inout Account) -> Bool
    ) throws(UpdateError<Rejection>) -> Organization

    /// Removes an organization that has no accounts; throws `.organizationNotEmpty` otherwise.
    func removeOrganization(_ name: OrganizationName) throws(AccountStoreError)

    // MARK: Audit trail

    /// Appends a record (its `sequence` is assigned here) and drops the oldest records beyond the
    /// store's retention limits, in one durable write.
    func appendAudit(_ record: AuditRecord) throws(AccountStoreError)

    /// Up to `limit` matching records, newest first, older than sequence `before` when given.
    func auditRecords(
        matching filter: AuditFilter,
        before: UInt64?,
        limit: Int
    ) throws(AccountStoreError) -> [AuditRecord]

    /// One page of what `auditRecords` returns, for a request of a client: up to `limit` matching records, and
    /// where the next page starts. A store that walks the trail in the daemon's own process examines a bounded
    /// number of records per page, and may return fewer than `limit` (none, even) with a `next` to go on from:
    /// a filter that few records match must not make one request walk the whole trail.
    func auditPage(
        matching filter: AuditFilter,
        before: UInt64?,
        limit: Int
    ) throws(AccountStoreError) -> AuditPage
}

/// A page of the audit trail (`AccountStore.auditPage`).
public struct AuditPage: Sendable, Hashable {
    /// Matching records, newest first.
    public var records: [AuditRecord]
    /// The sequence to pass as `before` for the next page, or 0 when no older record matches.
    public var next: UInt64

    public init(records: [AuditRecord], next: UInt64) {
        self.records = records
        self.next = next
    }
}

extension AccountStore {
    /// Reads the account, lets `body` change it, and writes it back, all in one write transaction
    /// (`update(_:withOrganization:_:)`).
    @discardableResult
    public func update<Rejection: Error>(
        _ name: AccountName,
        _ body: (inout Account) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account {
        try update(name, withOrganization: false) { (account, _) throws(Rejection) in try body(&account) }
    }

    /// `update`, with `body` also given the account's organization as stored in the same write (nil when it has
    /// no record), read only: a change decided on the organization's rules (a login let in without a code from
    /// one of its trusted networks) checks them again there, so that no change of those rules that commits before
    /// this write is missed, and none can commit between that check and this write.
    @discardableResult
    public func updateWithOrganization<Rejection: Error>(
        _ name: AccountName,
        _ body: (inout Account, Organization?) throws(Rejection) -> Void
    ) throws(UpdateError<Rejection>) -> Account {
        try update(name, withOrganization: true, body)
    }

    /// Adds a new account, whatever its organization's rules (`create(_:checkingOrganization:)`). Throws
    /// `.alreadyExists` when the name is taken.
    public func create(_ account: Account) throws(AccountStoreError) {
        do {
            try create(account, checkingOrganization: { (_: inout Account, _: Organization) throws(Never) in })
        } catch {
            throw error.storeError
        }
    }

    /// A page as `auditRecords` finds it, for a store whose queries run elsewhere (a database server).
    public func auditPage(
        matching filter: AuditFilter,
        before: UInt64?,
        limit: Int
    ) throws(AccountStoreError) -> AuditPage {
        let records = try auditRecords(matching: filter, before: before, limit: limit + 1)
        let page = Array(records.prefix(limit))
        return AuditPage(records: page, next: records.count > limit ? page.last?.sequence ?? 0 : 0)
    }

    /// Removes whatever account has the name (`remove(_:ifStill:)`).
    public func remove(_ name: AccountName) throws(AccountStoreError) {
        try remove(name, ifStill: nil)
    }

    public func checkAttempt(
        _ key: ThrottleKey,
        claiming claim: AttemptClaim,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        decide: @escaping ThrottleDecision,
        audit: AttemptAudit,
        whenDurable completion: @escaping (Result<AttemptVerdict, AccountStoreError>) -> Void
    ) {
        completion(
            Result { () throws(AccountStoreError) in
                try checkAttempt(key, claiming: claim, alongside: alongside, at: time, decide: decide, audit: audit)
            }
        )
    }

    public func accountForCodeCheck(named name: AccountName) throws(AccountStoreError) -> Account? {
        try account(named: name)?.forCodeCheck
    }

    public func accountForCodeCheckWithOrganization(
        named name: AccountName
    ) throws(AccountStoreError) -> (account: Account, organization: Organization?)? {
        guard let account = try accountForCodeCheck(named: name) else { return nil }
        return (account, try organization(named: account.organization))
    }

    /// `recordAcceptedStep` changing nothing else, for a step whose drift is also its offset (a resync).
    public func recordAcceptedStep(
        _ step: UInt64,
        for name: AccountName,
        authenticator label: AuthenticatorLabel,
        credential: TOTPCredential,
        drift: Int32,
        at time: UnixTime
    ) throws(AccountStoreError) -> StepAcceptance {
        try recordAcceptedStep(
            step,
            for: name,
            authenticator: label,
            credential: credential,
            drift: drift,
            offset: drift,
            at: time,
            alongside: nil
        )
    }

}

/// What the write that accepts a login's code also changes on the account (a grace period starting with the login),
/// given the account's organization as stored in that write (nil when it has no record), read only: a change of the
/// organization (a shorter grace period) that commits before that write is seen, and none commits between the two.
/// A store reads the organization only for a login that passes one.
public typealias AcceptedStepChange = (inout Account, Organization?) -> Void

/// What an attempt claims in `AccountStore.checkAttempt`.
public enum AttemptClaim: Sendable, Hashable {
    /// A code's step for `name`'s account, accepted only through the replay guard.
    case step(StepClaim, of: AccountName)
    /// Nothing left to check: `name`'s login passed without a code (a right password where none is needed),
    /// decided on the account as read with `passwordHash` (the stored hash the password was checked against)
    /// and `twoFactor`. The success is refused, and the attempt counted as `.failed` is, when the account no
    /// longer has both (its password was changed, or 2FA required, or it was removed and made again, while the
    /// password was hashed) or is gone (`Account.stillAcceptsLogin`).
    case passed(AccountName, passwordHash: String, twoFactor: TwoFactorState)
    /// Nothing that can pass: a wrong password or code, a name without an account, or a login whose attempt
    /// stays counted until its code comes.
    case failed
}

/// What `AccountStore.checkAttempt` writes to the audit trail for each outcome of the attempt.
public struct AttemptAudit: Sendable {
    public var accepted: AuditRecord?
    public var denied: DenialRecord

    public init(accepted: AuditRecord?, denied: DenialRecord) {
        self.accepted = accepted
        self.denied = denied
    }

    public init(accepted: AuditRecord, denied: AuditRecord) {
        self.init(accepted: accepted, denied: .record(denied))
    }
}

/// The trail's part of a denied attempt.
public enum DenialRecord: Sendable {
    /// Appended.
    case record(AuditRecord)
    /// No record, for a name without an account, but the pages appending one would write are written again
    /// unchanged, so that the denial takes as long as an account's (`AccountStore.recordDenialOfUnknownName`).
    /// Also an account's denial past its origin's budget of records (`AccountLimits.denialRecordsPerOrigin`).
    case maskingUnknownName
    /// Nothing: the attempt is only counted (a login asked for its code).
    case none
}

/// What `AccountStore.checkAttempt` decided.
public enum AttemptVerdict: Sendable, Hashable {
    /// The claimed step, or the success, is durable: the attempt passed.
    case accepted
    /// A failed claim, or a refused step; the failure is counted.
    case denied
    /// Locked for this many more seconds (`Int64.max`: until unlocked); nothing was written.
    case locked(retryAfter: Int64)
}

/// A code's time step, to be accepted for the authenticator (and credential) that produced it, with the
/// clock drift it taught and the offset it measured (`AccountStore.recordLogin`, `recordAcceptedStep`).
public struct StepClaim: Sendable, Hashable {
    public var step: UInt64
    public var authenticator: AuthenticatorLabel
    public var credential: TOTPCredential
    public var drift: Int32
    /// The offset the code measured, nil when beyond the drift bound (`Authenticator.lastOffset`); a resync
    /// measures the drift it sets.
    public var offset: Int32?
    /// For a login, the stored password hash its password was checked against: the step is refused (as
    /// `.replayed`) when the account no longer has it, so that a password changed, or an account removed and
    /// made again, while the login's password was hashed does not let the old password in. Nil for a code
    /// checked without a password (a CodeCheck, a resync).
    public var passwordHash: String?

    public init(
        step: UInt64,
        authenticator: AuthenticatorLabel,
        credential: TOTPCredential,
        drift: Int32,
        offset: Int32?,
        passwordHash: String? = nil
    ) {
        self.step = step
        self.authenticator = authenticator
        self.credential = credential
        self.drift = drift
        self.offset = offset
        self.passwordHash = passwordHash
    }
}

extension Account {
    /// Whether a login decided on a read of this account may still be accepted on it as stored now: it checked
    /// its password against `passwordHash` (nil: no password was checked), and was decided for the two-factor
    /// state `twoFactor` (nil: the write checks what the login needs otherwise, a code's credential). Every
    /// backend asks this inside the write that accepts the login, of the account as that write holds it.
    public func stillAcceptsLogin(
        passwordCheckedAgainst passwordHash: String?,
        twoFactor: TwoFactorState? = nil
    ) -> Bool {
        if let passwordHash, self.passwordHash != passwordHash { return false }
        if let twoFactor, self.twoFactor != twoFactor { return false }
        return true
    }
}

public enum StepAcceptance: Sendable, Equatable {
    case accepted
    case replayed
}

/// What went wrong in the store, with a message an operator can act on.
public enum AccountStoreError: Error, Sendable, CustomStringConvertible {
    case notFound(AccountName)
    case alreadyExists(AccountName)
    case organizationNotFound(OrganizationName)
    case organizationExists(OrganizationName)
    /// An organization that still has accounts cannot be removed.
    case organizationNotEmpty(OrganizationName, members: Int)
    /// An organization has one admin: `admin` is it, so another cannot be created.
    case organizationHasAdmin(OrganizationName, admin: AccountName)
    /// The state directory was written by a newer or unknown version of twofactord.
    case unsupportedSchemaVersion(found: UInt32, supported: UInt32)
    /// A record could not be decoded; the key says which.
    case corruptRecord(key: String)
    /// The storage layer failed (disk full, I/O error, permissions); `message` says which and what to do.
    case storageFailure(String)
    /// The change breaks a rule of the store (an account or organization cannot be renamed); nothing was
    /// written.
    case invalidChange(String)

    public var description: String {
        switch self {
        case .notFound(let name): "no account named '\(name)'"
        case .alreadyExists(let name): "an account named '\(name)' already exists"
        case .organizationNotFound(let name):
            "no organization named '\(name)': create it with `twofactorctl org add \(name)`"
        case .organizationExists(let name): "an organization named '\(name)' already exists"
        case .organizationNotEmpty(let name, let members):
            "the organization '\(name)' still has \(members) account(s): remove them first"
        case .organizationHasAdmin(let name, let admin):
            "'\(name)' already has an admin, '\(admin)': an organization has one admin "
                + "(remove that account first, or add this one as an agent)"
        case .unsupportedSchemaVersion(let found, let supported):
            "the state directory has schema version \(found), this twofactord supports \(supported): "
                + "run the twofactord that wrote it, or restore a backup"
        case .corruptRecord(let key): "the record '\(key)' is corrupt: restore the state directory from a backup"
        case .storageFailure(let message): message
        case .invalidChange(let message): message
        }
    }
}

/// Why `AccountStore.update` or `updateOrganization` changed nothing: the store failed or refused the change,
/// or the caller's body refused it with an error of the caller's own type. Either way nothing was written.
public enum UpdateError<Rejection: Error>: Error {
    case store(AccountStoreError)
    case rejected(Rejection)
}

extension UpdateError {
    /// The result of a write whose body returned its refusal instead of throwing it (a backend's write
    /// path carries only the store's own errors), as `update` reports it.
    public static func unwrap<Value>(_ outcome: Result<Value, Rejection>) throws(UpdateError) -> Value {
        switch outcome {
        case .success(let value): value
        case .failure(let rejection): throw .rejected(rejection)
        }
    }
}

extension UpdateError where Rejection == Never {
    /// The store's error, for a body that cannot refuse.
    public var storeError: AccountStoreError {
        switch self {
        case .store(let error): error
        }
    }
}
