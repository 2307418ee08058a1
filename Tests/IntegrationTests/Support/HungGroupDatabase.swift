import Foundation
import Glibc

/// NSS that hangs (LDAP down) for a real daemon: the daemon runs in a mount namespace of its own whose /etc/group
/// is a FIFO, so that every group lookup it makes (getgrnam_r, getgrouplist) blocks in open(2) until `release`.
/// Root's peers never need one (the daemon decides uid 0 without NSS); the test's own lookups are not affected.
/// Needs root (unshare, mount).
final class HungGroupDatabase {
    private let fifo: String

    init(in directory: URL) throws {
        fifo = directory.appendingPathComponent("group.fifo").path
        guard mkfifo(fifo, 0o644) == 0 else { throw Failure("mkfifo \(fifo): \(String(cString: strerror(errno)))") }
    }

    /// For `DaemonProcess.start(launcher:)`: the shell binds the FIFO, then execs the daemon, which keeps its pid.
    var launcher: [String] {
        [
            "/usr/bin/unshare", "--mount", "/bin/sh", "-c", "mount --bind \"$0\" /etc/group || exit 90; exec \"$@\"",
            fifo,
        ]
    }

    /// The threads of process `pid` waiting in open(2) for the FIFO (a lookup under way).
    static func lookupsWaiting(in pid: Int32) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.filter { task in
            let wchan = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/wchan", encoding: .utf8)
            return wchan == "wait_for_partner"
        }.count
    }

    /// Gives `pid`'s mount namespace its real /etc/group back, and ends the lookups waiting on the FIFO (they find
    /// no group), so that the daemon can stop.
    func release(daemon pid: Int32) {
        _ = try? run(URL(fileURLWithPath: "/usr/bin/nsenter"), ["-t", "\(pid)", "-m", "umount", "/etc/group"])
        // A writer's open wakes every reader waiting in open(2); a lookup that had the path just before the umount
        // may reach its open after the first writer, so a few more follow.
        for _ in 0..<20 {
            let descriptor = open(fifo, O_WRONLY | O_NONBLOCK)
            if descriptor >= 0 { close(descriptor) }
            usleep(10_000)
        }
    }
}
