import AccountStore
import OpenSSLCrypto

/// How the throttle and the log name a user that is not an existing account: never as typed, because people
/// type passwords into the user field, but as a short keyed fingerprint that lets an operator see that
/// attempts repeat without learning what was typed.
///
/// HMAC-SHA256 under a key derived from the store's secrets key (`AccountStore.derivedKey`), never stored:
/// - the same name gives the same fingerprint after a restart and on every host sharing a PostgreSQL store,
///   so an unknown name keeps its throttle counts exactly as an account does and `locked` after a restart
///   still tells nothing about which names exist;
/// - without the secrets key a fingerprint cannot be checked against guesses, even by someone who reads the
///   log or the throttle records.
struct NameFingerprint: Sendable {
    /// Names this derivation only; changing it starts every unknown name's counts afresh.
    static let keyLabel = "twofactord name fingerprint v1"

    private let key: [UInt8]

    init(store: any AccountStore) {
        key = store.derivedKey(label: Self.keyLabel)
    }

    /// `unknown-` and the first 4 bytes of the HMAC in hex, e.g. `unknown-3fa91c07`.
    func of(_ name: String) -> String {
        let mac = HMAC.authenticationCode(for: Array(name.utf8), key: key, using: .sha256)
        let digits = Array("0123456789abcdef")
        return "unknown-" + String(mac.prefix(4).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
    }
}
