import Glibc

/// Lookups in the system's user and group databases through the reentrant C calls (`getpwuid_r` and the like),
/// safe on any thread. What an entry's pointers point at lives in a buffer this type owns for the call; it is
/// copied out before that buffer is released. Each lookup may block on NSS (LDAP, sssd): keep it off the event
/// loop.
public enum UserDatabase {
    /// The parts of a passwd entry the programs use.
    public struct User: Sendable, Equatable {
        public var name: String
        public var uid: uid_t
        public var shell: String

        public init(name: String, uid: uid_t, shell: String) {
            self.name = name
            self.uid = uid
            self.shell = shell
        }
    }

    /// The user whose uid is `uid`, or nil when the database has none (or cannot answer).
    public static func user(withUID uid: uid_t) -> User? {
        lookUp { entry, buffer, found in getpwuid_r(uid, &entry, buffer.baseAddress!, buffer.count, &found) }
    }

    /// The user named `name`, or nil when the database has none (or cannot answer).
    public static func user(named name: String) -> User? {
        lookUp { entry, buffer, found in getpwnam_r(name, &entry, buffer.baseAddress!, buffer.count, &found) }
    }

    /// The gid of the group named `name`, or nil when the database has none (or cannot answer).
    public static func groupID(named name: String) -> gid_t? {
        withBuffer { buffer in
            var group = Glibc.group()
            var found: UnsafeMutablePointer<Glibc.group>?
            let result = getgrnam_r(name, &group, buffer.baseAddress!, buffer.count, &found)
            return (result, found == nil ? nil : group.gr_gid)
        }
    }

    /// The groups `name` belongs to: `primaryGID` and every group that lists the user as a member.
    public static func groups(ofUserNamed name: String, primaryGID: gid_t) -> [gid_t] {
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, primaryGID, &groups, &count) == -1 {
            groups = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(name, primaryGID, &groups, &count) != -1 else { return [] }
        }
        return Array(groups.prefix(Int(count)))
    }

    private static func lookUp(
        _ call: (
            inout passwd, UnsafeMutableBufferPointer<CChar>, inout UnsafeMutablePointer<passwd>?
        ) -> Int32
    ) -> User? {
        withBuffer { buffer in
            var entry = passwd()
            var found: UnsafeMutablePointer<passwd>?
            let result = call(&entry, buffer, &found)
            guard found != nil, let name = entry.pw_name else { return (result, nil) }
            let user = User(
                name: String(cString: name),
                uid: entry.pw_uid,
                shell: entry.pw_shell.map { String(cString: $0) } ?? ""
            )
            return (result, user)
        }
    }

    /// Runs `call` with a buffer for the strings of an entry, a larger one while the C library answers ERANGE
    /// (an entry with many group members, say), up to 1 MiB.
    private static func withBuffer<Answer>(
        _ call: (UnsafeMutableBufferPointer<CChar>) -> (result: Int32, answer: Answer?)
    ) -> Answer? {
        var size = 16384
        while true {
            var buffer = [CChar](repeating: 0, count: size)
            let (result, answer) = buffer.withUnsafeMutableBufferPointer { call($0) }
            if result == ERANGE, size < 1 << 20 {
                size *= 2
                continue
            }
            return result == 0 ? answer : nil
        }
    }
}
