import OpenSSLCrypto

/// How the log names a user that is not an existing account: never as typed, because people type
/// passwords into the user field, but as a short keyed fingerprint that lets an operator see that
/// attempts repeat without learning what was typed.
///
/// HMAC-SHA256 under a key drawn once per process and never stored: the same name gives the same
/// fingerprint until the daemon restarts, and a fingerprint cannot be checked against guesses
/// offline, even by someone who reads the log.
enum NameFingerprint {
    private static let key = SecureRandom.bytes(count: 32)

    /// `unknown-` and the first 4 bytes of the HMAC in hex, e.g. `unknown-3fa91c07`.
    static func of(_ name: String) -> String {
        let mac = HMAC.authenticationCode(for: Array(name.utf8), key: key, using: .sha256)
        let digits = Array("0123456789abcdef")
        return "unknown-" + String(mac.prefix(4).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
    }
}
