import AccountStore
import Glibc
import StoredRecords
import UserDatabase

/// The database password: from a file, never from the command line or the URL. MUSTs:
/// - the file is opened with `O_NOFOLLOW` and checked through that descriptor: a symbolic link is refused;
/// - it is a regular file owned by root or by the user running twofactord, which no one else may read: a
///   file of `--store-password-file` with any group or other permission bit is refused;
/// - a systemd credential (`$CREDENTIALS_DIRECTORY/twofactord-db-password`) is held to the same owner rule
///   and may not be open to others, but may show group read: where the credentials' file system takes ACLs,
///   systemd grants the service's user read access through one, and a file's group bits then show the ACL's
///   mask, not a group's access;
/// - no message names the password.
public enum PostgresPassword {
    /// The systemd credential read when no file is given.
    public static let credentialName = "twofactord-db-password"

    /// The password from `file`, else from `credentials/twofactord-db-password` when present (`credentials`
    /// is `$CREDENTIALS_DIRECTORY` unless given), else nil (peer or trust authentication on a Unix socket
    /// needs none). A file others could have read or written is refused. The trailing newline is dropped.
    public static func load(
        file: String?,
        credentials: String? = getenv("CREDENTIALS_DIRECTORY").map { String(cString: $0) }
    ) throws(AccountStoreError) -> String? {
        if let file { return try read(file, isCredential: false) }
        guard let credentials, !credentials.isEmpty else { return nil }
        let credential = credentials + "/" + credentialName
        guard access(credential, F_OK) == 0 else { return nil }
        return try read(credential, isCredential: true)
    }

    private static func read(_ path: String, isCredential: Bool) throws(AccountStoreError) -> String {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .storageFailure(
                "cannot open the database password file \(path): \(FileText.systemMessage(errno)): "
                    + "check --store-password-file"
            )
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw .storageFailure("the database password file \(path) is not a plain file")
        }
        try refuseExposed(info, path: path, isCredential: isCredential)
        var bytes = [UInt8](repeating: 0, count: 4097)
        let count = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count >= 0, count <= 4096 else {
            throw .storageFailure("the database password file \(path) cannot be read or is longer than 4096 bytes")
        }
        var length = max(count, 0)
        while length > 0, bytes[length - 1] == UInt8(ascii: "\n") || bytes[length - 1] == UInt8(ascii: "\r") {
            length -= 1
        }
        defer { bytes.withUnsafeMutableBytes { explicit_bzero($0.baseAddress!, $0.count) } }
        guard length > 0 else { throw .storageFailure("the database password file \(path) is empty") }
        return String(decoding: bytes[..<length], as: UTF8.self)
    }

    /// Refuses a file that someone other than root or this daemon's user owns, or that group or others may
    /// read or write (see the MUSTs for a credential's group bits).
    private static func refuseExposed(_ info: stat, path: String, isCredential: Bool) throws(AccountStoreError) {
        let user = geteuid()
        guard info.st_uid == user || info.st_uid == 0 else {
            throw .storageFailure(
                "the database password file \(path) is owned by uid \(info.st_uid), not by root or uid \(user) "
                    + "which runs twofactord: run chown \(userName(user)) \(path) and chmod 600 \(path), and change the "
                    + "database password if someone else may have read it"
            )
        }
        // Write access of group or others is refused for a credential too; only the group read bit is allowed.
        let forbidden: mode_t = isCredential ? 0o037 : 0o077
        guard info.st_mode & forbidden == 0 else {
            throw .storageFailure(
                "the database password file \(path) has mode \(FileText.octal(info.st_mode)), so others may "
                    + "read or change it: run chmod 600 \(path), and change the database password if others "
                    + "may have read it"
            )
        }
    }

    /// The name of `uid` for a command an operator types, or the number when it has none.
    private static func userName(_ uid: uid_t) -> String {
        UserDatabase.user(withUID: uid)?.name ?? "\(uid)"
    }
}
