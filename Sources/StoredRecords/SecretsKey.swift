import AccountStore
import Glibc
import OpenSSLCrypto

/// The key that seals TOTP secrets at rest, kept outside the database so that a copy of `data.mdb`
/// (a dump, a backup, a stolen disk image of the state directory alone) reveals no secret.
///
/// The key file holds exactly 32 random bytes. Its MUSTs:
/// - it is opened with `O_NOFOLLOW` and checked through that descriptor: a symbolic link is refused;
/// - it MUST be a regular file owned by root or by the user running twofactord, and MUST NOT be
///   readable or writable by group or others;
/// - when missing and `create` is allowed, it is made with `O_CREAT | O_EXCL | O_NOFOLLOW` and mode 0600
///   in a directory that group and others cannot write, so no other user can pre-place or redirect it.
public struct SecretsKey: Sendable {
    /// The file name under `$CREDENTIALS_DIRECTORY` when twofactord runs with a systemd credential.
    public static let credentialName = "twofactord-key"
    /// The file name in the state directory when no other key file is given.
    public static let defaultFileName = "secrets.key"

    package let bytes: [UInt8]
    /// Where the key came from, for operator messages.
    public let path: String

    /// A key from bytes, for tests and for key rotation.
    public init(bytes: [UInt8], path: String) throws(AccountStoreError) {
        guard bytes.count == AES256GCM.keySize else {
            throw .storageFailure("the secrets key \(path) must hold exactly \(AES256GCM.keySize) bytes")
        }
        self.bytes = bytes
        self.path = path
    }

    /// A 32-byte key for one purpose named by `label`, derived as HMAC-SHA256(key, label): the same wherever
    /// this key is, unknown to whoever lacks it, and unrelated to the key itself or to another label's.
    package func derivedKey(label: String) -> [UInt8] {
        HMAC.authenticationCode(for: Array(label.utf8), key: bytes, using: .sha256)
    }

    /// A fresh random key (not yet written anywhere).
    public static func random(path: String) -> SecretsKey {
        // 32 bytes is the only size `init` checks for, so this cannot fail.
        try! SecretsKey(bytes: SecureRandom.bytes(count: AES256GCM.keySize), path: path)
    }

    /// Where the daemon takes its key from: `explicit` when given (created when missing), else the systemd
    /// credential when `$CREDENTIALS_DIRECTORY` holds one (never created), else nil: `secrets.key` in the
    /// state directory, which `LMDBAccountStore` reads or creates once the directory is checked.
    public static func configuredLocation(explicit: String?) -> (path: String, create: Bool)? {
        if let explicit { return (explicit, true) }
        if let credentials = getenv("CREDENTIALS_DIRECTORY").map({ String(cString: $0) }), !credentials.isEmpty {
            let path = credentials + "/" + credentialName
            if access(path, F_OK) == 0 { return (path, false) }
        }
        return nil
    }

    /// Whether `path` is the systemd credential. Its group bits may show read: where the credentials' file system
    /// takes ACLs, systemd grants the service's user access through one, whose mask shows as the group bits.
    private static func isCredential(_ path: String) -> Bool {
        guard let credentials = getenv("CREDENTIALS_DIRECTORY").map({ String(cString: $0) }), !credentials.isEmpty
        else { return false }
        return path == credentials + "/" + credentialName
    }

    /// Reads the key at `path`, first creating it with a fresh random key when it is missing and `create`.
    public static func load(path: String, create: Bool) throws(AccountStoreError) -> SecretsKey {
        var file = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if file < 0 && errno == ENOENT && create {
            try write(random(path: path), to: path)
            file = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        }
        guard file >= 0 else {
            if errno == ELOOP {
                throw .storageFailure(
                    "the secrets key \(path) is a symbolic link, which twofactord does not follow: "
                        + "give --secrets-key-file the real file"
                )
            }
            throw .storageFailure(
                "cannot open the secrets key \(path): \(FileText.systemMessage(errno)): "
                    + "check --secrets-key-file"
            )
        }
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw .storageFailure("the secrets key \(path) is not a plain file: check --secrets-key-file")
        }
        let user = geteuid()
        guard info.st_uid == user || info.st_uid == 0 else {
            throw .storageFailure(
                "the secrets key \(path) is owned by uid \(info.st_uid), not by root or uid \(user) which runs "
                    + "twofactord: someone else may know it; replace it only together with its database"
            )
        }
        guard info.st_mode & (isCredential(path) ? 0o037 : 0o077) == 0 else {
            throw .storageFailure(
                "the secrets key \(path) has mode \(FileText.octal(info.st_mode)), so others may read "
                    + "or change it: run chmod 600 \(path), and rotate the key if others may have read it"
            )
        }
        var bytes = [UInt8](repeating: 0, count: AES256GCM.keySize + 1)
        let count = bytes.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
        guard count == AES256GCM.keySize else {
            throw .storageFailure(
                "the secrets key \(path) must hold exactly \(AES256GCM.keySize) bytes: restore it from "
                    + "where it was kept, or create one with head -c 32 /dev/urandom"
            )
        }
        return try SecretsKey(bytes: Array(bytes.prefix(AES256GCM.keySize)), path: path)
    }

    /// Writes `key` to a new file at `path` (never over an existing file or through a link), mode 0600,
    /// synced with its directory, so a crash leaves either no file or the whole key.
    public static func write(_ key: SecretsKey, to path: String) throws(AccountStoreError) {
        try ParentDirectory.refuseShared(path, what: "the secrets key", advice: "choose another --secrets-key-file")
        let parent = ParentDirectory.of(path)
        let file = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard file >= 0 else {
            throw .storageFailure(
                "cannot create the secrets key \(path): \(FileText.systemMessage(errno)): "
                    + "check --secrets-key-file"
            )
        }
        let written = key.bytes.withUnsafeBytes { Glibc.write(file, $0.baseAddress, $0.count) }
        let synced = fsync(file) == 0
        close(file)
        guard written == key.bytes.count, synced else {
            unlink(path)
            throw .storageFailure("cannot write the secrets key \(path): \(FileText.systemMessage(errno))")
        }
        let directory = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }
}
