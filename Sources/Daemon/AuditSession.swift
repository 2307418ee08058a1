import Glibc

/// The kernel's audit login session of a process: `/proc/PID/sessionid`, which pam_loginuid sets at
/// login and no unprivileged process can change. A local grace period is bound to it (issue 11).
enum AuditSession {
    /// The value of a process outside any login session.
    static let unset: UInt32 = 4_294_967_295

    /// The session of process `pid`, or nil when it has none or cannot be read (it exited, no /proc).
    static func of(pid: Int32) -> UInt32? {
        guard pid > 0 else { return nil }
        let descriptor = open("/proc/\(pid)/sessionid", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self)
        guard let id = UInt32(text.trimmingSuffixNewline()), id != unset else { return nil }
        return id
    }
}

extension String {
    fileprivate func trimmingSuffixNewline() -> Substring {
        self.hasSuffix("\n") ? self.dropLast() : self[...]
    }
}
