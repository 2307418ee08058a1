import AccountStore
import Authentication
import OneTimePassword

// MUSTs of the two-factor operations:
// - every change is decided by `AccessPolicy` first; a refusal changes nothing and is audited (within the
//   account's budget, `AccountLimits`);
// - a request that would change nothing writes nothing and is not audited (a disable of a state already off, a
//   force of a state already required, a reset of an account already pending with nothing to discard), and an
//   account's own changes and an admin's changes to other accounts are bounded per minute (`AccountLimits`);
// - a state is never weakened by the account alone when an admin or operator required it, nor when its
//   organization requires 2FA; an admin or operator who turns it off there leaves the account `pending`, never
//   `off` (OrganizationRequirement.swift);
// - an enrollment changes the state only once a right code confirms it, and then hands out a fresh set
//   of recovery codes, shown once and stored as hashes.

extension AccountService {
    /// Draws a new secret and keeps it as the account's pending enrollment; a pending enrollment with the same
    /// parameters that is still valid is offered again without a write, so one scan is enough. The current
    /// two-factor state stands until `confirmEnrollment` succeeds. A new one counts as a change of the account
    /// to itself (`spendSelfServiceChange`).
    public func beginEnrollment(
        caller: Caller,
        name: String,
        parameters: TOTPParameters
    ) throws(ServiceError) -> EnrollmentOffer {
        let target = try target(name, for: caller, action: .enroll)
        let (capacity, actor) = try authorize(caller, .enroll, target: target, action: .enroll)
        let now = clock()
        if let live = target.pendingEnrollment, live.expiresAt > now, live.credential.parameters == parameters {
            return EnrollmentOffer(otpauthURI: try uri(for: target.name, live.credential), expiresAt: live.expiresAt)
        }
        let pending = try newEnrollment(for: target.name, parameters: parameters)
        try spendSelfServiceChange(capacity, by: actor, "enrollment")
        try updating(target, as: caller) { account in account.pendingEnrollment = pending }
        logger.notice("enrollment started", metadata: ["user": "\(target.name)"])
        return EnrollmentOffer(otpauthURI: try uri(for: target.name, pending.credential), expiresAt: pending.expiresAt)
    }

    /// Turns 2FA on with the pending secret when `code` is right for it, and returns the new recovery
    /// codes and the account as it is now. The code's step becomes the last accepted one, so it cannot be used
    /// again to log in.
    @discardableResult
    public func confirmEnrollment(
        caller: Caller,
        name: String,
        code: String
    ) throws(ServiceError) -> (recoveryCodes: [String], account: Account) {
        let target = try target(name, for: caller, action: .enroll)
        let (capacity, actor) = try authorize(caller, .enroll, target: target, action: .enroll)
        let now = clock()
        guard let pending = target.pendingEnrollment, pending.expiresAt > now else {
            throw ServiceError(
                .noEnrollmentInProgress,
                "no enrollment is in progress for '\(target.name)' (or it expired): start one with `2fa enroll` "
                    + "or `2fa enable`"
            )
        }
        guard let step = matchingStep(code, for: pending.credential, now: now) else {
            audit(actor, .enroll, .failed, target: target.name, organization: target.organization, detail: "wrong code")
            throw ServiceError(.wrongCode, "the code is wrong: check the clock of the device and try the next code")
        }
        let (codes, hashes) = RecoveryCodes.issue()
        let enrolled = try updating(target, as: caller) { (account: inout Account) throws(ServiceError) in
            try Self.finishEnrollment(
                &account,
                pending,
                step: step,
                by: actor,
                capacity: capacity,
                recoveryCodes: hashes,
                now: now
            )
        }
        let action: AuditAction = capacity == .ownAccount ? .enable : .enroll
        audit(
            actor,
            action,
            .ok,
            target: target.name,
            organization: target.organization,
            detail: "\(enrolled.twoFactor)"
        )
        logger.notice("two-factor enrolled", metadata: ["user": "\(target.name)"])
        return (codes, enrolled)
    }

    /// Requires two-factor authentication: `off` becomes `pending` (the next login enrolls), `on`/`self`
    /// becomes `on`/`enforced`. Already required: nothing changes, nothing is written or audited.
    public func forceTwoFactor(caller: Caller, name: String) throws(ServiceError) {
        let target = try target(name, for: caller, action: .force)
        let (capacity, actor) = try authorize(caller, .forceTwoFactor, target: target, action: .force)
        guard !Self.isRequired(target.twoFactor) else { return }
        try spendAdminChange(capacity, by: actor, .force)
        let now = clock()
        let forced = try updating(target, as: caller) { account in
            switch account.twoFactor {
            case .off: account.twoFactor = .pending
            case .on(.self): account.twoFactor = .on(.enforced)
            // Required meanwhile: the record is written back as it is.
            case .pending, .on(.enforced): return
            }
            account.twoFactorChange = StateChange(actor: actor, time: now)
            account.updatedAt = now
        }
        audit(actor, .force, .ok, target: target.name, organization: target.organization, detail: "\(forced.twoFactor)")
        logger.notice("two-factor required", metadata: ["user": "\(target.name)"])
    }

