import Glibc

/// systemd socket activation (sd_listen_fds(3)): the listening socket arrives as fd 3 when
/// LISTEN_PID names this process and LISTEN_FDS is at least 1.
public enum SocketActivation {
    public static let firstDescriptor: Int32 = 3

    /// The inherited listening descriptor, or nil when the daemon was not socket-activated.
    /// Unsets the LISTEN_* variables either way, so that no child process takes them as its own.
    public static func inheritedListener() -> Int32? {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pidText = getenv("LISTEN_PID").map({ String(cString: $0) }),
            let pid = Int32(pidText), pid == getpid(),
            let countText = getenv("LISTEN_FDS").map({ String(cString: $0) }),
            let count = Int32(countText), count >= 1
        else { return nil }
        _ = fcntl(firstDescriptor, F_SETFD, FD_CLOEXEC)
        return firstDescriptor
    }
}

/// Checks on a socket path before the daemon binds it.
enum SocketPath {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// Creates the parent directory when missing, and refuses to take over a socket that another
    /// daemon still serves (binding would silently steal its path).
    static func prepare(_ path: String) throws(Problem) {
        guard path.utf8.count < 108 else {
            throw Problem(description: "the socket path '\(path)' is longer than 107 bytes: choose a shorter --socket")
        }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let directory = String(path[..<slash])
            if access(directory, F_OK) != 0, mkdir(directory, 0o755) != 0 {
                throw Problem(description: "cannot create '\(directory)': \(String(cString: strerror(errno)))")
            }
        }
        if isServed(path) {
            throw Problem(
                description: "another twofactord is already listening on '\(path)': stop it or choose another --socket"
            )
        }
    }

    static func isServed(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }
}
