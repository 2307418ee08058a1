import AccountStore
import Glibc
import LMDBAccountStore
import OneTimePassword
import OpenSSLCrypto
import PasswordHashing
import StoredRecords

// MUSTs of the preload (`--preload`), which writes the accounts straight into the state directory of the
// daemon the benchmark is about to start, instead of through the protocol:
// - it runs before that daemon starts, on its fresh state directory, and closes the store before it does;
// - each account is what UserAdd, EnrollBegin and EnrollConfirm by an operator would have left: an agent of
//   `default`, two-factor `on` (enforced by the operator), one authenticator with the step of its
//   confirmation spent, ten recovery-code hashes, a scrypt password hash at the daemon's cost;
// - secrets are sealed by `LMDBAccountStore` under the key the daemon will use: the configured one
//   (`SecretsKey.configuredLocation`, the systemd credential) or the state directory's own `secrets.key`;
// - every account shares one password and so one hash, made once: scrypt per account would take hours for a
//   million accounts, and the daemon's cost per login is the same either way. No audit record is written.

/// Writes `count` enrolled accounts into `stateDirectory` with `LMDBAccountStore.importAccounts`, one write
/// per `LMDBAccountStore.importChunkSize` accounts, and returns them as the load needs them.
func preloadAccounts(
    count: Int,
    period: UInt16,
    prefix: String,
    stateDirectory: String,
    scryptLogN: UInt8,
    progress: (String) -> Void
) throws(BenchError) -> [BenchAccount] {
    let password = Array("bench \(prefix) shared pass".utf8)
    let cost = ScryptCost(logN: scryptLogN, r: ScryptCost.owasp.r, p: ScryptCost.owasp.p)
    let passwordHash: String
    do {
        passwordHash = try PasswordHasher(cost: cost).hash(password)
    } catch {
        throw BenchError("cannot hash the accounts' password at scrypt \(cost): \(error)")
    }
    let parameters = TOTPParameters(algorithm: .sha1, digits: 6, period: Int(period))
    let store: LMDBAccountStore
    do {
        // The daemon's own choice (StoreSelection.configuredKey): a configured key, else the directory's.
        var key: SecretsKey?
        if let location = SecretsKey.configuredLocation(explicit: nil) {
            key = try SecretsKey.load(path: location.path, create: location.create)
        }
        // Sized for the whole load up front, so the map does not double (and a chunk run again) many times.
        store = try LMDBAccountStore(
            directory: stateDirectory,
            initialMapSize: max(16 << 20, count * 1024),
            secretsKey: key
        )
    } catch {
        throw BenchError("cannot open the store in \(stateDirectory) to preload it: \(error)")
    }
    let now = BenchClock.unixSeconds()
    let enrolledBy = StateChange(actor: .operator(uid: getuid()), time: now)
    var loaded: [BenchAccount] = []
    loaded.reserveCapacity(count)
    for start in stride(from: 0, to: count, by: LMDBAccountStore.importChunkSize) {
        var chunk: [Account] = []
        for index in start..<min(count, start + LMDBAccountStore.importChunkSize) {
            let name = prefix + String(index)
            // One draw per account: a 20-byte secret (as the daemon makes for SHA-1), then ten recovery-code
            // hashes of 16-byte salt and 32-byte digest, random like the daemon's (their codes are never used).
            let random = SecureRandom.bytes(count: 20 + 10 * 48)
            let credential = TOTPCredential(secret: Array(random[0..<20]), parameters: parameters)
            let totp: TOTP
            let accountName: AccountName
            do {
                totp = try TOTP(secret: credential.secret, parameters: parameters)
                accountName = try AccountName(name)
            } catch {
                throw BenchError("cannot make the account \(name): \(error)")
            }
            let step = totp.step(at: now)
            let recoveryCodes = stride(from: 20, to: random.count, by: 48).map { offset in
                RecoveryCodeHash(
                    salt: Array(random[offset..<offset + 16]),
                    digest: Array(random[offset + 16..<offset + 48])
                )
            }
            chunk.append(
                Account(
                    name: accountName,
                    passwordHash: passwordHash,
                    twoFactor: .on(.enforced),
                    totp: credential,
                    lastAcceptedStep: step,
                    createdAt: now,
                    updatedAt: now,
                    twoFactorChange: enrolledBy,
                    enrolledAt: now,
                    recoveryCodes: recoveryCodes
                )
            )
            loaded.append(BenchAccount(name: name, password: password, totp: totp, lastStep: step))
        }
        do {
            try store.importAccounts(chunk)
        } catch {
            throw BenchError("cannot preload accounts \(start) to \(start + chunk.count - 1): \(error)")
        }
        if start > 0, (start / LMDBAccountStore.importChunkSize) % 10 == 0 {
            progress("preloaded \(start) accounts")
        }
    }
    return loaded
}

/// The size of `path` in bytes, and the bytes it occupies on disk (`st_blocks`, as du counts them).
func fileSizes(_ path: String) -> (bytes: Int, diskBytes: Int)? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return (Int(info.st_size), Int(info.st_blocks) * 512)
}
