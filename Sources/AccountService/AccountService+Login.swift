import AccountStore
import Authentication
import OneTimePassword

// MUSTs of a login:
// - `.ok` is returned only after the accepted code's step is durable in the store (the replay guard);
// - the lock decision and the failure count are one atomic step, taken in the durable write that decides the
//   login (`AccountStore.checkAttempt`), or before any other write when it takes several
//   (`AccountStore.reserveAttempt`); nothing is answered before it, so however many logins run in parallel,
//   no more outcomes reach a client than the throttle allows. The password is hashed after a preview of the
//   lock (which writes nothing): a login that raced into a lock meanwhile is answered `locked`, its hash
//   thrown away;
// - every password checked is a counted attempt: the one exception, a login completing the attempt its
//   `codeNeeded` answer held, is the same user sending the same password again with its code, so that it adds
//   no guess (PasswordMemo.swift);
// - a stranger's failures count against (account, that peer's uid) only, and so do those of a user who
//   ran su or sudo (the invoker a privileged peer reports); other failures through privileged peers count
//   against the account (and the remote host), toward its hard lock, and a name without an account is
//   counted and locked the same way, so that `locked` never tells which accounts exist;
// - no password oracle: until a code has been checked, the answer and the work are the same for a right
//   password, a wrong one and an unknown user; only a 2FA-off account's right password answers `ok`
//   without a code (or, when the operator set one up, a 2FA-on account's right password under a grace, from
//   a trusted network or through an exemption: AccountService+CodeWaiver.swift), and only a pending
//   account's right password answers `enroll`;
// - a login is decided on the account as read before its password was hashed, and accepted only if the write that
//   accepts it finds the account still so: the password hash it verified against (a password changed, or the
//   account removed and made again, meanwhile) and, without a code, the two-factor state it decided on; else it is
//   denied and counted as a wrong password is (`StepClaim.passwordHash`, `AttemptClaim.passed`), unless only a
//   rehash of the same password changed it: then it is decided once more, counted once
//   (AccountService+RehashedLogin.swift);
// - an unknown user's dummy scrypt runs at the cost of the stored hashes (`PasswordHasher.unknownUserCost`);
// - no password or code is ever logged, and a name that is not an account is logged as a fingerprint.

extension AccountService {
    /// Decides one login attempt from `origin`. Throws only when the store fails; the caller answers with
    /// an error, never with `.ok`. `attemptHeld` says that this login completes an attempt already counted
    /// (the same user's login without a code, just answered `codeNeeded` on the same connection); it holds only
    /// when `passwordMemo` is that login's memo and this login sends the same password
    /// (`PasswordMemo.holdsCheck`): any other is a guess of its own, checked against the lock and counted. `context`
    /// says what the daemon knows of the peer, for grace periods, trusted networks and exemptions.
    /// `passwordMemo` keeps this login's password check for the next (PasswordMemo.swift): given a memo
    /// that already holds a check of the same password, the password is not hashed again.
    public func login(
        user: String,
        password: [UInt8],
        code: CodeInput,
        origin: ThrottleOrigin = .local,
        attemptHeld: Bool = false,
        context: LoginContext = .unknown,
        passwordMemo: PasswordMemo? = nil
    ) throws(ServiceError) -> LoginResult {
        try openSession(
            user: user,
            password: password,
            code: code,
            origin: origin,
            attemptHeld: attemptHeld,
            context: context,
            passwordMemo: passwordMemo
        ).result
    }

    /// Decides a Login as `login` does; one that logs in also opens a session for the account as this login
    /// found it, with this login's own changes (an enrollment it finished, a password hash it upgraded): a
    /// change someone else made meanwhile is not in it, so such a session is refused at its first request.
    public func openSession(
        user: String,
        password: [UInt8],
        code: CodeInput,
        origin: ThrottleOrigin = .local,
        attemptHeld: Bool = false,
        context: LoginContext = .unknown,
        passwordMemo: PasswordMemo? = nil
    ) throws(ServiceError) -> (result: LoginResult, session: AccountSession?) {
        let (result, account) = try decideLogin(
            user: user,
            password: password,
            code: code,
            origin: origin,
            attemptHeld: attemptHeld,
            context: context,
            passwordMemo: passwordMemo
        )
        guard result.logsIn, let account else { return (result, nil) }
        let upgraded = upgradePasswordHashIfNeeded(account, password: password)
        // Only a login that got in teaches the unknown-user cost: anyone may try a wrong password on any account.
        hasher.noteStoredHash(upgraded.passwordHash, of: upgraded.name.value)
        return (result, session(for: upgraded))
    }

