import AccountStore
import Authentication
import Logging
import OneTimePassword
import OpenSSLCrypto
import PasswordHashing

/// The operations of twofactord over an `AccountStore`: logins, and account administration.
///
/// Every method blocks (scrypt, durable writes): call it from a thread pool, never an event loop.
/// Who may call what is decided by the caller (the daemon's dispatch table), not here.
public final class AccountService: Sendable {
    let store: any AccountStore
    let hasher: PasswordHasher
    let configuration: ServiceConfiguration
    let clock: @Sendable () -> UnixTime
    let logger: Logger
    let nameFingerprint: NameFingerprint
    let limits: AccountLimits

    /// `limits`: what each account may still cause this minute; a daemon hands the same one to the service
    /// a reload builds, so that a SIGHUP does not start every account's count afresh.
    public convenience init(
        store: any AccountStore,
        hasher: PasswordHasher,
        configuration: ServiceConfiguration = ServiceConfiguration(),
        clock: @escaping @Sendable () -> UnixTime,
        logger: Logger,
        limits: AccountLimits = AccountLimits()
    ) {
        self.init(
            store: store,
            hasher: hasher,
            configuration: configuration,
            clock: clock,
            logger: logger,
            nameFingerprint: NameFingerprint(store: store),
            limits: limits
        )
    }

    init(
        store: any AccountStore,
        hasher: PasswordHasher,
        configuration: ServiceConfiguration,
        clock: @escaping @Sendable () -> UnixTime,
        logger: Logger,
        nameFingerprint: NameFingerprint,
        limits: AccountLimits
    ) {
        self.store = store
        self.hasher = hasher
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.nameFingerprint = nameFingerprint
        self.limits = limits
    }

    // MARK: Shared steps

    /// Moves a pending enrollment into place. Runs inside the store's write transaction, so it
    /// re-checks what was read before: a concurrent change makes it refuse instead of overwrite.
    ///
    /// The new state is `on`/`self` only when the account enrolled on its own from `off` or `on`/`self`; an
    /// enrollment an admin or operator made, or one that a required (`pending`, `enforced`) state asked
    /// for, is `enforced`: who required it decides who may undo it.
    static func finishEnrollment(
        _ account: inout Account,
        _ pending: PendingEnrollment,
        step: UInt64,
        by actor: Actor,
        capacity: Capacity,
        recoveryCodes: [RecoveryCodeHash],
        now: UnixTime
    ) throws(ServiceError) {
        guard account.pendingEnrollment == pending else {
            throw ServiceError(.noEnrollmentInProgress, "the enrollment changed meanwhile: start again")
        }
        if let last = account.lastAcceptedStep, step <= last {
            throw ServiceError(
                .wrongCode,
                "this account already used a code of this time step (perhaps of its previous authenticator): "
                    + "wait for the next code"
            )
        }
        let enabledBy: EnabledBy =
            switch (account.twoFactor, capacity) {
            case (.off, .ownAccount), (.on(.self), .ownAccount): .self
            default: .enforced
            }
        // A pending account enrolling keeps who required it: that is who may undo it.
        let requirementStands = account.twoFactor == .pending && enabledBy == .enforced
        if account.twoFactor != .on(enabledBy), !requirementStands {
            account.twoFactorChange = StateChange(actor: actor, time: now)
        }
        account.twoFactor = .on(enabledBy)
        // An enrollment starts over with one authenticator; `2fa add` adds more.
        account.authenticators = [
            Authenticator(label: .enrolled, credential: pending.credential, lastAcceptedStep: step, enrolledAt: now)
        ]
        account.pendingAuthenticator = nil
        account.recoveryCodes = recoveryCodes
        account.pendingEnrollment = nil
        account.graces = []
        account.failureCount = 0
        account.lastFailureAt = nil
        account.updatedAt = now
    }

