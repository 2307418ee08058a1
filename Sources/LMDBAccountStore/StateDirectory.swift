import AccountStore
import Glibc
import StoredRecords
import UserDatabase

/// The checks on the state directory and its LMDB files, made before LMDB opens anything. They keep
/// another local user from pointing twofactord (often root) at a file of their choosing, the class of
/// oath-toolkit's CVE-2024-47191, and keep a lost database from silently becoming a new, empty one:
/// - the directory is created with mode 0700 when missing (its parent must exist), except for a job on an
///   existing store (`--check`, `--backup`, `--rotate-key`, the source of `--copy-store-to`), which creates
///   nothing and is refused where there is no store;
/// - it MUST NOT be a symbolic link (it is opened with `O_NOFOLLOW`, and checked with `fstat` on that
///   descriptor, so no link is followed between the check and the use);
/// - it MUST be a directory owned by the user running twofactord, with mode 0700;
/// - a new store is made only where there is none of `data.mdb`, `secrets.key` and `lock.mdb`: a key or a
///   lock file without its database, or an empty `data.mdb`, means a store was there and is lost, and is
///   refused; so is a restore's `restoring` directory without a database, left by a restore that was killed
///   before it renamed its copy into place;
/// - a backup and `--check` open nothing for writing and create nothing: without `lock.mdb` they read without
///   LMDB's lock file, holding a shared `flock` on the directory meanwhile so that no daemon or writing job starts;
/// - `data.mdb` and `lock.mdb` are opened relative to that descriptor with `O_NOFOLLOW` (`lock.mdb` created,
///   mode 0600, unless read-only; a new `data.mdb` is left to LMDB, which writes its first pages at once):
///   a planted link is refused, never followed; each MUST be a regular file with one link, owned by the
///   user running twofactord, with mode 0600.
/// LMDB then opens the files by path; nobody but their owner can replace them in a 0700 directory.
enum StateDirectory {
    static let dataFile = "data.mdb"
    static let lockFile = "lock.mdb"
    /// Where a restore stages its copy (Backup.swift).
    static let restoringDirectory = "restoring"

    /// What `prepare` found.
    struct Contents {
        /// None of `data.mdb`, `secrets.key` and `lock.mdb` was there: the store is to be made.
        var isNew: Bool
        /// Whether `lock.mdb` is there (a read-only open does not create it).
        var hasLockFile: Bool
    }

    /// Checks the state directory before the store opens (creating the directory and `lock.mdb` unless
    /// `readOnly`). Without `mayCreate` the directory must hold a store: one without any is refused, and
    /// nothing is created for it.
    static func prepare(_ path: String, readOnly: Bool, mayCreate: Bool = true) throws(AccountStoreError) -> Contents {
        let creating = mayCreate && !readOnly
        let directory = try openDirectory(path, creating: creating)
        defer { close(directory) }
        let contents = try inspect(directory, path: path, writable: !readOnly, mayBeNew: creating)
        if !readOnly && !contents.hasLockFile {
            _ = try checkedFile(lockFile, in: directory, path: path, creating: true, writable: true)
        }
        return Contents(isNew: contents.isNew, hasLockFile: contents.hasLockFile || !readOnly)
    }

    /// What the opened state directory holds, each file checked (opened for writing when `writable`): a store
    /// (a `data.mdb` that is not empty), or, when `mayBeNew`, none of its files. Anything else is refused,
    /// saying what to do.
    private static func inspect(
        _ directory: Int32,
        path: String,
        writable: Bool,
        mayBeNew: Bool
    ) throws(AccountStoreError) -> Contents {
        let dataSize = try checkedFile(dataFile, in: directory, path: path, creating: false, writable: writable)
        let hasLockFile =
            try checkedFile(lockFile, in: directory, path: path, creating: false, writable: writable) != nil
        let hasKey = faccessat(directory, SecretsKey.defaultFileName, F_OK, AT_SYMLINK_NOFOLLOW) == 0
        if (dataSize ?? 0) == 0 && hasUnfinishedRestore(directory) {
            throw .storageFailure(
                "a restore into \(path) did not finish (it left \(path)/\(restoringDirectory)), so there is no "
                    + "store yet: run it again (twofactord --state-dir \(path) --restore-from FILE), which raises "
                    + "every replay step before the database is put in place"
            )
        }
        if let dataSize {
            guard dataSize > 0 else { throw emptyDatabase(path) }
        } else if hasKey || hasLockFile {
            // lock.mdb too: with the key elsewhere (a systemd credential), it is what a lost database leaves.
            let left = (hasKey ? [SecretsKey.defaultFileName] : []) + (hasLockFile ? [lockFile] : [])
            throw .storageFailure(
                "\(path)/\(dataFile) is missing but \(left.map { path + "/" + $0 }.joined(separator: " and ")) "
                    + (left.count == 1 ? "is" : "are") + " there, so this directory held a store: restore its "
                    + "database from a backup (twofactord --state-dir \(path) --restore-from FILE); to start a new, "
                    + "empty store on purpose, move \(left.joined(separator: " and ")) out of \(path)"
            )
        } else if !mayBeNew {
            throw .storageFailure(
                "there is no store in \(path) (no \(dataFile)): check --state-dir; twofactord makes a new "
                    + "store there when it first starts"
            )
        }
        return Contents(isNew: dataSize == nil, hasLockFile: hasLockFile)
    }

