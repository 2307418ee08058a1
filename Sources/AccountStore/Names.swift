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
