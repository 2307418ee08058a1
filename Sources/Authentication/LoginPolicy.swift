import AccountStore

// MUSTs of the login decision:
// - an unknown user, a wrong password and a wrong code all end in `.deny`, never in anything
//   that tells them apart; without a code, all three ask for one, as a right password of an account
//   with 2FA on does (no password oracle);
// - a locked account is refused before its password is checked: that is the throttle's decision
//   (`ThrottlePolicy`), previewed before the password is hashed and taken again, with the failure count,
//   in the store write that carries out this decision (AccountService+Login.swift);
// - an account with 2FA on never succeeds without a code (TOTP or recovery); a `pending` account
//   never succeeds without finishing enrollment, and a recovery code cannot finish one;
// - an `off` member of an organization that requires 2FA is decided as `pending`, whatever path left it
//   `off` (OrganizationRequirement.swift): no password alone logs in there;
// - the decision only says which code to check: accepting it (the replay guard) is the store's job.

/// What the client sent besides the user name and password.
public enum CodeInput: Sendable, Hashable {
    case none
    case totp(String)
    /// A one-time recovery code, accepted in place of a TOTP code while 2FA is on.
    case recovery(String)
}

/// The next thing the service must do for a login.
public enum LoginDecision: Sendable, Hashable {
    /// Deny; the attempt stays counted as a failure (the uniform `denied` answer).
    case deny
    /// The password is right and no second factor is needed.
    case succeed
    /// The password is right, 2FA is on, and no code was sent.
    case askForCode
    /// The password is right; accept only if `code` matches `credential` at a step the store accepts.
    case verifyCode(String, TOTPCredential)
    /// The password is right; accept only if `code` is one of the account's unused recovery codes.
    case useRecoveryCode(String)
    /// The password is right and the account must enroll: show an enrollment (reuse `existing` when it is still valid).
    case startEnrollment(existing: PendingEnrollment?)
    /// The password is right and the code should confirm the pending enrollment.
    case finishEnrollment(String, PendingEnrollment)
}

public enum LoginPolicy {
    /// Decides a login once the password has been checked (against a dummy hash for an unknown user).
    /// `organization` is the account's organization as read for this login: its requirement makes an `off`
    /// member `pending`.
    public static func decide(
        account: Account?,
        organization: Organization?,
        passwordMatches: Bool,
        code: CodeInput,
        now: UnixTime
    ) -> LoginDecision {
        guard let account, passwordMatches else { return code == .none ? .askForCode : .deny }
        switch OrganizationRequirement.effectiveState(of: account, in: organization) {
        case .off:
            return .succeed
        case .on:
            guard let credential = account.totp else { return .deny }
            switch code {
            case .none: return .askForCode
            case .totp(let text): return .verifyCode(text, credential)
            case .recovery(let text): return .useRecoveryCode(text)
            }
        case .pending:
            let live = account.pendingEnrollment.flatMap { $0.expiresAt > now ? $0 : nil }
            switch code {
            case .none: return .startEnrollment(existing: live)
            case .totp(let text):
                guard let live else { return .startEnrollment(existing: nil) }
                return .finishEnrollment(text, live)
            case .recovery: return .deny
            }
        }
    }
}
