import Glibc

/// The text of an errno value, from strerror.
func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// A connected, blocking AF_UNIX stream socket. Internal: `DaemonConnection` is the public face.
/// Every failure becomes a `ClientError` whose message says what to do.
struct UnixSocket {
    private(set) var descriptor: Int32
    let timeoutSeconds: Int

    /// The corresponding C functions are `socket`, `setsockopt(SO_RCVTIMEO/SO_SNDTIMEO)` and `connect`.
    /// The descriptor is closed on every failure path.
    init(connectingTo path: String, timeoutSeconds: Int) throws(ClientError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !pathBytes.isEmpty, pathBytes.count < capacity, !pathBytes.contains(0) else {
            throw ClientError(.invalidInput("the socket path must be 1 to \(capacity - 1) bytes long: \(path)"))
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }

        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw ClientError(.systemError(operation: "socket(AF_UNIX)", reason: errorText(errno)))
        }
        self.descriptor = descriptor
        self.timeoutSeconds = timeoutSeconds
        do throws(ClientError) {
            // Set before connect: on Linux SO_SNDTIMEO also bounds a connect to a full backlog.
            try setTimeout(SO_RCVTIMEO)
            try setTimeout(SO_SNDTIMEO)
            let result = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if result != 0 { throw connectError(errno, path: path) }
        } catch {
            Glibc.close(descriptor)
            throw error
        }
    }

    private func setTimeout(_ option: Int32) throws(ClientError) {
        var value = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        guard setsockopt(descriptor, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw ClientError(.systemError(operation: "setsockopt(timeout)", reason: errorText(errno)))
        }
    }

    private func connectError(_ code: Int32, path: String) -> ClientError {
        let start = "start it with `make run` or `systemctl start twofactord.socket`"
        switch code {
        case ENOENT:
            // A daemon may well run elsewhere: `make run`'s listens on .run/socket, not on the default path.
            return ClientError(
                .daemonUnreachable(
                    path: path,
                    reason: "no such file: is twofactord running? start it with `make run` or "
                        + "`systemctl start twofactord.socket`, or give --socket the path it listens on "
                        + "(`make run`'s is .run/socket in the source folder)"
                )
            )
        case ECONNREFUSED:
            return ClientError(
                .daemonUnreachable(
                    path: path,
                    reason: "connection refused: the socket exists but twofactord is not listening; \(start)"
                )
            )
        case EACCES, EPERM:
            return ClientError(.permissionDenied(path: path))
        case EAGAIN, ETIMEDOUT:
            return ClientError(.timedOut(seconds: timeoutSeconds))
        case ENOTDIR, ENOTSOCK:
            return ClientError(.daemonUnreachable(path: path, reason: "\(errorText(code)): check the --socket path"))
        default:
            return ClientError(.daemonUnreachable(path: path, reason: errorText(code)))
        }
    }

    /// The uid of the process at the other end (SO_PEERCRED). The kernel fills a `struct ucred`,
    /// three 32-bit fields (pid, uid, gid), which Glibc's Swift module does not declare.
    func peerUID() throws(ClientError) -> UInt32 {
        var credentials: [UInt32] = [0, 0, 0]
        var length = socklen_t(MemoryLayout<UInt32>.size * 3)
        let result = credentials.withUnsafeMutableBytes {
            getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, $0.baseAddress, &length)
        }
        guard result == 0, length == socklen_t(MemoryLayout<UInt32>.size * 3) else {
            throw ClientError(.systemError(operation: "getsockopt(SO_PEERCRED)", reason: errorText(errno)))
        }
        return credentials[1]
    }

    /// Sends all of `bytes`. MSG_NOSIGNAL turns a closed peer into EPIPE instead of SIGPIPE.
    func writeAll(_ bytes: [UInt8]) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent >= 0 {
                offset += sent
                continue
            }
            let code = errno
            if code == EINTR { continue }
            throw transferError(code, operation: "send")
        }
    }

    /// Whether something is ready to read, found without waiting: end of input when the peer closed the
    /// connection, a reset, or bytes nobody asked for. The corresponding C function is `poll`; an interrupted
    /// call counts as nothing ready.
    func hasInputReady() -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0
    }

    /// Reads exactly `count` bytes. End of stream before them is `connectionClosed`.
    func readExactly(_ count: Int) throws(ClientError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            // Into the array itself: through `bytes[offset...]` the slice gets a copy, left unwiped when freed.
            let received = bytes.withUnsafeMutableBytes {
                recv(descriptor, $0.baseAddress! + offset, count - offset, 0)
            }
            if received > 0 {
                offset += received
            } else if received == 0 {
                throw ClientError(.connectionClosed)
            } else {
                let code = errno
                if code == EINTR { continue }
                throw transferError(code, operation: "recv")
            }
        }
        return bytes
    }

    /// EAGAIN (equal to EWOULDBLOCK on Linux) is what a receive or send timeout returns.
    private func transferError(_ code: Int32, operation: String) -> ClientError {
        switch code {
        case EAGAIN: ClientError(.timedOut(seconds: timeoutSeconds))
        case EPIPE, ECONNRESET: ClientError(.connectionClosed)
        default: ClientError(.systemError(operation: operation, reason: errorText(code)))
        }
    }

    mutating func close() {
        guard descriptor >= 0 else { return }
        Glibc.close(descriptor)
        descriptor = -1
    }
}