    /// The state directory a reading job (a backup, `--check`) reads, opened read-only and checked like the
    /// store's, holding a store. It stays open, and locked shared when it has no `lock.mdb`, until the value goes
    /// away.
    final class ReadOnlySource {
        private let descriptor: Int32
        /// Whether `lock.mdb` is there: the job registers as a reader in it, as every reader of a store being
        /// served does, so the daemon keeps the pages it reads; without it the job reads without a lock file.
        let hasLockFile: Bool

        /// `job` ("back up", "check") ends the message that refuses it while another process holds the directory.
        init(_ path: String, for job: String) throws(AccountStoreError) {
            let directory = try openDirectory(path, creating: false)
            let contents: Contents
            do throws(AccountStoreError) {
                contents = try inspect(directory, path: path, writable: false, mayBeNew: false)
                // Without lock.mdb no process has the store open; keep one from opening it while the job reads.
                if !contents.hasLockFile && flock(directory, LOCK_SH | LOCK_NB) != 0 {
                    let code = errno
                    throw AccountStoreError.storageFailure(
                        code == EWOULDBLOCK
                            ? "another twofactord is using \(path) (a daemon starting, or a restore, key rotation or "
                                + "copy): \(job) once it is serving or done"
                            : "cannot lock the state directory \(path): \(FileText.systemMessage(code))"
                    )
                }
            } catch {
                close(directory)
                throw error
            }
            descriptor = directory
            hasLockFile = contents.hasLockFile
        }

        deinit { close(descriptor) }
    }

    /// For a restore: the checked directory (created when missing), which MUST hold no database, or only an
    /// empty `data.mdb` (what a lost database leaves, and what `prepare` tells the operator to restore).
    /// Returns whether an earlier restore into it was killed before its rename.
    static func prepareForRestore(_ path: String) throws(AccountStoreError) -> Bool {
        let directory = try openDirectory(path, creating: true)
        defer { close(directory) }
        if let size = try checkedFile(dataFile, in: directory, path: path, creating: false, writable: true), size > 0 {
            throw .storageFailure(
                "\(path) already holds a database: move its \(dataFile) and \(lockFile) away before restoring"
            )
        }
        _ = try checkedFile(lockFile, in: directory, path: path, creating: false, writable: true)
        return hasUnfinishedRestore(directory)
    }

    /// Whether a restore into the opened state directory was killed before its rename (it left `restoring`).
    private static func hasUnfinishedRestore(_ directory: Int32) -> Bool {
        faccessat(directory, restoringDirectory, F_OK, AT_SYMLINK_NOFOLLOW) == 0
    }

    /// Empties what an earlier restore left in `staging`, or creates it (mode 0700 like the state directory
    /// it is in); either way its entry is synced before anything is copied into it, so that a restore cut by
    /// a power loss leaves the mark the state directory is refused by.
    static func startStaging(_ staging: String, in path: String) throws(AccountStoreError) {
        // The name a restore of the previous release staged its copy under, with the backup's steps unraised.
        unlink(path + "/" + dataFile + ".restoring")
        for name in [dataFile, lockFile] { unlink(staging + "/" + name) }
        var info = stat()
        let exists = lstat(staging, &info) == 0
        guard exists ? info.st_mode & S_IFMT == S_IFDIR : mkdir(staging, 0o700) == 0 else {
            let code = errno
            let advice =
                exists
                ? ": it is not a directory; move it away, then restore again" : ": \(FileText.systemMessage(code))"
            throw .storageFailure("cannot use \(staging) for the restore" + advice)
        }
        syncEntries(path)
    }

