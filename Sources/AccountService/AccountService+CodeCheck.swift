import AccountStore
import Authentication
import Logging
import OneTimePassword

// MUSTs of a code check (a login whose password another PAM module already checked):
// - it is served only to privileged peers; deciding who they are is the dispatcher's job;
// - a code is accepted only through the store's replay guard, exactly as in a Login, and `.ok` is
//   returned only after the accepted step is durable;
// - every wrong or replayed code counts toward the account's throttle, and a locked account is
//   refused before anything is checked;
// - an account without a second factor answers `.ok` without touching the store: there is no code
//   to check, and the password was checked elsewhere (so its failure count is not reset here); an `off`
//   member of an organization that requires 2FA has one to enroll, as at a Login (LoginPolicy.swift);
// - no code is ever logged, and no password is ever involved (so no hash upgrade can happen here).

/// Where a login comes from, as the client reports it; only ever logged.
public struct LoginOriginInfo: Sendable, Hashable {
    public var service: String
    public var remoteHost: String
    /// The user who ran su or sudo, as the PAM module inside it reported; nil when there is none or
    /// the peer was not privileged enough to be believed.
    public var invokerUID: UInt32?

    public init(service: String, remoteHost: String, invokerUID: UInt32? = nil) {
        self.service = service
        self.remoteHost = remoteHost
        self.invokerUID = invokerUID
    }

    /// Client-supplied text reaches the log only as printable ASCII without spaces, so it cannot
    /// forge log lines or fields.
    static func loggable(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.prefix(255).map { $0.value > 0x20 && $0.value < 0x7F ? $0 : "?" }
            )
        )
    }
}

extension AccountService {
    /// The same service with every log line carrying `origin` (the PAM service, remote host and invoker).
    public func reporting(_ origin: LoginOriginInfo) -> AccountService {
        var scoped = logger
        if !origin.service.isEmpty { scoped[metadataKey: "service"] = "\(LoginOriginInfo.loggable(origin.service))" }
        if !origin.remoteHost.isEmpty {
            scoped[metadataKey: "rhost"] = "\(LoginOriginInfo.loggable(origin.remoteHost))"
        }
        if let invoker = origin.invokerUID { scoped[metadataKey: "invoker-uid"] = "\(invoker)" }
        // The same fingerprint key: deriving it again for every request would cost an HMAC each.
        return AccountService(
            store: store,
            hasher: hasher,
            configuration: configuration,
            clock: clock,
            logger: scoped,
            nameFingerprint: nameFingerprint,
            limits: limits
        )
    }

    /// Checks `code` for `user` without a password. With `.none`, says what the account needs:
    /// `.ok` (no second factor), `.codeNeeded`, or `.enroll` for a pending account. Throws
    /// `noSuchAccount` for an unknown user: only privileged peers may ask, and they may list accounts anyway.
    /// When `mayEnroll` says no (it is asked only for a pending account), the enrollment is neither offered nor
    /// finished here (`notPermitted`).
    public func checkCode(
        user: String,
        code: CodeInput,
        origin: ThrottleOrigin = .local,
        context: LoginContext = .unknown,
        mayEnroll: () -> Bool = { true }
    ) throws(ServiceError) -> LoginResult {
        let check = try startCodeCheck(user: user, code: code, origin: origin, context: context)
        guard let oneWrite = check.oneWrite else {
            return try checkCodeInSteps(check, code: code, context: context, mayEnroll: mayEnroll)
        }
        return try commit(oneWrite)
    }

    /// `checkCode` for a caller that does not wait for the durable write of the common case (a TOTP code for an
    /// enrolled account): `answer` gets the outcome once it is known, possibly on the store's writer thread, as a
    /// closure that logs it when called, so that the caller logs it where it wants to (not on that thread).
    /// Every other check runs at once, on this thread, as `checkCode` runs it.
    public func checkCode(
        user: String,
        code: CodeInput,
        origin: ThrottleOrigin,
        context: LoginContext,
        mayEnroll: () -> Bool,
        answer: @escaping (_ outcome: @escaping @Sendable () throws(ServiceError) -> LoginResult) -> Void
    ) {
        let check: CodeCheck
        do throws(ServiceError) {
            check = try startCodeCheck(user: user, code: code, origin: origin, context: context)
        } catch {
            return answer { () throws(ServiceError) in throw error }
        }
        guard let oneWrite = check.oneWrite else {
            let outcome = Result { () throws(ServiceError) in
                try checkCodeInSteps(check, code: code, context: context, mayEnroll: mayEnroll)
            }
            return answer { () throws(ServiceError) in try outcome.get() }
        }
        let report = oneWrite.report
        oneWrite.write(to: store) { verdict in
            answer { () throws(ServiceError) in
                self.finish(report, try verdict.mapError { self.reported($0) }.get())
            }
        }
    }

