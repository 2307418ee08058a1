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
//   to check, and the password was checked elsewhere (so its failure count is not reset here);
// - no code is ever logged, and no password is ever involved (so no hash upgrade can happen here).

/// Where a login comes from, as the client reports it; only ever logged.
public struct LoginOriginInfo: Sendable, Hashable {
    public var service: String
    public var remoteHost: String

    public init(service: String, remoteHost: String) {
        self.service = service
        self.remoteHost = remoteHost
    }

    /// Client-supplied text reaches the log only as printable ASCII without spaces, so it cannot
    /// forge log lines or fields.
    static func loggable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(255).map { $0.value > 0x20 && $0.value < 0x7F ? $0 : "?" }))
    }
}

extension AccountService {
    /// The same service with every log line carrying `origin` (the PAM service and remote host).
    public func reporting(_ origin: LoginOriginInfo) -> AccountService {
        var scoped = logger
        if !origin.service.isEmpty { scoped[metadataKey: "service"] = "\(LoginOriginInfo.loggable(origin.service))" }
        if !origin.remoteHost.isEmpty { scoped[metadataKey: "rhost"] = "\(LoginOriginInfo.loggable(origin.remoteHost))" }
        return AccountService(store: store, hasher: hasher, configuration: configuration, clock: clock, logger: scoped)
    }

    /// Checks `code` for `user` without a password. With `.none`, says what the account needs:
    /// `.ok` (no second factor), `.codeNeeded`, or `.enroll` for a pending account. Throws
    /// `noSuchAccount` for an unknown user: only privileged peers may ask, and they may list accounts anyway.
    public func checkCode(user: String, code: CodeInput) throws(ServiceError) -> LoginResult {
        let now = clock()
        let name = try existingName(user)
        guard let account = try storing({ () throws(AccountStoreError) in try store.account(named: name) }) else {
            throw ServiceError(.noSuchAccount, "no account named '\(name)'")
        }
        if case .locked(let wait)? = LoginPolicy.lock(for: account, now: now, throttle: configuration.throttle) {
            logger.info("code check refused: locked", metadata: ["user": "\(name)"])
            return .locked(retryAfter: wait)
        }
        switch LoginPolicy.decide(account: account, passwordMatches: true, code: code, now: now) {
        case .deny:
            return try denyCode(name, now: now, reason: "wrong code")
        case .locked(let wait):
            return .locked(retryAfter: wait)
        case .succeed:
            logger.info("code check ok", metadata: ["user": "\(name)", "factors": "none enrolled"])
            return .ok
        case .askForCode:
            return .codeNeeded
        case .verifyCode(let text, let credential):
            guard let step = matchingStep(text, for: credential, now: now) else {
                return try denyCode(name, now: now, reason: "wrong code")
            }
            let acceptance = try storing { () throws(AccountStoreError) in
                try store.recordAcceptedStep(step, for: name, at: now)
            }
            guard acceptance == .accepted else { return try denyCode(name, now: now, reason: "replayed code") }
            logger.info("code check ok", metadata: ["user": "\(name)", "factors": "totp"])
            return .ok
        case .startEnrollment(let existing):
            if let existing { return .enroll(otpauthURI: try uri(for: name, existing.credential)) }
            let pending = try newEnrollment(for: name, parameters: .standard)
            try storing { () throws(AccountStoreError) in
                try store.update(name) { stored in
                    guard stored.twoFactor == .pending else {
                        throw ServiceError(.noEnrollmentInProgress, "the account changed meanwhile: log in again")
                    }
                    stored.pendingEnrollment = pending
                    stored.updatedAt = now
                }
            }
            logger.info("code check needs enrollment", metadata: ["user": "\(name)"])
            return .enroll(otpauthURI: try uri(for: name, pending.credential))
        case .finishEnrollment(let text, let pending):
            guard let step = matchingStep(text, for: pending.credential, now: now) else {
                return try denyCode(name, now: now, reason: "wrong enrollment code")
            }
            do {
                try store.update(name) { stored in try Self.finishEnrollment(&stored, pending, step: step, now: now) }
            } catch .rejected {
                return try denyCode(name, now: now, reason: "enrollment code refused")
            } catch {
                throw ServiceError.from(error)
            }
            logger.notice("two-factor enrolled at code check", metadata: ["user": "\(name)"])
            return .ok
        }
    }

    private func denyCode(_ name: AccountName, now: UnixTime, reason: String) throws(ServiceError) -> LoginResult {
        try storing { () throws(AccountStoreError) in try store.recordFailure(for: name, at: now) }
        logger.info("code check denied", metadata: ["user": "\(name)", "reason": "\(reason)"])
        return .denied
    }
}
