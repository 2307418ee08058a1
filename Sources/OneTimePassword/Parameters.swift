/// The hash function an authenticator app runs HMAC with. Written uppercase in otpauth URIs.
public enum OTPAlgorithm: String, Sendable, Hashable, CaseIterable {
    case sha1 = "SHA1"
    case sha256 = "SHA256"
    case sha512 = "SHA512"
}

/// What a TOTP generator and the daemon must agree on besides the secret (RFC 6238 section 4).
public struct TOTPParameters: Sendable, Hashable {
    public var algorithm: OTPAlgorithm
    /// 6 to 8 digits.
    public var digits: Int
    /// The time step X of RFC 6238, in seconds; at least 1.
    public var period: Int

    /// SHA1, 6 digits, 30 seconds: what every authenticator app understands.
    public static let standard = TOTPParameters(algorithm: .sha1, digits: 6, period: 30)

    public init(algorithm: OTPAlgorithm, digits: Int, period: Int) {
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }
}