    func newEnrollment(for name: AccountName, parameters: TOTPParameters) throws(ServiceError) -> PendingEnrollment {
        guard (6...8).contains(parameters.digits) else {
            throw ServiceError(.invalidArgument, "digits must be 6, 7 or 8")
        }
        guard (1...3600).contains(parameters.period) else {
            throw ServiceError(.invalidArgument, "the period must be 1 to 3600 seconds")
        }
        // RFC 4226 section 4 asks for at least 128 bits and recommends 160; RFC 6238 keys match the hash size.
        let length =
            switch parameters.algorithm {
            case .sha1: 20
            case .sha256: 32
            case .sha512: 64
            }
        let credential = TOTPCredential(secret: SecureRandom.bytes(count: length), parameters: parameters)
        return PendingEnrollment(credential: credential, expiresAt: clock() + configuration.enrollmentLifetime)
    }

    func uri(for name: AccountName, _ credential: TOTPCredential) throws(ServiceError) -> String {
        OTPAuthURI(
            issuer: configuration.issuer,
            account: name.value,
            secret: credential.secret,
            parameters: credential.parameters
        ).uriString
    }

    func matchingStep(_ code: String, for credential: TOTPCredential, now: UnixTime) -> UInt64? {
        guard let totp = try? TOTP(secret: credential.secret, parameters: credential.parameters) else { return nil }
        return totp.matchingStep(for: code, at: now, window: configuration.codeWindow)
    }

    func hash(_ password: [UInt8]) throws(ServiceError) -> String {
        do {
            return try hasher.hash(password)
        } catch {
            logger.error("password hashing failed", metadata: ["error": "\(error)"])
            throw ServiceError(.internalError, "the password could not be hashed: see the daemon's log")
        }
    }

    /// Refuses a new password that `PasswordPolicy` rejects, saying why.
    func validatePassword(_ password: [UInt8], for account: AccountName? = nil) throws(ServiceError) {
        if let problem = PasswordPolicy.problem(with: password, account: account) {
            throw ServiceError(.invalidArgument, problem)
        }
    }

    func existingName(_ name: String) throws(ServiceError) -> AccountName {
        try validated { () throws(InvalidValue) in try AccountName(name) }
    }

    /// The caller a request runs as: the account logged in on the connection when there is one, else the operator
    /// when the peer is one. A session's account is read again for each request; a session whose account was
    /// removed, made again, or had its credentials changed by someone else since it logged in, or that is older
    /// than the session lifetime, acts for nobody: the request is refused, even from an operator peer, which
    /// logged in to act as the account (AccountSession.swift).
    public func caller(session: AccountSession?, operatorUID: UInt32?) throws(ServiceError) -> Caller {
        guard let session else { return operatorUID.map { .operator(uid: $0) } ?? .anonymous }
        let now = clock()
        guard now - session.loggedInAt < configuration.sessionLifetime else {
            logger.notice("request refused: session expired", metadata: ["user": "\(session.name)"])
            throw ServiceError(
                .notPermitted,
                "log in again: this connection logged in as '\(session.name)' more than "
                    + "\(configuration.sessionLifetime) seconds ago (--session-lifetime)"
            )
        }
        let account = try storing { () throws(AccountStoreError) in try store.account(named: session.name) }
        guard let account, session.holds(for: account) else {
            logger.notice("request refused: credentials changed since the login", metadata: ["user": "\(session.name)"])
            throw Self.sessionEnded(session.name)
        }
        return .account(account)
    }

    /// The session a Login that logged in as `account` opens, `account` being the record as that login left it.
    func session(for account: Account) -> AccountSession {
        AccountSession(account, loggedInAt: clock())
    }

    /// Decides `operation` with `AccessPolicy`; a refusal is audited and thrown as `notPermitted`.
    ///
    /// An account's refusal is audited under its own organization, never one it names: `target` is given only
    /// when the caller may see it (`target(_:for:action:)` refuses the rest), and `requested` says in the
    /// record's detail what else was asked for (an organization, an account to create).
    @discardableResult
    func authorize(
        _ caller: Caller,
        _ operation: Operation,
        target: Account?,
        requested: String? = nil,
        action: AuditAction?
    ) throws(ServiceError) -> (capacity: Capacity, actor: Actor) {
        switch AccessPolicy.decide(caller, operation, target: target) {
        case .allowed(let capacity):
            guard let actor = caller.actor else { throw ServiceError(.notPermitted, "not permitted") }
            return (capacity, actor)
        case .refused(let message):
            throw refusal(message, of: caller, action: action, target: target?.name, requested: requested)
        }
    }

