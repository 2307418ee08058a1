import AccountStore
import Glibc

/// The kernel's audit login session of a process: `/proc/PID/sessionid`, which pam_loginuid sets at
/// login and no unprivileged process can change, on this boot of this host. A local grace period is bound
/// to it (issue 11).
enum AuditSession {
    /// The value of a process outside any login session.
    static let unset: UInt32 = 4_294_967_295

    /// The session of the peer `pid`, or nil when it has none or cannot be read (it exited, no /proc), or
    /// the boot is unknown. The pid is read first and `process` asked after, so a pid another process took
    /// once the peer had exited yields nil, not that process's session.
    static func of(pid: Int32, process: PeerProcess) -> LoginSession? {
        guard process.isRunning, let session = of(pid: pid), process.isRunning else { return nil }
        return session
    }

    private static func of(pid: Int32) -> LoginSession? {
        guard pid > 0, let boot = bootID, let text = firstLine(of: "/proc/\(pid)/sessionid", limit: 16),
            let id = UInt32(text), id != unset
        else { return nil }
        return LoginSession(boot: boot, id: id)
    }

    /// Why the daemon cannot read its peers' sessions, when it can tell: then no local grace applies. Under the
    /// shipped unit both reasons hold, and a drop-in must undo both to have local graces.
    static var whyUnreadable: String? {
        var reasons: [String] = []
        if bootID == nil {
            reasons.append("/proc/sys/kernel/random/boot_id cannot be read (systemd's ProcSubset=pid hides it)")
        }
        let parent = getppid()
        if parent > 0, access("/proc/\(parent)/sessionid", R_OK) != 0 {
            reasons.append("/proc hides other users' processes (systemd's ProtectProc=invisible, or hidepid)")
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    /// The 16 bytes of `/proc/sys/kernel/random/boot_id`, random for each boot of each host; read once, since
    /// it does not change while the daemon runs.
    static let bootID: [UInt8]? = {
        guard let text = firstLine(of: "/proc/sys/kernel/random/boot_id", limit: 64) else { return nil }
        let digits = text.utf8.filter { $0 != UInt8(ascii: "-") }
        guard digits.count == 32 else { return nil }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let pair = String(decoding: digits[index..<index + 2], as: UTF8.self)
            guard let byte = UInt8(pair, radix: 16) else { return nil }
            bytes.append(byte)
            index += 2
        }
        return bytes
    }()

    private static func firstLine(of path: String, limit: Int) -> Substring? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer.prefix(count), as: UTF8.self).trimmingSuffixNewline()
    }
}

extension String {
    fileprivate func trimmingSuffixNewline() -> Substring {
        self.hasSuffix("\n") ? self.dropLast() : self[...]
    }
}