    /// Removes the files a restore puts in `staging`, and `staging` itself unless `keepingTheMark`: a restore
    /// that fails after an earlier one was killed must leave the directory refused, as it found it.
    static func removeStaging(_ staging: String, keepingTheMark: Bool = false) {
        for name in [dataFile, lockFile] { unlink(staging + "/" + name) }
        if !keepingTheMark { rmdir(staging) }
    }

    /// Removes the files of a new store whose opening failed (its key too, when it made it), so the directory
    /// counts as new again.
    static func removeNewStore(_ path: String, withKey: Bool) {
        for name in [dataFile, lockFile] + (withKey ? [SecretsKey.defaultFileName] : []) {
            unlink(path + "/" + name)
        }
        syncEntries(path)
    }

    /// Makes the directory entries of files just created or renamed in `path` durable.
    static func syncEntries(_ path: String) {
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return }
        fsync(directory)
        close(directory)
    }

    static func emptyDatabase(_ path: String) -> AccountStoreError {
        .storageFailure(
            "\(path)/\(dataFile) is empty, so the database it held is lost: restore it from a backup "
                + "(twofactord --state-dir \(path) --restore-from FILE); to start a new, empty store on purpose, "
                + "move \(dataFile), \(lockFile) and \(SecretsKey.defaultFileName) out of \(path)"
        )
    }

    /// The checked directory, opened without following a link; created (mode 0700) when missing and `creating`.
    static func openDirectory(_ path: String, creating: Bool) throws(AccountStoreError) -> Int32 {
        if creating && mkdir(path, 0o700) != 0 && errno != EEXIST {
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
            case ENOENT where !creating:
                throw .storageFailure("there is no store in \(path): the directory does not exist: check --state-dir")
            default:
                throw .storageFailure("cannot open the state directory \(path): \(FileText.systemMessage(code))")
            }
        }
        var info = stat()
        guard fstat(directory, &info) == 0 else {
            let code = errno
            close(directory)
            throw .storageFailure("cannot inspect the state directory \(path): \(FileText.systemMessage(code))")
        }
        let user = geteuid()
        guard info.st_uid == user else {
            close(directory)
            if user == 0 {
                // Root running a restore, check or key rotation on the daemon's directory: chown would leave a
                // directory the daemon's own user refuses.
                let owner = UserDatabase.user(withUID: info.st_uid)?.name ?? "#\(info.st_uid)"
                throw .storageFailure(
                    "the state directory \(path) is owned by uid \(info.st_uid) (\(owner)), not by root: run this as "
                        + "its owner (runuser -u \(owner) -- twofactord ...), with a copy of the key and backup that "
                        + "user can read (docs/security.md, \"Backup, check and restore\"); do not chown it to root, "
                        + "or the daemon, which runs as \(owner), will refuse it"
                )
            }
            throw .storageFailure(
                "the state directory \(path) is owned by uid \(info.st_uid), not by uid \(user) which runs "
                    + "twofactord: run chown \(user) \(path), or choose another --state-dir"
            )
        }
        guard info.st_mode & 0o777 == 0o700 else {
            close(directory)
            throw .storageFailure(
                "the state directory \(path) has mode \(FileText.octal(info.st_mode)), not 0700: run chmod 700 \(path)"
            )
        }
        return directory
    }

    /// Opens one database file without following a link (creating it empty when missing and `creating`) and
    /// checks what it is through the descriptor. Returns its size in bytes, or nil when it is missing.
    private static func checkedFile(
        _ name: String,
        in directory: Int32,
        path: String,
        creating: Bool,
        writable: Bool
    ) throws(AccountStoreError) -> Int? {
        let filePath = path + "/" + name
        // O_NONBLOCK: opening a planted FIFO or device must not hang or have effects before it is refused.
        let flags = (writable ? O_RDWR : O_RDONLY) | (creating ? O_CREAT : 0) | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
        let file = openat(directory, name, flags, 0o600)
        guard file >= 0 else {
            switch errno {
            case ENOENT where !creating:
                return nil
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
        return Int(info.st_size)
    }
}
