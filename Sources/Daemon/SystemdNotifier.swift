import Glibc
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The sd_notify(3) protocol without libsystemd: state lines such as "READY=1" sent as one
/// datagram to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
/// namespace). Without $NOTIFY_SOCKET every send does nothing, so the daemon runs the same
/// outside systemd.
public struct SystemdNotifier: Sendable {
    /// The socket address, or nil when the daemon was not started by systemd with Type=notify.
    public let socketPath: String?

    public init(environment socketPath: String? = getenv("NOTIFY_SOCKET").map { String(cString: $0) }) {
        self.socketPath = socketPath.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Sends `state` ("READY=1", "STATUS=...", several joined by "\n"). Returns false when it
    /// could not be sent; the daemon goes on either way, as sd_notify callers do.
    @discardableResult
    public func send(_ state: String) -> Bool {
        guard let socketPath, socketPath.hasPrefix("/") || socketPath.hasPrefix("@") else { return false }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.enumerated() { raw[index] = byte }
            // "@name" names an abstract socket: its address starts with a NUL byte.
            if path.first == UInt8(ascii: "@") { raw[0] = 0 }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == UInt8(ascii: "@") ? 0 : 1))
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes {
                    sendto(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), socketAddress, length)
                }
            }
        }
        return sent == bytes.count
    }

    /// Half of $WATCHDOG_USEC, the ping interval sd_watchdog_enabled(3) recommends; nil when
    /// systemd set no watchdog for this process (WATCHDOG_PID, when set, must be ours).
    public static func watchdogInterval(
        usec: String? = getenv("WATCHDOG_USEC").map { String(cString: $0) },
        pid: String? = getenv("WATCHDOG_PID").map { String(cString: $0) }
    ) -> Duration? {
        guard let usec, let microseconds = UInt64(usec), microseconds > 0 else { return nil }
        if let pid, Int32(pid) != getpid() { return nil }
        return .microseconds(Int64(microseconds / 2))
    }
}

/// Sends WATCHDOG=1 every `interval` while an event loop still runs a task, so that a wedged
/// daemon stops pinging and systemd restarts it.
public struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let interval: Duration

    public init(notifier: SystemdNotifier, interval: Duration) {
        self.notifier = notifier
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try await MultiThreadedEventLoopGroup.singleton.next().submit {}.get()
            notifier.send("WATCHDOG=1")
            try? await Task.sleep(for: interval)
        }
    }
}
