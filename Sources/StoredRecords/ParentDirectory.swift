import AccountStore
import Glibc

/// The directory a store file is made in (a backup, a new key) or read from (a backup to restore), and the check
/// that no one else could have replaced the file there.
package enum ParentDirectory {
    /// The directory part of `path`: `/` for a file at the root, `.` for a bare name.
    package static func of(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
    }

    /// Throws unless the directory of `path` is one only this process's user and root can change: a directory
    /// group or others can write, or another user owns, lets them replace the file. `doing` and `what` name the
    /// act and the file in the message ("create", "the backup"); `advice` says what to do instead.
    package static func refuseShared(
        _ path: String,
        what: String,
        doing: String = "create",
        advice: String
    ) throws(AccountStoreError) {
        let parent = of(path)
        var info = stat()
        guard lstat(parent, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw .storageFailure("cannot \(doing) \(what) \(path): \(parent) is not a directory")
        }
        guard info.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
            throw .storageFailure(
                "refusing to \(doing) \(what) \(path): \(parent) is writable by group or others, who could "
                    + "replace it; \(advice)"
            )
        }
        guard info.st_uid == geteuid() || info.st_uid == 0 else {
            throw .storageFailure(
                "refusing to \(doing) \(what) \(path): \(parent) belongs to another user, who could replace it; "
                    + advice
            )
        }
    }
}
