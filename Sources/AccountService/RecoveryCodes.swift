import AccountStore
import OneTimePassword
import OpenSSLCrypto

/// One-time recovery codes: 80 random bits each, shown once as four groups of four base32 characters
/// (`K7QF-2M3D-XR4T-6BWC`), stored only as HMAC-SHA256 under a per-code random salt. A code is high-entropy,
/// so a fast salted hash is as strong as a slow one here; the salt keeps equal codes from showing.
enum RecoveryCodes {
    static let count = 10
    static let randomBytes = 10

    /// A new set: the codes to show, and the hashes to store.
    static func issue() -> (codes: [String], hashes: [RecoveryCodeHash]) {
        var codes: [String] = []
        var hashes: [RecoveryCodeHash] = []
        for _ in 0..<count {
            let text = Base32.encode(SecureRandom.bytes(count: randomBytes))
            let groups = stride(from: 0, to: text.count, by: 4).map { offset in
                String(text.dropFirst(offset).prefix(4))
            }
            codes.append(groups.joined(separator: "-"))
            hashes.append(hash(normalized(text)))
        }
        return (codes, hashes)
    }

    /// The code as typed, upper-cased, without dashes and spaces; nil when it cannot be a recovery code.
    static func normalized(_ typed: String) -> [UInt8]? {
        let characters = typed.uppercased().filter { $0 != "-" && $0 != " " }
        guard characters.count == randomBytes * 8 / 5,
            characters.allSatisfy({ ("A"..."Z").contains($0) || ("2"..."7").contains($0) })
        else { return nil }
        return Array(characters.utf8)
    }

    /// The index of the stored hash that `typed` matches, comparing every hash in constant time.
    static func match(_ typed: String, in hashes: [RecoveryCodeHash]) -> Int? {
        guard let code = normalized(typed) else { return nil }
        var found: Int?
        for (index, stored) in hashes.enumerated() {
            let digest = HMAC.authenticationCode(for: code, key: stored.salt, using: .sha256)
            if ConstantTime.equals(digest, stored.digest), found == nil { found = index }
        }
        return found
    }

    private static func hash(_ code: [UInt8]?) -> RecoveryCodeHash {
        let salt = SecureRandom.bytes(count: 16)
        return RecoveryCodeHash(salt: salt, digest: HMAC.authenticationCode(for: code ?? [], key: salt, using: .sha256))
    }
}
