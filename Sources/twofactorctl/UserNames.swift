import Glibc

/// Local user names for the uids `user show` reports, from this host's user database.
enum UserNames {
    /// The name of `uid` (getpwuid_r), or nil when this host has no such user.
    static func name(of uid: UInt32) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name
        else { return nil }
        return String(cString: name)
    }
}
