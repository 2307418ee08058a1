/// Why a name or field was refused, in words a person can act on.
public struct InvalidValue: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Shared rule for account and organization names (and authenticator labels): 1 to 64 bytes (or
/// `maximumLength`) of `A-Z a-z 0-9 . _ @ -`, not starting with `-` or `.` (so a name is never taken for
/// an option or a hidden file).
func validateIdentifier(_ text: String, kind: String, maximumLength: Int = 64) throws(InvalidValue) {
    let bytes = Array(text.utf8)
    guard (1...maximumLength).contains(bytes.count) else {
        throw InvalidValue("\(kind) must be 1 to \(maximumLength) characters long")
    }
    for byte in bytes {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "@"),
            UInt8(ascii: "-"):
            continue
        default:
            throw InvalidValue("\(kind) may contain only letters, digits and . _ @ -")
        }
    }
    if bytes[0] == UInt8(ascii: "-") || bytes[0] == UInt8(ascii: ".") {
        throw InvalidValue("\(kind) must not start with '-' or '.'")
    }
}

/// A validated account (login) name.
public struct AccountName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: String

    public init(_ value: String) throws(InvalidValue) {
        try validateIdentifier(value, kind: "an account name")
        self.value = value
    }

    public var description: String { value }
    public static func < (lhs: AccountName, rhs: AccountName) -> Bool { lhs.value < rhs.value }
}

/// A validated organization name. Accounts created without one belong to `default`.
public struct OrganizationName: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let value: String

    public init(_ value: String) throws(InvalidValue) {
        try validateIdentifier(value, kind: "an organization name")
        self.value = value
    }

    public static let `default` = try! OrganizationName("default")

    public var description: String { value }
    public static func < (lhs: OrganizationName, rhs: OrganizationName) -> Bool { lhs.value < rhs.value }
}

/// A pattern of the account names an organization's admin may give new agents (`org set --agent-name`):
/// the characters of an account name, where `*` stands for any run of them (none too) and `?` for any one.
public struct AccountNamePattern: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init(_ value: String) throws(InvalidValue) {
        // Each wildcard stands in for name characters: with a letter in its place, the pattern is a valid name.
        let literal = String(value.map { $0 == "*" || $0 == "?" ? "a" : $0 })
        guard (1...64).contains(value.utf8.count) else {
            throw InvalidValue("an agent name pattern must be 1 to 64 characters long")
        }
        guard (try? validateIdentifier(literal, kind: "an agent name pattern")) != nil else {
            throw InvalidValue(
                "an agent name pattern may contain only letters, digits, . _ @ - and the wildcards * and ?, "
                    + "and must not start with '-' or '.'"
            )
        }
        self.value = value
    }

    /// Whether `name` is one of the names this pattern stands for.
    public func matches(_ name: AccountName) -> Bool {
        let pattern = Array(value.utf8)
        let text = Array(name.value.utf8)
        var (p, t) = (0, 0)
        // Where the last `*` was, and the first character of the text it has taken up to now.
        var star: (pattern: Int, text: Int)?
        while t < text.count {
            if p < pattern.count, pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t] {
                p += 1
                t += 1
            } else if p < pattern.count, pattern[p] == UInt8(ascii: "*") {
                star = (p, t)
                p += 1
            } else if let last = star {
                // The last `*` takes one more character, and the rest of the pattern starts after it.
                star = (last.pattern, last.text + 1)
                p = last.pattern + 1
                t = last.text + 1
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.count
    }

    public var description: String { value }
}