    /// `login`'s decision, and the account as the login left it (meaningful only when it logs in).
    private func decideLogin(
        user: String,
        password: [UInt8],
        code: CodeInput,
        origin: ThrottleOrigin,
        attemptHeld: Bool,
        context: LoginContext,
        passwordMemo: PasswordMemo?
    ) throws(ServiceError) -> (LoginResult, Account?) {
        let now = clock()
        // Only the password the held attempt counted completes it: another password is a new guess, and a guess
        // that skipped the lock and the count would double what the throttle allows.
        let attemptHeld = attemptHeld && passwordMemo?.holdsCheck(of: password, for: user) == true
        // A name that could never exist is an unknown user, not a separate error: the answer must not differ.
        let name = try? AccountName(user)
        // Before the throttle decision, only whether the account exists: its record is decoded and its secrets
        // opened after it, so that a `locked` answer, which writes nothing to mask it, takes as long for an
        // account with 2FA, one without and a name without one.
        let existing = try name.flatMap { name throws(ServiceError) in
            try storing { () throws(AccountStoreError) in try store.accountExists(named: name) } ? name : nil
        }
        // Only an existing account's name reaches the log or the throttle database: anything else may be
        // a password typed into the user field (or forge log lines), so it is kept as a keyed fingerprint,
        // computed for every name so that its HMAC does not tell them apart either.
        let fingerprint = nameFingerprint.of(user)
        let logName = existing?.value ?? fingerprint
        let key = ThrottleKey(subject: logName, origin: origin)
        // A login completing the attempt its `codeNeeded` answer held was counted then; it is not counted twice.
        // A refusal while locked is logged, not audited: the failures that locked the key are in the trail, and a
        // refusal that costs the daemon no write can neither push those out of the capped trail nor tell, by
        // its time, an account from a name without one.
        // This is only a preview, which writes nothing: the decision is taken again, and the attempt counted, in
        // the write that decides the login, or before any other write when it takes several.
        if !attemptHeld, let wait = try previewAttempt(key, now: now) {
            logger.info("login refused: locked", metadata: ["user": "\(logName)"])
            return (.locked(retryAfter: wait), nil)
        }
        // Nil also when the account was removed since: the login then goes on as for a name without one.
        // With 2FA on, only the authenticators' secrets are opened: not the recovery codes (matched inside the
        // write that spends one), so a login of an enrolled account opens one secret, not eleven. A name without
        // an account has a stand-in read in its place, at the same cost (`AccountStore.accountForLogin`).
        let account = try storing { () throws(AccountStoreError) -> Account? in
            guard let existing else {
                try store.readStandInForLogin()
                return nil
            }
            return try store.accountForLogin(named: existing)
        }

        // An unknown user's dummy scrypt runs at the cost stored hashes have (not the configured one,
        // which differs after an operator changed it): learn those costs once from the store.
        hasher.seedStoredCosts {
            (try? store.accounts(in: nil, after: nil, limit: 64))?.map { ($0.name.value, $0.passwordHash) } ?? []
        }
        let storedHash = account?.passwordHash
        let passwordMatches: Bool
        if let known = passwordMemo?.recall(user: user, password: password, storedHash: storedHash) {
            passwordMatches = known
        } else {
            if let account {
                passwordMatches = (try? hasher.verify(password, against: account.passwordHash)) ?? false
            } else {
                passwordMatches = hasher.verifyUnknownUser(password)
            }
            passwordMemo?.remember(user: user, password: password, storedHash: storedHash, matched: passwordMatches)
        }

        // Read for every login, known user or not, so that the work does not depend on the password.
        let organization = try accessOrganization(of: account)

        let decision = LoginPolicy.decide(
            account: account,
            organization: organization,
            passwordMatches: passwordMatches,
            code: code,
            now: now
        )
        if !attemptHeld {
            if let decided = try decideInOneWrite(
                decision,
                account: account,
                password: password,
                passwordMatches: passwordMatches,
                logName: logName,
                key: key,
                organization: organization,
                context: context,
                now: now
            ) {
                return decided
            }
            // The rest take several writes (a waiver, a recovery code, an enrollment): the attempt is counted first.
            if let wait = try reserveAttempt(key, now: now) {
                logger.info("login refused: locked", metadata: ["user": "\(logName)"])
                return (.locked(retryAfter: wait), nil)
            }
        }

        let result: LoginResult
        var loggedIn = account
        switch decision {
        case .deny:
            if let account {
                result = try deny(
                    account,
                    user: logName,
                    now: now,
                    reason: passwordMatches ? "wrong code" : "wrong password",
                    key: key
                )
            } else {
                result = denyUnknownName(logName, key: key)
            }
        case .succeed:
            guard let account else { return (.denied, nil) }
            // Its 2FA was turned off since the held attempt's `codeNeeded`.
            return try acceptPassword(account, logName: logName, key: key, now: now)
        case .askForCode:
            if let account,
                let waiver = CodeWaiverPolicy.waiver(
                    for: account,
                    passwordMatches: passwordMatches,
                    organization: organization,
                    defaultGracePeriod: configuration.gracePeriod,
                    context: context,
                    now: now
                ), try useWaiver(waiver, account: account, password: password, context: context, now: now)
            {
                loginSucceeded(account, factors: "password, no code: " + waiver.reason)
                result = .ok
            } else {
                // The same for a right password, a wrong one and an unknown user; the attempt stays counted.
                logger.info("login needs a code", metadata: ["user": "\(logName)"])
                result = .codeNeeded
            }
        case .verifyCode(let text, _):
            guard let account else { return (.denied, nil) }
            // Accepting the code clears the attempt in the same write.
            let accepted = try acceptCode(
                text,
                account: account,
                passwordCheckedAgainst: account.passwordHash,
                password: password,
                clearing: key,
                now: now,
                grace: graceGrant(organization: organization, context: context, now: now)
            )
            return (accepted, account)
        case .useRecoveryCode(let text):
            guard let account else { return (.denied, nil) }
            result = try useRecoveryCode(
                text,
                account: account,
                passwordCheckedAgainst: account.passwordHash,
                password: password,
                now: now
            )
        case .startEnrollment(let existing):
            guard let account else { return (.denied, nil) }
            result = try offerEnrollment(
                account,
                existing: existing,
                passwordCheckedAgainst: account.passwordHash,
                organization: organization,
                now: now
            )
        case .finishEnrollment(let text, let pending):
            guard let account else { return (.denied, nil) }
            (result, loggedIn) = try finishEnrollmentAtLogin(
                text,
                pending,
                account: account,
                organization: organization,
                now: now
            )
        }
        try clearAttemptIfPassed(key, result)
        return (result, loggedIn)
    }

