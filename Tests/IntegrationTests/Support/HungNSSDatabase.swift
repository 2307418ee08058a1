import Foundation
import Glibc

/// NSS that hangs (LDAP down) for a real daemon: the daemon runs in a mount namespace of its own whose /etc/group
/// (or /etc/passwd) is a FIFO, so that every lookup it makes in that database (getgrnam_r and getgrouplist, or
/// getpwuid_r) blocks in open(2) until `release`. Root's peers never need one (the daemon decides uid 0 without
/// NSS); the test's own lookups are not affected. Needs root (unshare, mount).
final class HungNSSDatabase {
    private let fifo: String
    private let file: String

    /// `database` is "group" or "passwd".
    init(in directory: URL, database: String = "group") throws {
        fifo = directory.appendingPathComponent("\(database).fifo").path
        file = "/etc/\(database)"
        guard mkfifo(fifo, 0o644) == 0 else { throw Failure("mkfifo \(fifo): \(String(cString: strerror(errno)))") }
    }

    /// For `DaemonProcess.start(launcher:)`: the shell binds the FIFO, then execs the daemon, which keeps its pid.
    var launcher: [String] {
        [
            "/usr/bin/unshare", "--mount", "/bin/sh", "-c", "mount --bind \"$0\" \"$1\" || exit 90; shift; exec \"$@\"",
            fifo, file,
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

    /// Gives `pid`'s mount namespace its real database back, and ends the lookups waiting on the FIFO (they find
    /// no group), so that the daemon can stop.
    func release(daemon pid: Int32) {
        _ = try? run(URL(fileURLWithPath: "/usr/bin/nsenter"), ["-t", "\(pid)", "-m", "umount", file])
        // A writer's open wakes every reader waiting in open(2); a lookup that had the path just before the umount
        // may reach its open after the first writer, so a few more follow.
        for _ in 0..<20 {
            let descriptor = open(fifo, O_WRONLY | O_NONBLOCK)
            if descriptor >= 0 { close(descriptor) }
            usleep(10_000)
        }
    }
}
