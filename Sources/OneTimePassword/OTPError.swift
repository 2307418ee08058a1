/// Why a secret, a parameter or an otpauth URI was refused. Never contains the secret itself.
public enum OTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case emptySecret
    case digitsOutOfRange(Int)
    case periodOutOfRange(Int)
    case invalidBase32Character(position: Int)
    case invalidBase32Length(Int)
    case invalidURI(String)

    public var description: String {
        switch self {
        case .emptySecret: "the secret is empty"
        case .digitsOutOfRange(let digits): "codes must have 6 to 8 digits, not \(digits)"
        case .periodOutOfRange(let period): "the period must be at least 1 second, not \(period)"
        case .invalidBase32Character(let position):
            "the secret has a character that is not base32 (A-Z, 2-7) at position \(position + 1)"
        case .invalidBase32Length(let length): "a base32 secret cannot have \(length) characters: part of it is missing"
        case .invalidURI(let reason): "not an otpauth URI: \(reason)"
        }
    }
}
