import OpenSSLCrypto

/// HMAC-based one-time passwords (RFC 4226).
public struct HOTP: Sendable {
    public let secret: [UInt8]
    public let algorithm: OTPAlgorithm
    public let digits: Int

    public init(secret: [UInt8], algorithm: OTPAlgorithm = .sha1, digits: Int = 6) throws(OTPError) {
        guard !secret.isEmpty else { throw .emptySecret }
        guard (6...8).contains(digits) else { throw .digitsOutOfRange(digits) }
        self.secret = secret
        self.algorithm = algorithm
        self.digits = digits
    }

    /// The code for `counter`, zero-padded to `digits` (RFC 4226 section 5.3).
    public func code(counter: UInt64) -> String {
        let message = (0..<8).map { UInt8(truncatingIfNeeded: counter >> (56 - 8 * $0)) }
        let mac = HMAC.authenticationCode(for: message, key: secret, using: algorithm.digest)
        // Dynamic truncation: the low nibble of the last byte picks four bytes; the top bit is dropped.
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary =
            UInt32(mac[offset] & 0x7F) << 24 | UInt32(mac[offset + 1]) << 16
            | UInt32(mac[offset + 2]) << 8 | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }
}

extension OTPAlgorithm {
    var digest: DigestAlgorithm {
        switch self {
        case .sha1: .sha1
        case .sha256: .sha256
        case .sha512: .sha512
        }
    }
}
