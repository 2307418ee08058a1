import AccountStore
import Authentication
import OneTimePassword

// MUSTs of the authenticator operations (issue 11, items 2 and 3):
// - every change is decided by `AccessPolicy` first (adding as enrolling; removing the last authenticator
//   as disabling 2FA; resync for admins and operators only); a refusal changes nothing and is audited; an
//   admin's removals and resyncs count among its changes (`spendAdminChange`);
// - the label is validated and looked up only after that: a caller outside the account's scope learns
//   nothing of its authenticators, nor whether it exists (security review of 2026-12-06, finding A);
// - an authenticator is added only once a right code from it confirms it, and that code's step becomes
//   its last accepted step, so the confirming code cannot log in afterwards;
// - every change re-checks, inside the store's write, what it read before: a concurrent change makes it
//   refuse instead of overwrite;
// - a resync records the second code's step as the last accepted one: neither code works again, and no
//   code at or before them ever does;
// - an account's resync is a code check, throttled as a login is (`reserveAttempt` before the codes are
//   checked, cleared when they are accepted), under its own key (`resyncThrottleKey`): the target's resyncs
//   from the caller's uid, which no login of the target counts against, so failed resyncs never lock the
//   target's logins; a locked resync is logged, not audited, as a locked login is. An unlock of the target
//   clears every uid's resync key with its own. An operator's resyncs are not throttled (operators are never
//   limited, and may reset the second factor outright).

extension AccountService {
    /// Draws a secret for a new authenticator `label` of an account whose 2FA is on; it is added only when
    /// `confirmAuthenticator` gets a right code for it. A pending one with the same label and parameters
    /// that is still valid is offered again without a write; a new one counts as a change of the account to
    /// itself (`spendSelfServiceChange`).
    public func beginAuthenticator(
        caller: Caller,
        name: String,
        label: String,
        parameters: TOTPParameters
    ) throws(ServiceError) -> EnrollmentOffer {
        let target = try target(name, for: caller, action: .authenticatorAdd)
        let (capacity, actor) = try authorize(caller, .enroll, target: target, action: .authenticatorAdd)
        let label = try validated { () throws(InvalidValue) in try AuthenticatorLabel(label) }
        try Self.checkCanAdd(label, to: target)
        let now = clock()
        if let live = target.pendingAuthenticator, live.label == label, live.enrollment.expiresAt > now,
            live.enrollment.credential.parameters == parameters
        {
            return EnrollmentOffer(
                otpauthURI: try uri(for: target.name, live.enrollment.credential),
                expiresAt: live.enrollment.expiresAt
            )
        }
        let pending = PendingAuthenticator(
            label: label,
            enrollment: try newEnrollment(for: target.name, parameters: parameters)
        )
        try spendSelfServiceChange(capacity, by: actor, "authenticator add")
        try updating(target, as: caller) { (account: inout Account) throws(ServiceError) in
            try Self.checkCanAdd(label, to: account)
            account.pendingAuthenticator = pending
        }
        logger.notice("authenticator add started", metadata: ["user": "\(target.name)", "authenticator": "\(label)"])
        return EnrollmentOffer(
            otpauthURI: try uri(for: target.name, pending.enrollment.credential),
            expiresAt: pending.enrollment.expiresAt
        )
    }

    /// Adds the pending authenticator `label` when `code` is right for it; returns the account as it is now.
    @discardableResult
    public func confirmAuthenticator(
        caller: Caller,
        name: String,
        label: String,
        code: String
    ) throws(ServiceError) -> Account {
        let target = try target(name, for: caller, action: .authenticatorAdd)
        let (_, actor) = try authorize(caller, .enroll, target: target, action: .authenticatorAdd)
        let label = try validated { () throws(InvalidValue) in try AuthenticatorLabel(label) }
        let now = clock()
        guard let pending = target.pendingAuthenticator, pending.label == label, pending.enrollment.expiresAt > now
        else {
            throw ServiceError(
                .noEnrollmentInProgress,
                "no authenticator '\(label)' is being added to '\(target.name)' (or it expired): start with "
                    + "`2fa add \(target.name) --label \(label)`"
            )
        }
        guard let step = matchingStep(code, for: pending.enrollment.credential, now: now) else {
            audit(
                actor,
                .authenticatorAdd,
                .failed,
                target: target.name,
                organization: target.organization,
                detail: "\(label): wrong code"
            )
            throw ServiceError(.wrongCode, "the code is wrong: check the clock of the device and try the next code")
        }
        let added = try updating(target, as: caller) { (account: inout Account) throws(ServiceError) in
            guard account.pendingAuthenticator == pending else {
                throw ServiceError(
                    .noEnrollmentInProgress,
                    "the authenticator being added changed meanwhile: start again"
                )
            }
            try Self.checkCanAdd(label, to: account)
            account.authenticators.append(
                Authenticator(
                    label: label,
                    credential: pending.enrollment.credential,
                    lastAcceptedStep: step,
                    enrolledAt: now
                )
            )
            account.pendingAuthenticator = nil
            account.updatedAt = now
        }
        audit(actor, .authenticatorAdd, .ok, target: target.name, organization: target.organization, detail: "\(label)")
        logger.notice("authenticator added", metadata: ["user": "\(target.name)", "authenticator": "\(label)"])
        return added
    }

