import OpenSSLCrypto
import Synchronization

// MUSTs of the password memo (one scrypt per two-step login):
// - it changes nothing about the first request: a Login without a code costs one scrypt and answers the
//   same for a right password, a wrong one and an unknown user, memo or not;
// - it remembers the outcome for a right password, a wrong one and an unknown user alike, so the request
//   that follows costs the same in all three cases (no scrypt when the password is the same as before, one
//   when it differs): its cost says nothing the client did not know;
// - it keeps no password: only an HMAC of it under a key that never leaves the process, and the stored
//   hash it was checked against, so a password changed meanwhile is checked again;
// - it lives on one connection, serves only the next request, and only for a short time (the daemon's
//   held attempt);
// - it is what tells the Login that completes a held attempt from a new guess: only the same user with the same
//   password (its HMAC compared in constant time) completes it; any other Login is an attempt of its own, checked
//   against the lock and counted (`holdsCheck`).

/// What a Login learned about a password, kept on the connection for the Login with the code that follows.
public final class PasswordMemo: Sendable {
    private struct Entry {
        var user: String
        var digest: [UInt8]
        var storedHash: String?
        var matched: Bool
    }

    /// Keys the password digests; made at start-up, never stored or shown.
    private static let key = SecureRandom.bytes(count: 32)
    private let entry = Mutex<Entry?>(nil)

    public init() {}

    /// The remembered outcome of checking `password` for `user` against `storedHash` (nil: an unknown user),
    /// or nil when this memo holds no check of that password against that hash.
    func recall(user: String, password: [UInt8], storedHash: String?) -> Bool? {
        let digest = Self.digest(password)
        return entry.withLock { entry in
            guard let entry, entry.user == user, entry.storedHash == storedHash,
                ConstantTime.equals(entry.digest, digest)
            else { return nil }
            return entry.matched
        }
    }

    /// Whether this memo holds a check of `password` for `user`, against whatever stored hash: the Login that
    /// completes a held attempt must be the one that was counted, the same user with the same password. The
    /// password is compared as its HMAC, in constant time, and is not kept.
    public func holdsCheck(of password: [UInt8], for user: String) -> Bool {
        let digest = Self.digest(password)
        return entry.withLock { entry in
            guard let entry, entry.user == user else { return false }
            return ConstantTime.equals(entry.digest, digest)
        }
    }

    func remember(user: String, password: [UInt8], storedHash: String?, matched: Bool) {
        let digest = Self.digest(password)
        entry.withLock { $0 = Entry(user: user, digest: digest, storedHash: storedHash, matched: matched) }
    }

    private static func digest(_ password: [UInt8]) -> [UInt8] {
        HMAC.authenticationCode(for: password, key: key, using: .sha256)
    }
}