    /// The decisions a login can take in one durable write (`AccountStore.checkAttempt`): the throttle decision
    /// taken again (a login racing this one may have locked the key since the preview), the attempt counted or
    /// passed, and its audit record. Nil for the rest, which need other writes. Nothing is answered before that
    /// write is durable, so the password hashed before it tells the client nothing the throttle did not allow.
    private func decideInOneWrite(
        _ decision: LoginDecision,
        account: Account?,
        password: [UInt8],
        passwordMatches: Bool,
        logName: String,
        key: ThrottleKey,
        organization: Organization?,
        context: LoginContext,
        now: UnixTime
    ) throws(ServiceError) -> (LoginResult, Account?)? {
        let claim: AttemptClaim
        let audit: AttemptAudit
        let reason: String
        switch decision {
        case .deny:
            reason = account == nil ? "unknown user" : passwordMatches ? "wrong code" : "wrong password"
            claim = .failed
            audit = AttemptAudit(
                accepted: nil,
                denied: account.map { denialRecord($0, reason: reason, from: key.origin) } ?? .maskingUnknownName
            )
        case .succeed:
            guard let account else { return (.denied, nil) }
            // Refused by the store when the password or the 2FA state changed while the password was hashed.
            claim = .passed(account.name, passwordHash: account.passwordHash, twoFactor: account.twoFactor)
            reason = Self.changedDuringTheLogin
            // A login that may be decided again writes its denial only once it is one (below), so that one decided
            // again and let in leaves only its success in the trail (AccountService+RehashedLogin).
            audit = AttemptAudit(
                accepted: loginAudit(account, factors: "password"),
                denied: mayBeDecidedAgain(account, password: password)
                    ? .none : .record(loginDenial(account, reason: reason))
            )
        case .askForCode:
            let waiver = CodeWaiverPolicy.waiver(
                for: account,
                passwordMatches: passwordMatches,
                organization: organization,
                defaultGracePeriod: configuration.gracePeriod,
                context: context,
                now: now
            )
            guard waiver == nil else { return nil }
            // The same for a right password, a wrong one and an unknown user; the attempt stays counted.
            (claim, reason) = (.failed, "")
            audit = AttemptAudit(accepted: nil, denied: .none)
        case .verifyCode(let text, _):
            guard let account else { return (.denied, nil) }
            var check = oneWriteCodeCheck(
                text,
                account: account,
                passwordCheckedAgainst: account.passwordHash,
                key: key,
                organization: organization,
                context: context,
                now: now,
                attempt: "login"
            )
            // A right code that may be decided again writes its denial only once it is one (below), so that one
            // decided again and let in leaves only its success in the trail.
            let decidedAgainIfRefused = check.report.matched != nil && mayBeDecidedAgain(account, password: password)
            if decidedAgainIfRefused { check.audit.denied = .none }
            let verdict = try storing { () throws(AccountStoreError) in try check.write(to: store) }
            guard case .denied = verdict, decidedAgainIfRefused else { return (finish(check.report, verdict), account) }
            // A right code refused because a login of the same user rehashed the password meanwhile: the attempt
            // that write counted is decided once more on the account as it is now (AccountService+RehashedLogin).
            if let current = try rehashedDuringTheLogin(
                account,
                password: password,
                stillDecides: stillAccepts(text, at: now)
            ) {
                let accepted = try acceptCode(
                    text,
                    account: current,
                    passwordCheckedAgainst: current.passwordHash,
                    clearing: key,
                    now: now,
                    grace: graceGrant(organization: organization, context: context, now: now)
                )
                return (accepted, current)
            }
            append(loginDenial(account, reason: check.report.reason))
            return (finish(check.report, verdict), account)
        case .useRecoveryCode, .startEnrollment, .finishEnrollment:
            return nil
        }
        let verdict = try storing { () throws(AccountStoreError) in
            try store.checkAttempt(
                key,
                claiming: claim,
                alongside: nil,
                at: now,
                decide: throttleDecision(for: key, now: now),
                audit: audit
            )
        }
        switch verdict {
        case .locked(let wait):
            logger.info("login refused: locked", metadata: ["user": "\(logName)"])
            return (.locked(retryAfter: wait), nil)
        case .denied where decision == .askForCode:
            logger.info("login needs a code", metadata: ["user": "\(logName)"])
            return (.codeNeeded, nil)
        case .denied where decision == .succeed:
            // Refused because the account changed: when only a login of the same user's rehash did, the attempt
            // that write counted is decided once more on the account as it is now (AccountService+RehashedLogin);
            // else its denial is audited now, which that write left out.
            if let account, mayBeDecidedAgain(account, password: password) {
                if let current = try rehashedDuringTheLogin(account, password: password) {
                    return try acceptPassword(current, logName: logName, key: key, now: now)
                }
                return (try deny(account, user: logName, now: now, reason: reason), nil)
            }
            logger.info("login denied", metadata: ["user": "\(logName)", "reason": "\(reason)"])
            return (.denied, nil)
        case .denied:
            logger.info("login denied", metadata: ["user": "\(logName)", "reason": "\(reason)"])
            return (.denied, nil)
        case .accepted:
            guard let account else { return (.denied, nil) }
            loginSucceeded(account, factors: "password", audited: true)
            return (.ok, account)
        }
    }

