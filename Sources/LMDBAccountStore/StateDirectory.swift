import AccountStore
import Glibc
import StoredRecords

/// The checks on the state directory and its LMDB files, made before LMDB opens anything. They keep
/// another local user from pointing twofactord (often root) at a file of their choosing, the class of
/// oath-toolkit's CVE-2024-47191:
/// - the directory is created with mode 0700 when missing (its parent must exist);
/// - it MUST NOT be a symbolic link (it is opened with `O_NOFOLLOW`, and checked with `fstat` on that
///   descriptor, so no link is followed between the check and the use);
/// - it MUST be a directory owned by the user running twofactord, with mode 0700;
/// - `data.mdb` and `lock.mdb` are opened (or created, mode 0600) relative to that descriptor with
///   `O_NOFOLLOW`: a planted link is refused, never followed; each MUST be a regular file with one
///   link, owned by the user running twofactord, with mode 0600.
/// LMDB then opens the files by path; nobody but their owner can replace them in a 0700 directory.
enum StateDirectory {
    /// The files LMDB keeps in the state directory.
    static let databaseFiles = ["data.mdb", "lock.mdb"]

    static func prepare(_ path: String) throws(AccountStoreError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw .storageFailure(
                "cannot create the state directory \(path): \(FileText.systemMessage(errno)): "
                    + "create its parent directory or choose another --state-dir"
            )
        }
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else {
            let code = errno
            var info = stat()
            // O_DIRECTORY reports a link as ENOTDIR before O_NOFOLLOW reports ELOOP: tell the two apart.
            let isLink = lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK
            switch isLink ? ELOOP : code {
            case ELOOP:
                throw .storageFailure(
                    "the state directory \(path) is a symbolic link, which twofactord does not follow: "
                        + "give --state-dir the real directory"
                )
            case ENOTDIR:
                throw .storageFailure(
                    "the state directory \(path) is not a directory: move it away or choose another --state-dir"
                )
            default:
                throw .storageFailure("cannot open the state directory \(path): \(FileText.systemMessage(code))")
            }
        }
        defer { close(directory) }
        var info = stat()
        guard fstat(directory, &info) == 0 else {
            throw .storageFailure("cannot inspect the state directory \(path): \(FileText.systemMessage(errno))")
        }
        let user = geteuid()
        guard info.st_uid == user else {
            throw .storageFailure(
                "the state directory \(path) is owned by uid \(info.st_uid), not by uid \(user) which runs "
                    + "twofactord: run chown \(user) \(path), or choose another --state-dir"
            )
        }
        guard info.st_mode & 0o777 == 0o700 else {
            throw .storageFailure(
                "the state directory \(path) has mode \(FileText.octal(info.st_mode)), not 0700: run chmod 700 \(path)"
            )
        }
        for name in databaseFiles {
            try checkFile(name, in: directory, path: path)
        }
    }

    /// Opens (creating it empty when missing, which LMDB takes for a new database) one database file
    /// without following a link, and checks what it is through the descriptor.
    private static func checkFile(_ name: String, in directory: Int32, path: String) throws(AccountStoreError) {
        let filePath = path + "/" + name
        // O_NONBLOCK: opening a planted FIFO or device must not hang or have effects before it is refused.
        let file = openat(directory, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        guard file >= 0 else {
            switch errno {
            case ELOOP:
                throw .storageFailure(
                    "\(filePath) is a symbolic link, which twofactord does not follow: remove it, "
                        + "and restore the database from a backup if it was moved"
                )
            case EROFS:
                throw .storageFailure(
                    "cannot write \(filePath): the file system is read-only: remount it read-write "
                        + "or choose another --state-dir"
                )
            default:
                throw .storageFailure("cannot open \(filePath): \(FileText.systemMessage(errno))")
            }
        }
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0 else {
            throw .storageFailure("cannot inspect \(filePath): \(FileText.systemMessage(errno))")
        }
        guard info.st_mode & S_IFMT == S_IFREG, info.st_nlink == 1 else {
            throw .storageFailure("\(filePath) is not a plain file with a single link: move it away")
        }
        let user = geteuid()
        guard info.st_uid == user else {
            throw .storageFailure(
                "\(filePath) is owned by uid \(info.st_uid), not by uid \(user) which runs twofactord: "
                    + "check who wrote it, then run chown \(user) \(filePath)"
            )
        }
        guard info.st_mode & 0o777 == 0o600 else {
            throw .storageFailure(
                "\(filePath) has mode \(FileText.octal(info.st_mode)), not 0600: run chmod 600 \(filePath)"
            )
        }
    }
}