    /// The account's authenticators, for `2fa list` and `user show`.
    public func authenticators(caller: Caller, name: String) throws(ServiceError) -> [Authenticator] {
        let target = try target(name, for: caller, action: nil)
        try authorize(caller, .showAccount, target: target, action: nil)
        return target.authenticators
    }

    /// Removes the authenticator `label`. Removing the last one turns 2FA off, as `disableTwoFactor` does,
    /// and is allowed to whoever may disable it; with one authenticator, that decides whatever the label. As
    /// there, while the organization requires 2FA the account itself is refused, and an admin or operator leaves
    /// the account `pending`. Returns the account as it is now.
    @discardableResult
    public func removeAuthenticator(caller: Caller, name: String, label: String) throws(ServiceError) -> Account {
        let target = try target(name, for: caller, action: .authenticatorRemove)
        let last = target.authenticators.count == 1
        let (capacity, actor) = try authorize(
            caller,
            .removeAuthenticator(last: last),
            target: target,
            action: .authenticatorRemove
        )
        let label = try validated { () throws(InvalidValue) in try AuthenticatorLabel(label) }
        guard target.authenticatorIndex(label) != nil else { throw Self.noSuchAuthenticator(label, of: target.name) }
        let withoutAny =
            last
            ? try stateWithoutSecondFactor(of: target, capacity: capacity, caller: caller, action: .authenticatorRemove)
            : .off
        try spendAdminChange(capacity, by: actor, .authenticatorRemove)
        let now = clock()
        let removed = try updating(target, as: caller) { (account: inout Account) throws(ServiceError) in
            guard let index = account.authenticatorIndex(label) else {
                throw Self.noSuchAuthenticator(label, of: account.name)
            }
            // Re-checked inside the write: whether it is the last one decided who may remove it.
            guard (account.authenticators.count == 1) == last else {
                throw ServiceError(
                    .notPermitted,
                    "the authenticators of '\(account.name)' changed meanwhile: try again"
                )
            }
            if last {
                Self.discardSecrets(&account)
                account.twoFactor = withoutAny
                account.twoFactorChange = StateChange(actor: actor, time: now)
            } else {
                account.authenticators.remove(at: index)
                // A grace may have been earned with the one removed (a lost phone): no login rides on it.
                account.graces = []
            }
            account.updatedAt = now
        }
        audit(
            actor,
            .authenticatorRemove,
            .ok,
            target: target.name,
            organization: target.organization,
            detail: !last
                ? "\(label)"
                : withoutAny == .off
                    ? "\(label), the last: two-factor off"
                    : "\(label), the last: two-factor \(Self.requirementNote(withoutAny, of: target))"
        )
        logger.notice("authenticator removed", metadata: ["user": "\(target.name)", "authenticator": "\(label)"])
        return removed
    }