    /// Accepts a login without a code whose attempt is counted already (held since its `codeNeeded`, or counted by
    /// a write that found the password rehashed): the success, checked against the account as stored (its password
    /// or 2FA may have changed since `account` was read), then the throttle clear.
    private func acceptPassword(
        _ account: Account,
        logName: String,
        key: ThrottleKey,
        now: UnixTime
    ) throws(ServiceError) -> (LoginResult, Account?) {
        do {
            try store.update(account.name) { (stored: inout Account) throws(LoginWriteRefusal) in
                guard
                    stored.stillAcceptsLogin(
                        passwordCheckedAgainst: account.passwordHash,
                        twoFactor: account.twoFactor
                    )
                else { throw .accountChanged }
                stored.failureCount = 0
                stored.lastLoginAt = now
                stored.updatedAt = now
            }
        } catch {
            switch error {
            case .rejected, .store(.notFound):
                return (try deny(account, user: logName, now: now, reason: Self.changedDuringTheLogin), nil)
            case .store(let error): throw ServiceError.from(error)
            }
        }
        try clearAttemptIfPassed(key, .ok)
        loginSucceeded(account, factors: "password")
        return (.ok, account)
    }

    /// Takes the attempt's place in the throttle: nil when it may run (it is counted as a failure until
    /// `clearAttemptIfPassed`), else the seconds to wait.
    func reserveAttempt(_ key: ThrottleKey, now: UnixTime) throws(ServiceError) -> Int64? {
        let reservation = try storing { () throws(AccountStoreError) in
            try store.reserveAttempt(key, at: now, decide: throttleDecision(for: key, now: now))
        }
        if case .locked(let wait) = reservation { return wait }
        return nil
    }

    /// What `reserveAttempt` would answer now, without counting anything (`AccountStore.previewAttempt`).
    func previewAttempt(_ key: ThrottleKey, now: UnixTime) throws(ServiceError) -> Int64? {
        let reservation = try storing { () throws(AccountStoreError) in
            try store.previewAttempt(key, decide: throttleDecision(for: key, now: now))
        }
        if case .locked(let wait) = reservation { return wait }
        return nil
    }

