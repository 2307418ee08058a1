import Glibc

/// A bare Unix-socket connection for sending bytes that no well-behaved client would send.
final class RawSocket {
    private var descriptor: Int32

    init(path: String) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure("socket(): \(String(cString: strerror(errno)))") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard Self.connect(descriptor, path) else {
            let reason = String(cString: strerror(errno))
            // A class whose stored properties are all set runs its deinit when its init throws: mark the
            // descriptor closed, or deinit would close it again, and by then the number may be another
            // test's pipe.
            close(descriptor)
            descriptor = -1
            throw Failure("connect(\(path)): \(reason)")
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    static func canConnect(_ path: String) -> Bool {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return connect(descriptor, path)
    }

    private static func connect(_ descriptor: Int32, _ path: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
            }
        }
    }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { return }
            offset += written
        }
    }

    /// Says that nothing more will be sent (shutdown(SHUT_WR)); the daemon can still answer.
    func closeWrite() {
        shutdown(descriptor, Int32(SHUT_WR))
    }

    /// Everything the daemon sends until it closes the connection (or 10 s pass).
    func readUntilClosed() -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return received }
            received += buffer[..<count]
        }
    }

    /// Everything the daemon sends until it closes the connection, and whether it did (false: 10 s passed first).
    func readUntilClosedOrTimeout() -> (received: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return (received, true) }
            guard count > 0 else { return (received, false) }
            received += buffer[..<count]
        }
    }

    /// How many bytes the daemon sent that were not read yet, without reading them.
    func unreadByteCount() -> Int {
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        let count = buffer.withUnsafeMutableBytes {
            recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_PEEK | MSG_DONTWAIT))
        }
        return max(0, count)
    }

    /// Exactly one frame's body, or nil when the connection closed first.
    func readFrameBody() -> [UInt8]? {
        guard let header = read(count: 4) else { return nil }
        let length = header.reduce(0) { ($0 << 8) | Int($1) }
        return read(count: length)
    }

    private func read(count: Int) -> [UInt8]? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: count)
        while received.count < count {
            let got = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, count - received.count, 0) }
            guard got > 0 else { return nil }
            received += buffer[..<got]
        }
        return received
    }
}
