/// What a person is told along a login, in the same words by every client: `twofactor login`, `shell` and `pam`,
/// `twofactorctl --as`, and the PAM module, which cannot call Swift and keeps a copy of each text in C
/// (`LoginTextTests` checks the module's words against these).
public enum LoginTexts {
    /// Before the QR code of an enrollment (`EnrollmentScreen.render`).
    public static func enrollmentRequired(user: String) -> String {
        "Two-factor authentication is required for '\(user)'.\n"
    }

    /// After a login that finished an enrollment: the new recovery codes, the one time they are shown.
    public static func enrolled(user: String, recoveryCodes: [String]) -> String {
        "Two-factor authentication is now on for '\(user)'.\n\n" + EnrollmentScreen.recoveryCodes(recoveryCodes) + "\n"
    }

    /// After a login with a recovery code, with the way to a new set when few are left.
    public static func recoveryLogin(user: String, remaining: UInt8) -> String {
        "Logged in with a recovery code; \(remaining) remain."
            + (remaining <= 3 ? " Get a new set with `twofactorctl 2fa recovery-codes --as \(user)`." : "") + "\n"
    }

    /// A lock: how long to wait, or that only an unlock ends it (`retryAfter` `.max`, the hard lock), and who can end
    /// it sooner. The same words for every name: a name without an account is locked as an account is, and though no
    /// unlock ends its lock (there is no account to unlock), saying otherwise would tell which names exist.
    public static func locked(user: String, retryAfter: UInt32) -> String {
        let unlock = "`twofactorctl unlock \(user)`"
        return retryAfter == .max
            ? "too many failed attempts: locked until an admin or operator runs \(unlock)"
            : "too many failed attempts: try again in \(retryAfter) seconds, or have an admin or operator run \(unlock)"
    }
}