    /// Audits and logs a refusal of `caller`, and returns it to throw. The record carries the caller's own
    /// organization, so that no account can write into another organization's trail.
    func refusal(
        _ message: String,
        of caller: Caller,
        action: AuditAction?,
        target: AccountName?,
        requested: String?
    ) -> ServiceError {
        if let actor = caller.actor, let action {
            let organization: OrganizationName? =
                if case .account(let account) = caller { account.organization } else { nil }
            audit(
                actor,
                action,
                .refused,
                target: target,
                organization: organization,
                detail: requested.map { "\($0): \(message)" } ?? message
            )
        }
        logger.notice(
            "request refused",
            metadata: [
                "action": "\(action?.rawValue ?? "read")",
                "caller": "\(caller.actor.map { "\($0)" } ?? "anonymous")",
            ]
        )
        return ServiceError(.notPermitted, message)
    }

    /// Appends to the audit trail. The action already happened, so a failure here is logged, not thrown.
    ///
    /// A refused or failed request of an account is audited within the budgets of the account and of
    /// `organization` (`AccountLimits`); past them, the refusal is only logged, and the next record audited for
    /// the account says how many were not. Such a record's organization is always the account's own: `refusal`
    /// gives the caller's, and a failure (a wrong code) is of the account itself or of an account in its admin's
    /// organization.
    func audit(
        _ actor: Actor,
        _ action: AuditAction,
        _ outcome: AuditOutcome,
        target: AccountName?,
        organization: OrganizationName?,
        detail: String = ""
    ) {
        var detail = detail
        if case .account(let name) = actor, outcome == .refused || outcome == .failed {
            switch limits.spendRefusalRecord(of: name, in: organization ?? .default, now: clock()) {
            case .exhausted:
                logger.notice(
                    "refusal not audited: the account's or its organization's refusals this minute are audited already",
                    metadata: ["action": "\(action.rawValue)", "actor": "\(actor)", "outcome": "\(outcome.rawValue)"]
                )
                return
            case .granted(let suppressed) where suppressed > 0:
                let count = " (+\(suppressed) earlier not audited)"
                detail = detail.clipped(toUTF8Bytes: Self.maximumAuditDetailBytes - count.utf8.count) + count
            case .granted:
                break
            }
        }
        append(auditRecord(actor, action, outcome, target: target, organization: organization, detail: detail))
    }

    /// Appends `record` in a write of its own. A failure is logged, not thrown: what it records has happened.
    func append(_ record: AuditRecord) {
        do {
            try store.appendAudit(record)
        } catch {
            logger.error(
                "audit record not written",
                metadata: ["action": "\(record.action.rawValue)", "error": "\(error)"]
            )
        }
    }

    /// The audit record `audit` appends, for a write that appends it itself (`AccountStore.recordLogin`).
    func auditRecord(
        _ actor: Actor,
        _ action: AuditAction,
        _ outcome: AuditOutcome,
        target: AccountName?,
        organization: OrganizationName?,
        detail: String = ""
    ) -> AuditRecord {
        AuditRecord(
            time: clock(),
            actor: actor,
            target: target,
            organization: organization,
            action: action,
            outcome: outcome,
            detail: detail.clipped(toUTF8Bytes: Self.maximumAuditDetailBytes)
        )
    }

    /// What an audit record's detail may hold, as AuditList carries it (docs/protocol.md).
    static let maximumAuditDetailBytes = 128

    /// The account `name`, or a `noSuchAccount` error.
    func existingAccount(_ name: String) throws(ServiceError) -> Account {
        let accountName = try existingName(name)
        guard let account = try storing({ () throws(AccountStoreError) in try store.account(named: accountName) })
        else {
            throw ServiceError(
                .noSuchAccount,
                "no account named '\(accountName)': check the name with `twofactorctl user list`, or add the account "
                    + "with `twofactorctl user add \(accountName)`"
            )
        }
        return account
    }