    /// The throttle's rule for an attempt of `key`, given the key's record and, for a privileged origin, the
    /// account-wide failures (an account's own, or the stand-in's of a name without one: alike on purpose).
    func throttleDecision(for key: ThrottleKey, now: UnixTime) -> ThrottleDecision {
        let policy = configuration.throttle
        return { record, accountWide in
            if let accountWide, key.origin.isPrivileged,
                let wait = policy.retryAfter(accountWide: accountWide, now: now)
            {
                return .locked(retryAfter: wait)
            }
            if let wait = policy.retryAfter(failures: record.failures, lastFailure: record.lastFailureAt, now: now) {
                return .locked(retryAfter: wait)
            }
            return .allowed
        }
    }

    /// An attempt that got past the password (and code) clears its failures; any other keeps them counted.
    func clearAttemptIfPassed(_ key: ThrottleKey, _ result: LoginResult) throws(ServiceError) {
        switch result {
        case .ok, .enrolled, .recovered, .enroll:
            try storing { () throws(AccountStoreError) in try store.clearAttempts(key) }
        case .codeNeeded, .denied, .locked:
            break
        }
    }

    /// Accepts `code` from any of the account's authenticators (`DriftPolicy` decides which matched and
    /// the drift it learns), only once the store has recorded its step for that authenticator. A login's
    /// `password`, when given, lets it be decided once more if the password was rehashed meanwhile
    /// (AccountService+RehashedLogin).
    func acceptCode(
        _ code: String,
        account: Account,
        passwordCheckedAgainst passwordHash: String?,
        password: [UInt8]? = nil,
        clearing key: ThrottleKey?,
        now: UnixTime,
        grace: AcceptedStepChange? = nil
    ) throws(ServiceError) -> LoginResult {
        let authenticator: Authenticator
        let step: UInt64
        let drift: Int32
        let offset: Int32?
        switch configuration.drift.match(code, among: account.authenticators, at: now) {
        case .wrong:
            return try deny(account, user: account.name.value, now: now, reason: "wrong code")
        case .replayed:
            return try deny(account, user: account.name.value, now: now, reason: "replayed code")
        case .accepted(let matched, let matchedStep, let learned, let measured):
            (authenticator, step, drift, offset) = (matched, matchedStep, learned, measured)
        }
        // The step, the throttle clear and the audit record in one write: a login with a code commits once.
        let audit = loginAudit(account, factors: "password+totp")
        let claim = StepClaim(authenticator, step: step, drift: drift, offset: offset, passwordHash: passwordHash)
        let acceptance = try storing { () throws(AccountStoreError) in
            try store.recordLogin(
                of: account.name,
                claiming: claim,
                alongside: grace,
                at: now,
                clearing: key,
                audit: audit
            )
        }
        guard acceptance == .accepted else {
            if let current = try rehashedDuringTheLogin(
                account,
                password: password,
                stillDecides: stillAccepts(code, at: now)
            ) {
                return try acceptCode(
                    code,
                    account: current,
                    passwordCheckedAgainst: current.passwordHash,
                    clearing: key,
                    now: now,
                    grace: grace
                )
            }
            return try deny(account, user: account.name.value, now: now, reason: Self.replayedOrChanged(passwordHash))
        }
        noteLearnedDrift(claim, of: authenticator, account: account)
        loginSucceeded(account, factors: "password+totp", audited: true)
        return .ok
    }

    /// Logs the clock drift an accepted code taught its authenticator, when it changed.
    func noteLearnedDrift(_ claim: StepClaim, of authenticator: Authenticator, account: Account) {
        guard claim.drift != authenticator.drift else { return }
        logger.notice(
            "authenticator clock drift learned",
            metadata: ["user": "\(account.name)", "authenticator": "\(authenticator.label)", "steps": "\(claim.drift)"]
        )
    }

    /// Uses up one recovery code in place of a TOTP code: the code is removed in the same write that
    /// accepts it, so it can never work twice, even when two logins race with it.
    /// A login's `password`, when given, lets it be decided once more if the password was rehashed meanwhile
    /// (AccountService+RehashedLogin).
    func useRecoveryCode(
        _ code: String,
        account: Account,
        passwordCheckedAgainst passwordHash: String?,
        password: [UInt8]? = nil,
        now: UnixTime
    ) throws(ServiceError) -> LoginResult {
        var remaining = 0
        do {
            try store.update(account.name) { (stored: inout Account) throws(LoginWriteRefusal) in
                guard stored.stillAcceptsLogin(passwordCheckedAgainst: passwordHash) else { throw .accountChanged }
                guard case .on = stored.twoFactor, let index = RecoveryCodes.match(code, in: stored.recoveryCodes)
                else { throw .refused(ServiceError(.wrongCode, "no such recovery code")) }
                stored.recoveryCodes.remove(at: index)
                stored.lastLoginAt = now
                stored.updatedAt = now
                remaining = stored.recoveryCodes.count
            }
        } catch {
            switch error {
            case .rejected(.accountChanged):
                if let current = try rehashedDuringTheLogin(account, password: password) {
                    return try useRecoveryCode(
                        code,
                        account: current,
                        passwordCheckedAgainst: current.passwordHash,
                        now: now
                    )
                }
                return try deny(account, user: account.name.value, now: now, reason: Self.changedDuringTheLogin)
            case .rejected(.refused(let refusal)):
                let reason = refusal.kind == .wrongCode ? "wrong recovery code" : refusal.message
                return try deny(account, user: account.name.value, now: now, reason: reason)
            case .store(let error): throw ServiceError.from(error)
            }
        }
        audit(
            .account(account.name),
            .recoveryCodeUsed,
            .ok,
            target: account.name,
            organization: account.organization,
            detail: "\(remaining) left"
        )
        loginSucceeded(account, factors: "password+recovery-code")
        return .recovered(remaining: remaining)
    }