    /// A code check as far as it goes before anything is written: the common case (a TOTP code for an
    /// enrolled account) decided up to its one write, from a read that opens only the authenticators' secrets.
    private struct CodeCheck {
        var name: AccountName
        var key: ThrottleKey
        var now: UnixTime
        var oneWrite: OneWriteCodeCheck?
    }

    private func startCodeCheck(
        user: String,
        code: CodeInput,
        origin: ThrottleOrigin,
        context: LoginContext
    ) throws(ServiceError) -> CodeCheck {
        let now = clock()
        let name = try existingName(user)
        let key = ThrottleKey(subject: name.value, origin: origin)
        var check = CodeCheck(name: name, key: key, now: now)
        if case .totp = code,
            let (account, organization) = try storing({ () throws(AccountStoreError) in
                try store.accountForCodeCheckWithOrganization(named: name)
            })
        {
            if case .verifyCode(let text, _) = LoginPolicy.decide(
                account: account,
                organization: organization,
                passwordMatches: true,
                code: code,
                now: now
            ) {
                check.oneWrite = oneWriteCodeCheck(
                    text,
                    account: account,
                    key: key,
                    organization: organization,
                    context: context,
                    now: now,
                    attempt: "code check"
                )
            }
        }
        return check
    }

    /// Every other code check: the attempt reserved, then its steps, each written on its own.
    private func checkCodeInSteps(
        _ check: CodeCheck,
        code: CodeInput,
        context: LoginContext,
        mayEnroll: () -> Bool
    ) throws(ServiceError) -> LoginResult {
        let (name, key, now) = (check.name, check.key, check.now)
        guard let account = try storing({ () throws(AccountStoreError) in try store.account(named: name) }) else {
            throw ServiceError(.noSuchAccount, "no account named '\(name)'")
        }
        // A check without a code checks nothing, so it is no attempt: it reads the lock only to answer `locked`
        // before anyone is asked for a code. A check with a code is one attempt, counted before it is checked.
        let wait = code == .none ? try previewAttempt(key, now: now) : try reserveAttempt(key, now: now)
        if let wait {
            logger.info("code check refused: locked", metadata: ["user": "\(name)"])
            return .locked(retryAfter: wait)
        }
        // A code accepted by the store clears the attempt in the same write (`cleared`).
        var cleared = false
        let result = try secondFactor(
            of: account,
            code: code,
            now: now,
            context: context,
            key: key,
            mayEnroll: mayEnroll,
            cleared: &cleared
        )
        if !cleared { try clearAttemptIfPassed(key, result) }
        return result
    }

    private func secondFactor(
        of account: Account,
        code: CodeInput,
        now: UnixTime,
        context: LoginContext,
        key: ThrottleKey,
        mayEnroll: () -> Bool,
        cleared: inout Bool
    ) throws(ServiceError) -> LoginResult {
        let name = account.name
        func enrollsElsewhere() -> ServiceError {
            ServiceError(
                .notPermitted,
                "'\(name)' has no authenticator yet, and only the account's own login may enroll one: "
                    + "'\(name)' logs in once with `twofactor login \(name)` or through sshd"
            )
        }
        let organization = try accessOrganization(of: account)
        // The password was checked by another module: the rest is a login's second half, shared with Login.
        let decision = LoginPolicy.decide(
            account: account,
            organization: organization,
            passwordMatches: true,
            code: code,
            now: now
        )
        switch decision {
        case .deny:
            return try deny(account, user: name.value, now: now, reason: "wrong code")
        case .succeed:
            logger.info("code check ok", metadata: ["user": "\(name)", "factors": "none enrolled"])
            return .ok
        case .askForCode:
            // The password was checked by another module of the stack, so a waiver applies as in a Login.
            guard
                let waiver = CodeWaiverPolicy.waiver(
                    for: account,
                    passwordMatches: true,
                    organization: organization,
                    defaultGracePeriod: configuration.gracePeriod,
                    context: context,
                    now: now
                ), try useWaiver(waiver, account: account, context: context, now: now)
            else { return .codeNeeded }
            loginSucceeded(account, factors: "no code: " + waiver.reason)
            return .ok
        case .verifyCode(let text, _):
            cleared = true
            return try acceptCode(
                text,
                account: account,
                passwordCheckedAgainst: nil,
                clearing: key,
                now: now,
                grace: graceGrant(organization: organization, context: context, now: now)
            )
        case .useRecoveryCode(let text):
            return try useRecoveryCode(text, account: account, passwordCheckedAgainst: nil, now: now)
        case .startEnrollment(let existing):
            guard mayEnroll() else { throw enrollsElsewhere() }
            return try offerEnrollment(
                account,
                existing: existing,
                passwordCheckedAgainst: nil,
                organization: organization,
                now: now
            )
        case .finishEnrollment(let text, let pending):
            guard mayEnroll() else { throw enrollsElsewhere() }
            return try finishEnrollmentAtLogin(text, pending, account: account, organization: organization, now: now)
                .0
        }
    }