    /// Sets the clock drift of authenticator `label` from two codes it showed one after the other (RFC 4226
    /// section 7.4), searched within `DriftPolicy.resyncRange` steps of now; returns the drift in steps.
    /// `peerUID` is the uid of the process that sent the request: an admin's failed resyncs are throttled
    /// per target account and that uid (`resyncThrottleKey`).
    @discardableResult
    public func resyncAuthenticator(
        caller: Caller,
        name: String,
        label: String,
        first: String,
        second: String,
        peerUID: UInt32
    ) throws(ServiceError) -> Int32 {
        let target = try target(name, for: caller, action: .resync)
        let (capacity, actor) = try authorize(caller, .resyncAuthenticator, target: target, action: .resync)
        let label = try validated { () throws(InvalidValue) in try AuthenticatorLabel(label) }
        guard let authenticator = target.authenticators.first(where: { $0.label == label }) else {
            throw Self.noSuchAuthenticator(label, of: target.name)
        }
        let now = clock()
        // Counted before the codes are checked, as a login's attempt is; an operator is not throttled.
        let key: ThrottleKey? =
            if case .account = caller { Self.resyncThrottleKey(target.name, peerUID: peerUID) } else { nil }
        if let key, let wait = try reserveAttempt(key, now: now) {
            logger.info("resync refused: locked", metadata: ["user": "\(target.name)", "actor": "\(actor)"])
            throw ServiceError(
                .notPermitted,
                "too many wrong codes in resyncs of '\(target.name)': try again in \(wait) seconds"
            )
        }
        let step: UInt64
        let drift: Int32
        switch configuration.drift.resync(first, second, for: authenticator, at: now) {
        case .found(let foundStep, let foundDrift):
            (step, drift) = (foundStep, foundDrift)
        case .replayed, .notFound:
            audit(actor, .resync, .failed, target: target.name, organization: target.organization, detail: "\(label)")
            throw ServiceError(
                .wrongCode,
                "the two codes are not consecutive codes of '\(label)' within \(configuration.drift.resyncRange) "
                    + "steps of now, or one was already used: enter two new codes shown one after the other"
            )
        }
        do {
            try spendAdminChange(capacity, by: actor, .resync)
        } catch {
            // Right codes, refused for the admin's budget alone: no failure, so the attempt is not left counted.
            if let key { try storing { () throws(AccountStoreError) in try store.clearAttempts(key) } }
            throw error
        }
        // The same write as a login's: refused when the step is not later or the authenticator changed.
        let acceptance = try storing { () throws(AccountStoreError) in
            try store.recordAcceptedStep(
                step,
                for: target.name,
                authenticator: label,
                credential: authenticator.credential,
                drift: drift,
                at: now
            )
        }
        guard acceptance == .accepted else {
            audit(actor, .resync, .failed, target: target.name, organization: target.organization, detail: "\(label)")
            throw ServiceError(.wrongCode, "one of the codes was already used: enter two new codes")
        }
        if let key { try storing { () throws(AccountStoreError) in try store.clearAttempts(key) } }
        audit(
            actor,
            .resync,
            .ok,
            target: target.name,
            organization: target.organization,
            detail: "\(label): \(drift) steps"
        )
        logger.notice(
            "authenticator resynced",
            metadata: ["user": "\(target.name)", "authenticator": "\(label)", "steps": "\(drift)"]
        )
        return drift
    }

    /// The throttle key of resyncs of `target` from `peerUID`. Its subject is no account's name (a name never
    /// holds `/`, and the fingerprint of a name without an account never does either) and its origin an
    /// unprivileged one, so its failures count against this key alone: never toward a lock of the target's own
    /// logins, its account-wide counter, or any other account's, and not of another admin's uid either.
    static func resyncThrottleKey(_ target: AccountName, peerUID: UInt32) -> ThrottleKey {
        ThrottleKey(subject: resyncThrottleSubject(of: target), origin: .peer(uid: peerUID))
    }

    /// The subject of every uid's resync key of `target`: what `unlock` clears besides the target's own.
    static func resyncThrottleSubject(of target: AccountName) -> String {
        "\(target.value)/resync"
    }

    private static func checkCanAdd(_ label: AuthenticatorLabel, to account: Account) throws(ServiceError) {
        guard case .on = account.twoFactor, !account.authenticators.isEmpty else {
            throw ServiceError(
                .invalidArgument,
                "'\(account.name)' has no authenticator yet: enroll the first one with `2fa enroll \(account.name)` "
                    + "(or at its next login), then add more"
            )
        }
        guard account.authenticatorIndex(label) == nil else {
            throw ServiceError(
                .authenticatorExists,
                "'\(account.name)' already has an authenticator '\(label)': choose another label, or remove it first"
            )
        }
        guard account.authenticators.count < Account.maximumAuthenticators else {
            throw ServiceError(
                .invalidArgument,
                "an account has at most \(Account.maximumAuthenticators) authenticators"
            )
        }
    }

    private static func noSuchAuthenticator(_ label: AuthenticatorLabel, of name: AccountName) -> ServiceError {
        ServiceError(.noSuchAuthenticator, "'\(name)' has no authenticator '\(label)': see `2fa list \(name)`")
    }
}
