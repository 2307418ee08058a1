import AccountStore

/// The rules for a new password, after NIST SP 800-63B section 5.1.1.2 (memorized secrets):
/// - it MUST be at least 8 characters (a Unicode scalar counts as one; bytes that are not UTF-8 count
///   one each) and at most 256 bytes, the protocol's limit for the field;
/// - it MUST NOT contain NUL, which the C clients (PAM) cannot pass;
/// - it MUST NOT be, ignoring ASCII case, a commonly used password (`CommonPasswords`), a word of the
///   service's own context (its name, the account's name), or one character repeated;
/// - there are deliberately no composition rules (NIST: "SHOULD NOT impose other composition rules").
/// A refusal says which rule failed and what to do, and never repeats the password.
enum PasswordPolicy {
    static let minimumCharacters = 8
    static let maximumBytes = 256

    /// Words of twofactord's own context that an attacker tries first, beyond the common list.
    static let contextWords: Set<String> = [
        "twofactord", "twofactor", "twofactorctl", "password123", "qwerty123", "12341234", "letmein1",
        "welcome1", "admin123", "zaq12wsx", "abcdefgh", "password12", "iloveyou1",
    ]

    /// Why `password` may not be used for `account`, or nil when it may.
    static func problem(with password: [UInt8], account: AccountName?) -> String? {
        if password.isEmpty { return "the password must not be empty" }
        if password.count > maximumBytes { return "the password must be at most \(maximumBytes) bytes" }
        if password.contains(0) { return "the password must not contain NUL" }
        let text = String(validating: password, as: UTF8.self)
        let characters = text?.unicodeScalars.count ?? password.count
        if characters < minimumCharacters {
            return "the password must be at least \(minimumCharacters) characters long: "
                + "choose a longer one (a few unrelated words make a good one)"
        }
        let lowered = String(decoding: password.map(asciiLowercased), as: UTF8.self)
        if CommonPasswords.entries.contains(lowered) || contextWords.contains(lowered)
            || lowered == account.map({ String(decoding: $0.value.utf8.map(asciiLowercased), as: UTF8.self) })
        {
            return "the password is on the list of commonly used or easily guessed passwords, "
                + "which attackers try first: choose another"
        }
        if Set(password).count == 1 {
            return "the password repeats one character: choose another"
        }
        return nil
    }

    private static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
    }
}