    /// A TOTP code checked with one durable write (`AccountStore.checkAttempt`): the throttle decision, the
    /// replay guard, the failure or the cleared throttle, and the audit record. The code is matched here,
    /// against the account as read; only the store's answer reaches the caller (`commit` or
    /// `OneWriteCodeCheck.write(to:whenDurable:)`, then `finish`), so a locked account's right code is refused
    /// like any other, and the store's replay guard has the last word. `attempt` names the request in the log.
    func oneWriteCodeCheck(
        _ code: String,
        account: Account,
        passwordCheckedAgainst passwordHash: String? = nil,
        key: ThrottleKey,
        organization: Organization?,
        context: LoginContext,
        now: UnixTime,
        attempt: String
    ) -> OneWriteCodeCheck {
        var matched: (authenticator: Authenticator, claim: StepClaim)?
        var reason = "wrong code"
        switch configuration.drift.match(code, among: account.authenticators, at: now) {
        case .wrong:
            break
        case .replayed:
            reason = "replayed code"
        case .accepted(let authenticator, let step, let drift, let offset):
            // Refused by the store only when the step was taken, or the password changed, meanwhile.
            reason = Self.replayedOrChanged(passwordHash)
            let claim = StepClaim(authenticator, step: step, drift: drift, offset: offset, passwordHash: passwordHash)
            matched = (authenticator, claim)
        }
        return OneWriteCodeCheck(
            report: CodeCheckReport(account: account, attempt: attempt, reason: reason, matched: matched),
            key: key,
            claim: matched.map { .step($0.claim, of: account.name) } ?? .failed,
            alongside: graceGrant(organization: organization, context: context, now: now),
            now: now,
            decide: throttleDecision(for: key, now: now),
            // A code that matched is refused only by a replay race: only a wrong one spends the origin's budget.
            audit: AttemptAudit(
                accepted: loginAudit(account, factors: "password+totp"),
                denied: matched == nil
                    ? denialRecord(account, reason: reason, from: key.origin)
                    : .record(loginDenial(account, reason: reason))
            )
        )
    }

    /// A one-write code check written, its outcome logged and answered.
    func commit(_ check: OneWriteCodeCheck) throws(ServiceError) -> LoginResult {
        finish(check.report, try storing { () throws(AccountStoreError) in try check.write(to: store) })
    }

    /// What the store said of a one-write code check, logged and answered.
    func finish(_ check: CodeCheckReport, _ verdict: AttemptVerdict) -> LoginResult {
        let name = check.account.name
        switch verdict {
        case .locked(let wait):
            logger.info("\(check.attempt) refused: locked", metadata: ["user": "\(name)"])
            return .locked(retryAfter: wait)
        case .denied:
            logger.info("login denied", metadata: ["user": "\(name)", "reason": "\(check.reason)"])
            return .denied
        case .accepted:
            if let matched = check.matched {
                noteLearnedDrift(matched.claim, of: matched.authenticator, account: check.account)
            }
            loginSucceeded(check.account, factors: "password+totp", audited: true)
            return .ok
        }
    }
}

/// What a one-write code check logs once the store answered: the account as read, the request's name in the
/// log, why a denial is one, and the authenticator and step the code matched.
struct CodeCheckReport: Sendable {
    var account: Account
    var attempt: String
    var reason: String
    var matched: (authenticator: Authenticator, claim: StepClaim)?
}

/// A code check decided up to its one durable write (`AccountService.oneWriteCodeCheck`).
struct OneWriteCodeCheck {
    var report: CodeCheckReport
    var key: ThrottleKey
    var claim: AttemptClaim
    var alongside: AcceptedStepChange?
    var now: UnixTime
    var decide: ThrottleDecision
    var audit: AttemptAudit

    func write(to store: any AccountStore) throws(AccountStoreError) -> AttemptVerdict {
        try store.checkAttempt(key, claiming: claim, alongside: alongside, at: now, decide: decide, audit: audit)
    }

    func write(to store: any AccountStore, whenDurable: @escaping (Result<AttemptVerdict, AccountStoreError>) -> Void) {
        store.checkAttempt(
            key,
            claiming: claim,
            alongside: alongside,
            at: now,
            decide: decide,
            audit: audit,
            whenDurable: whenDurable
        )
    }
}
