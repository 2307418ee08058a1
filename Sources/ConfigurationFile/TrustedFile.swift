import Glibc

/// Reads a file that decides how a root-started daemon behaves (its configuration, a key), after
/// checking that nobody but root and the daemon's own user can have written it, as sshd and doas
/// do with theirs.
///
/// MUSTs: the file is owned by root or by the reading process's effective user; neither others
/// nor (unless the group is root's or the process's own) its group may write it; it is a regular
/// file. The checks run on the opened descriptor (fstat), and the same descriptor is read, so the
/// file checked is the file read.
public enum TrustedFile {
    /// Why a file was refused; `description` names the file and says what to change.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "refusing '\(path)': \(reason)" }
    }

    /// The contents of `path`, or nil when it does not exist and `mayBeMissing` is true.
    public static func read(_ path: String, mayBeMissing: Bool = false) throws(Refusal) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else {
            let error = errno
            if error == ENOENT, mayBeMissing { return nil }
            throw Refusal(path: path, reason: "cannot open it: \(String(cString: strerror(error)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw Refusal(path: path, reason: "cannot inspect it: \(String(cString: strerror(errno)))")
        }
        try check(status, path: path, user: geteuid(), group: getegid())
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes += buffer[..<count]
                guard bytes.count <= 1 << 20 else { throw Refusal(path: path, reason: "it is larger than 1 MiB") }
            } else if count < 0, errno == EINTR {
                continue
            } else if count < 0 {
                throw Refusal(path: path, reason: "cannot read it: \(String(cString: strerror(errno)))")
            } else {
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The ownership and mode rules, on a `stat` result; `user` and `group` are the reader's.
    static func check(_ status: stat, path: String, user: uid_t, group: gid_t) throws(Refusal) {
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw Refusal(path: path, reason: "it is not a regular file")
        }
        guard status.st_uid == 0 || status.st_uid == user else {
            throw Refusal(
                path: path,
                reason: "it is owned by uid \(status.st_uid), not by root or this daemon's user (uid \(user)): "
                    + "chown root it"
            )
        }
        if status.st_mode & S_IWOTH != 0 {
            throw Refusal(path: path, reason: "others can write it: chmod o-w it")
        }
        if status.st_mode & S_IWGRP != 0, status.st_gid != 0, status.st_gid != group {
            throw Refusal(path: path, reason: "its group (gid \(status.st_gid)) can write it: chmod g-w it")
        }
    }
}