    /// Turns two-factor authentication off and discards the secret, the pending enrollment and the
    /// recovery codes. The account itself may do this only to a state it set itself, and never while its
    /// organization requires 2FA; an admin or operator may, but there the account is left `pending` (its next
    /// login enrolls), not `off`. Already in that state with nothing to discard: nothing is written or audited.
    /// Returns the account as it is now.
    @discardableResult
    public func disableTwoFactor(caller: Caller, name: String) throws(ServiceError) -> Account {
        let target = try target(name, for: caller, action: .disable)
        let (capacity, actor) = try authorize(caller, .disableTwoFactor, target: target, action: .disable)
        let resulting = try stateWithoutSecondFactor(of: target, capacity: capacity, caller: caller, action: .disable)
        guard !Self.isAlready(resulting, target) else {
            // Nothing is written, so no write checks the session; the account read here may already carry
            // someone else's change, which the session must not go on with.
            try Self.checkSession(of: caller, stillHoldsFor: target)
            return target
        }
        try spendAdminChange(capacity, by: actor, .disable)
        let now = clock()
        let disabled = try updating(target, as: caller) { (account: inout Account) throws(ServiceError) in
            // Re-checked inside the write: an admin may have forced 2FA since the policy was decided.
            if capacity == .ownAccount,
                case .refused(let reason) = AccessPolicy.decide(.account(account), .disableTwoFactor, target: account)
            {
                throw ServiceError(.notPermitted, reason)
            }
            Self.discardSecrets(&account)
            account.twoFactor = resulting
            account.twoFactorChange = StateChange(actor: actor, time: now)
            account.updatedAt = now
        }
        audit(
            actor,
            .disable,
            .ok,
            target: target.name,
            organization: target.organization,
            detail: Self.requirementNote(resulting, of: target)
        )
        logger.notice("two-factor disabled", metadata: ["user": "\(target.name)", "state": "\(resulting)"])
        return disabled
    }

    /// The state a disable (or the removal of the last authenticator) leaves the target in: `off`, or `pending`
    /// while its organization requires 2FA. The account itself is refused there (the refusal audited as
    /// `action`), as it is for a state an admin or operator required.
    func stateWithoutSecondFactor(
        of target: Account,
        capacity: Capacity,
        caller: Caller,
        action: AuditAction
    ) throws(ServiceError) -> TwoFactorState {
        let organization = try accessOrganization(of: target)
        let resulting = OrganizationRequirement.stateWithoutSecondFactor(of: target, in: organization)
        if resulting != .off, capacity == .ownAccount {
            throw refusal(
                OrganizationRequirement.refusalToTurnOff(target),
                of: caller,
                action: action,
                target: target.name,
                requested: nil
            )
        }
        return resulting
    }

    /// The audit detail of a change that left `target` without a second factor: empty for `off`, why for
    /// `pending`.
    static func requirementNote(_ state: TwoFactorState, of target: Account) -> String {
        state == .off ? "" : "\(state): '\(target.organization)' requires two-factor authentication"
    }

    /// Discards the secret and the recovery codes and sets `pending`: the next login enrolls a new
    /// authenticator. How an admin who lost its phone gets back in (an operator resets it). Already pending with
    /// nothing to discard: nothing is written or audited.
    public func resetTwoFactor(caller: Caller, name: String) throws(ServiceError) {
        let target = try target(name, for: caller, action: .reset)
        let (capacity, actor) = try authorize(caller, .resetTwoFactor, target: target, action: .reset)
        guard !Self.isAlready(.pending, target) else { return }
        try spendAdminChange(capacity, by: actor, .reset)
        let now = clock()
        try updating(target, as: caller) { account in
            Self.discardSecrets(&account)
            account.twoFactor = .pending
            account.twoFactorChange = StateChange(actor: actor, time: now)
            account.updatedAt = now
        }
        audit(actor, .reset, .ok, target: target.name, organization: target.organization)
        logger.notice("two-factor reset", metadata: ["user": "\(target.name)"])
    }

    /// Replaces the account's recovery codes with a new set and returns it. A change of the account to itself
    /// (`spendSelfServiceChange`): each one is written and audited, so an account gets a few a minute.
    @discardableResult
    public func issueRecoveryCodes(caller: Caller, name: String) throws(ServiceError) -> [String] {
        let target = try target(name, for: caller, action: .recoveryCodesIssued)
        let (capacity, actor) = try authorize(
            caller,
            .issueRecoveryCodes,
            target: target,
            action: .recoveryCodesIssued
        )
        try spendSelfServiceChange(capacity, by: actor, "recovery codes")
        let (codes, hashes) = RecoveryCodes.issue()
        let now = clock()
        try updating(target, as: caller) { (account: inout Account) throws(ServiceError) in
            guard case .on = account.twoFactor else {
                throw ServiceError(.invalidArgument, "recovery codes come with an enrolled authenticator")
            }
            account.recoveryCodes = hashes
            account.updatedAt = now
        }
        audit(actor, .recoveryCodesIssued, .ok, target: target.name, organization: target.organization)
        logger.notice("recovery codes issued", metadata: ["user": "\(target.name)"])
        return codes
    }

    private static func isRequired(_ state: TwoFactorState) -> Bool {
        state == .pending || state == .on(.enforced)
    }

    /// Whether `account` is in `state` with nothing that a disable (`.off`) or a reset (`.pending`) would discard.
    private static func isAlready(_ state: TwoFactorState, _ account: Account) -> Bool {
        var cleared = account
        discardSecrets(&cleared)
        cleared.twoFactor = state
        return cleared == account
    }

    static func discardSecrets(_ account: inout Account) {
        account.authenticators = []
        account.pendingAuthenticator = nil
        account.pendingEnrollment = nil
        account.recoveryCodes = []
        account.enrolledAt = nil
        // A grace was earned with the authenticator now gone: the next login must show the new one.
        account.graces = []
    }
}