    /// The audit record of a successful login, for the write that accepts it.
    func loginAudit(_ account: Account, factors: String) -> AuditRecord {
        auditRecord(
            .account(account.name),
            .login,
            .ok,
            target: account.name,
            organization: account.organization,
            detail: factors
        )
    }

    /// Audits (unless the write that accepted the login did) and logs a successful login.
    func loginSucceeded(_ account: Account, factors: String, audited: Bool = false) {
        if !audited {
            let name = account.name
            audit(.account(name), .login, .ok, target: name, organization: account.organization, detail: factors)
        }
        logger.info("login ok", metadata: ["user": "\(account.name)", "factors": "\(factors)"])
    }

    /// Shows the enrollment a pending account's login must finish: `existing` when it is still valid, else a new
    /// one. An `off` member of an organization that requires 2FA (`organization`, as this login read it) is
    /// pending (OrganizationRequirement.swift): the write that keeps its new enrollment also records it so.
    func offerEnrollment(
        _ account: Account,
        existing: PendingEnrollment?,
        passwordCheckedAgainst passwordHash: String?,
        organization: Organization?,
        now: UnixTime
    ) throws(ServiceError) -> LoginResult {
        if let existing {
            // Nothing is written: the secret is shown only if the password checked is still the account's now,
            // after its hash, so that a password changed meanwhile does not show it to whoever had the old one.
            if passwordHash != nil {
                let current = try storing { () throws(AccountStoreError) in try store.account(named: account.name) }
                guard let current, current.stillAcceptsLogin(passwordCheckedAgainst: passwordHash),
                    current.pendingEnrollment == existing
                else {
                    return try deny(account, user: account.name.value, now: now, reason: Self.changedDuringTheLogin)
                }
            }
            logger.info("login needs enrollment", metadata: ["user": "\(account.name)"])
            return .enroll(otpauthURI: try uri(for: account.name, existing.credential))
        }
        let pending = try newEnrollment(for: account.name, parameters: .standard)
        var required = false
        do {
            try store.update(account.name) { (stored: inout Account) throws(LoginWriteRefusal) in
                guard stored.stillAcceptsLogin(passwordCheckedAgainst: passwordHash) else { throw .accountChanged }
                guard OrganizationRequirement.effectiveState(of: stored, in: organization) == .pending else {
                    throw .refused(ServiceError(.noEnrollmentInProgress, "the account changed meanwhile: log in again"))
                }
                required = Self.applyOrganizationRequirement(&stored, organization, now: now)
                stored.pendingEnrollment = pending
                stored.updatedAt = now
            }
        } catch {
            switch error {
            case .rejected(.refused(let refusal)): throw refusal
            case .rejected(.accountChanged), .store(.notFound):
                return try deny(account, user: account.name.value, now: now, reason: Self.changedDuringTheLogin)
            case .store(let error): throw reported(error)
            }
        }
        if required { noteOrganizationRequirement(account) }
        logger.info("login needs enrollment", metadata: ["user": "\(account.name)"])
        return .enroll(otpauthURI: try uri(for: account.name, pending.credential))
    }

    /// Moves an `off` member of an organization that requires 2FA to `pending`, set by the daemon; true when it
    /// did. Runs inside the write that offers or finishes the member's enrollment.
    static func applyOrganizationRequirement(
        _ account: inout Account,
        _ organization: Organization?,
        now: UnixTime
    ) -> Bool {
        guard account.twoFactor == .off, OrganizationRequirement.requiresTwoFactor(of: account, in: organization)
        else { return false }
        account.twoFactor = .pending
        account.twoFactorChange = StateChange(actor: .system, time: now)
        return true
    }