    /// The account `name` as the caller may know it. A name outside the caller's scope (`AccessPolicy.scope`)
    /// is refused exactly as a name without an account: the same answer, and the same audit record when
    /// `action` is given (under the caller's organization, the name in the detail, no target), so that neither
    /// the answer, nor the writes, nor the trail an admin reads tells whether it exists. An agent's scope is
    /// decided from the name alone, without reading it; an operator is told that an account does not exist.
    func target(_ name: String, for caller: Caller, action: AuditAction?) throws(ServiceError) -> Account {
        switch caller {
        case .anonymous:
            if case .refused(let message) = AccessPolicy.decide(caller, .showAccount, target: nil) {
                throw refusal(message, of: caller, action: action, target: nil, requested: nil)
            }
            throw ServiceError(.notPermitted, "not permitted")
        case .operator:
            return try existingAccount(name)
        case .account(let account):
            let accountName = try existingName(name)
            if AccessPolicy.scope(of: account, mayInclude: accountName),
                let found = try storing({ () throws(AccountStoreError) in try store.account(named: accountName) }),
                AccessPolicy.scope(of: account, includes: found)
            {
                return found
            }
            var refused = refusal(
                AccessPolicy.outOfScope(account),
                of: caller,
                action: action,
                target: nil,
                requested: accountName.value
            )
            // The next step, in the answer only (the audit record keeps the refusal): the list of the names the
            // admin may act on, which tells nothing of the name asked for. An agent's refusal names its one account.
            if account.role == .admin {
                refused.message += ": check the name with `twofactorctl user list --as \(account.name)`"
            }
            throw refused
        }
    }

    func validated<T>(_ body: () throws(InvalidValue) -> T) throws(ServiceError) -> T {
        do { return try body() } catch { throw ServiceError(.invalidArgument, error.description) }
    }

    @discardableResult
    func storing<T>(_ body: () throws(AccountStoreError) -> T) throws(ServiceError) -> T {
        do {
            return try body()
        } catch {
            throw reported(error)
        }
    }

    /// `store.update` of `target`, the account `caller`'s request was decided on, with a body that refuses with
    /// a `ServiceError`: the refusal is thrown as it is, an error of the store as `storing` reports it. The write
    /// is refused, in the same transaction, when the account of that name is no longer `target` (removed, and
    /// perhaps another made under its name, perhaps in another organization, since the request read it), and,
    /// for a write `caller` makes to its own account, when that account no longer has the credentials its
    /// session logged in with.
    @discardableResult
    func updating(
        _ target: Account,
        as caller: Caller?,
        _ body: (inout Account) throws(ServiceError) -> Void
    ) throws(ServiceError) -> Account {
        do {
            return try store.update(target.name) { (account: inout Account) throws(ServiceError) in
                guard account.identity == target.identity else { throw Self.removedMeanwhile(target.name) }
                try Self.checkSession(of: caller, stillHoldsFor: account)
                try body(&account)
            }
        } catch {
            switch error {
            case .rejected(let refusal): throw refusal
            case .store(.notFound): throw Self.removedMeanwhile(target.name)
            case .store(let error): throw reported(error)
            }
        }
    }

    /// The refusal of a write decided on an account that was removed before the write (whatever has its name now
    /// is not the account the request was decided on, and is left alone).
    static func removedMeanwhile(_ name: AccountName) -> ServiceError {
        ServiceError(
            .noSuchAccount,
            "the account '\(name)' was removed while this request ran: nothing was changed; run the request "
                + "again to act on the account that has the name now, if any"
        )
    }

    /// `store.updateOrganization`, reporting errors as `updating` does.
    @discardableResult
    func updatingOrganization(
        _ name: OrganizationName,
        _ body: (inout Organization) throws(ServiceError) -> Void,
        eachMember: (inout Account) -> Bool
    ) throws(ServiceError) -> Organization {
        do {
            return try store.updateOrganization(name, body, eachMember: eachMember)
        } catch {
            switch error {
            case .rejected(let refusal): throw refusal
            case .store(let error): throw reported(error)
            }
        }
    }

    /// The service's error for an error of the store; a storage failure is logged for the operator.
    func reported(_ error: AccountStoreError) -> ServiceError {
        let serviceError = ServiceError.from(error)
        if serviceError.kind == .storageFailure {
            logger.error("store failure", metadata: ["error": "\(error)"])
        }
        return serviceError
    }
}
