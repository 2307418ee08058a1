import AccountStore
import Glibc

/// The checks on the state directory, made before LMDB opens anything in it:
/// - it is created with mode 0700 when missing (its parent must exist);
/// - it MUST be a directory owned by root or by the user running twofactord;
/// - it MUST NOT be writable by group or others, who could otherwise replace the database files.
enum StateDirectory {
    static func prepare(_ path: String) throws(AccountStoreError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw .storageFailure(
                "cannot create the state directory \(path): \(systemMessage(errno)): "
                    + "create its parent directory or choose another --state-dir"
            )
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .storageFailure("cannot inspect the state directory \(path): \(systemMessage(errno))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw .storageFailure("the state directory \(path) is not a directory: move it away or choose another path")
        }
        let user = geteuid()
        guard info.st_uid == user || info.st_uid == 0 else {
            throw .storageFailure(
                "the state directory \(path) is owned by uid \(info.st_uid), not by root or uid \(user): "
                    + "run chown \(user) \(path)"
            )
        }
        guard info.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
            let mode = String(info.st_mode & 0o7777, radix: 8)
            throw .storageFailure(
                "the state directory \(path) is writable by group or others (mode \(mode)): run chmod 700 \(path)"
            )
        }
    }

    static func systemMessage(_ code: Int32) -> String {
        guard let message = strerror(code) else { return "error \(code)" }
        return String(cString: message)
    }
}