    /// Audits and logs that a login found a member `off` in an organization that requires 2FA, and made it pending.
    func noteOrganizationRequirement(_ account: Account) {
        audit(
            .system,
            .force,
            .ok,
            target: account.name,
            organization: account.organization,
            detail: "pending: '\(account.organization)' requires two-factor authentication"
        )
        logger.notice(
            "two-factor required by the organization: pending",
            metadata: ["user": "\(account.name)", "org": "\(account.organization)"]
        )
    }

    /// Finishes the enrollment a pending account's login offered; returns the answer and the account as this
    /// login left it.
    func finishEnrollmentAtLogin(
        _ code: String,
        _ pending: PendingEnrollment,
        account: Account,
        organization: Organization?,
        now: UnixTime
    ) throws(ServiceError) -> (LoginResult, Account) {
        guard let step = matchingStep(code, for: pending.credential, now: now) else {
            return (try deny(account, user: account.name.value, now: now, reason: "wrong enrollment code"), account)
        }
        let (codes, hashes) = RecoveryCodes.issue()
        let enrolled: Account
        var required = false
        do {
            enrolled = try store.update(account.name) { (stored: inout Account) throws(ServiceError) in
                // The session this login opens is for the account as the login checked it (AccountSession.swift).
                guard CredentialStamp(stored) == CredentialStamp(account) else {
                    throw ServiceError(.noEnrollmentInProgress, "the account changed meanwhile: log in again")
                }
                // Required by the organization: the enrollment is `enforced`, as any that a requirement asked for.
                required = Self.applyOrganizationRequirement(&stored, organization, now: now)
                try Self.finishEnrollment(
                    &stored,
                    pending,
                    step: step,
                    by: .account(account.name),
                    capacity: .ownAccount,
                    recoveryCodes: hashes,
                    now: now
                )
                stored.lastLoginAt = now
            }
        } catch {
            switch error {
            case .rejected:
                return (
                    try deny(account, user: account.name.value, now: now, reason: "enrollment code refused"), account
                )
            case .store(let error): throw ServiceError.from(error)
            }
        }
        if required { noteOrganizationRequirement(account) }
        audit(
            .account(account.name),
            .enroll,
            .ok,
            target: account.name,
            organization: account.organization,
            detail: "at login"
        )
        logger.notice("two-factor enrolled at login", metadata: ["user": "\(account.name)"])
        loginSucceeded(account, factors: "password+totp")
        return (.enrolled(recoveryCodes: codes), enrolled)
    }

    /// Denies an attempt counted already (reserved, or held since its `codeNeeded` answer). With the attempt's
    /// `key`, its record is within the budget of the key's origin (`denialRecord`).
    func deny(
        _ account: Account,
        user: String,
        now: UnixTime,
        reason: String,
        key: ThrottleKey? = nil
    ) throws(ServiceError) -> LoginResult {
        if let key {
            switch denialRecord(account, reason: reason, from: key.origin) {
            case .record(let record): append(record)
            case .maskingUnknownName: writeInPlaceOfARecord(key, user: user)
            case .none: break
            }
        } else {
            append(loginDenial(account, reason: reason))
        }
        logger.info("login denied", metadata: ["user": "\(user)", "reason": "\(reason)"])
        return .denied
    }

    /// The trail's part of a denied login of `account` from `origin`: its record while the origin's budget in
    /// the account's organization lasts (`AccountLimits.denialRecordsPerOrigin`), the last of them saying that
    /// later ones are counted, and the origin's first record after them saying how many were not audited. Past
    /// the budget, the write a name without an account gets in place of a record: the denial is still counted
    /// and commits once, as long as an audited one, but pushes nothing out of the capped trail.
    func denialRecord(_ account: Account, reason: String, from origin: ThrottleOrigin) -> DenialRecord {
        let (decision, last) = limits.spendDenialRecord(from: origin, in: account.organization, now: clock())
        guard case .granted(let suppressed) = decision else { return .maskingUnknownName }
        var notes: [String] = []
        if suppressed > 0 {
            notes.append("+\(suppressed) more from \(origin.auditText) not audited since its last record")
        }
        if last { notes.append("the last from \(origin.auditText) audited this hour: later ones are counted") }
        guard !notes.isEmpty else { return .record(loginDenial(account, reason: reason)) }
        let note = " (" + notes.joined(separator: "; ") + ")"
        let room = max(0, Self.maximumAuditDetailBytes - note.utf8.count)
        return .record(loginDenial(account, reason: reason.clipped(toUTF8Bytes: room) + note))
    }

    /// Audits the denied logins that no record counted yet (past their origin's budget: `denialRecord`), one record
    /// per origin and organization, for a daemon that stops: the count lives in memory, and waited for the origin's
    /// next record. Call it once no request runs any more.
    public func auditUnauditedDenials() {
        for (source, count) in limits.takeUnauditedDenials() {
            let detail =
                "+\(count) more from \(source.origin.auditText) not audited since its last record (daemon stopped)"
            append(
                auditRecord(.system, .login, .denied, target: nil, organization: source.organization, detail: detail)
            )
        }
    }

    /// The audit record `deny` appends, for a write that appends it itself (`AccountStore.checkAttempt`).
    func loginDenial(_ account: Account, reason: String) -> AuditRecord {
        auditRecord(
            .account(account.name),
            .login,
            .denied,
            target: account.name,
            organization: account.organization,
            detail: reason
        )
    }

    /// `deny` for a name without an account: no audit record, but a write that takes as long as appending one
    /// (`AccountStore.recordDenialOfUnknownName`), whose failure is logged as an audit record's would be.
    func denyUnknownName(_ logName: String, key: ThrottleKey) -> LoginResult {
        writeInPlaceOfARecord(key, user: logName)
        logger.info("login denied", metadata: ["user": "\(logName)", "reason": "unknown user"])
        return .denied
    }

    /// The write a denial makes where it appends no audit record (`AccountStore.recordDenialOfUnknownName`), so
    /// that it takes as long as one that does; its failure is logged as an audit record's would be.
    private func writeInPlaceOfARecord(_ key: ThrottleKey, user: String) {
        do {
            try store.recordDenialOfUnknownName(key)
        } catch {
            logger.error("denial not recorded", metadata: ["user": "\(user)", "error": "\(error)"])
        }
    }

    /// A hash made with older scrypt parameters is replaced after a successful login, the one moment
    /// the daemon holds the plain password. A failure here never fails the login. Returns `account` with the
    /// hash it has now: the new one when this replaced the one `account` has, else as it was.
    func upgradePasswordHashIfNeeded(_ account: Account, password: [UInt8]) -> Account {
        guard hasher.needsRehash(account.passwordHash), let newHash = try? hasher.hash(password) else { return account }
        let oldHash = account.passwordHash
        var upgraded = account
        var upgradedElsewhere = false
        do {
            try store.update(account.name) { stored in
                upgradedElsewhere = stored.passwordHash != oldHash
                if !upgradedElsewhere {
                    stored.passwordHash = newHash
                    upgraded.passwordHash = newHash
                }
            }
            // A login of the same user upgraded it first: the session is for the account as that login left it,
            // when only the hash changed and this password is right for it (AccountService+RehashedLogin), else
            // as this login found it.
            if upgradedElsewhere { return (try? rehashedDuringTheLogin(account, password: password)) ?? account }
            logger.notice("password hash upgraded", metadata: ["user": "\(account.name)"])
            return upgraded
        } catch {
            logger.warning(
                "password hash upgrade failed",
                metadata: ["user": "\(account.name)", "error": "\(error.storeError)"]
            )
            return account
        }
    }
}

extension AccountService {
    /// Why a login decided on an account read before its password was hashed is denied: the account's password
    /// or two-factor state changed, or it was removed (and perhaps made again), before the login's write. The
    /// old password is then a wrong one, and the denial is counted as one. The audit record's detail; a write
    /// refuses such a login with `LoginWriteRefusal.accountChanged`.
    static let changedDuringTheLogin = "the account changed during the login"

    /// The denial's reason when the store refused a login's step: a replay, or, for a login that checked a
    /// password, the account changed meanwhile (`StepClaim.passwordHash`).
    static func replayedOrChanged(_ passwordHash: String?) -> String {
        passwordHash == nil ? "replayed code" : "replayed code, or the account changed during the login"
    }
}

/// Why a login's own write (`AccountStore.update`) refused it, told by type and not by message: only
/// `accountChanged` may be a rehash of the login's password, and only it is decided once more
/// (AccountService+RehashedLogin.swift).
enum LoginWriteRefusal: Error {
    /// The account no longer has the password hash (or two-factor state) the login decided on, or is gone: the
    /// login is denied as `AccountService.changedDuringTheLogin`, unless only a rehash changed it.
    case accountChanged
    /// Anything else, answered as the error says.
    case refused(ServiceError)
}

extension StepClaim {
    /// The claim for a code `DriftPolicy` matched with `authenticator` at `step`, teaching `drift` and
    /// measuring `offset`.
    init(_ authenticator: Authenticator, step: UInt64, drift: Int32, offset: Int32?, passwordHash: String? = nil) {
        self.init(
            step: step,
            authenticator: authenticator.label,
            credential: authenticator.credential,
            drift: drift,
            offset: offset,
            passwordHash: passwordHash
        )
    }
}

extension ThrottleOrigin {
    /// The origin as an audit record's detail names it.
    var auditText: String {
        switch self {
        case .peer(let uid): "uid \(uid)"
        case .host(let host): "host \(host)"
        case .local: "local logins"
        }
    }
}
