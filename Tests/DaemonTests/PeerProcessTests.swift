import AccountStore
import Glibc
import Testing
import TestSupport

@testable import Daemon

/// A pid names the peer only while the peer runs: once it has exited, the kernel may give the number to a
/// process of another login session, whose session a read through the pid would lend the connection. The test
/// stands for that reuse by asking about a live process of another session with the exited peer's pidfd.
@Suite(.enabled(if: getuid() == 0 && kernelGivesPeerPIDFDs, "needs root (to start login sessions) and SO_PEERPIDFD"))
struct PeerProcessTests {
    let directory = TemporaryDirectory(prefix: "peer-process-tests")

    @Test func aSessionReadThroughThePid_countsOnlyWhileThePeersPidfdShowsItRunning() throws {
        let listener = try UnixListener(path: directory.path + "/socket")
        let peer = try RunningChild(
            inNewSession("exec perl -MIO::Socket::UNIX -e '\(connectAndWait)' \(listener.path)")
        )
        defer { peer.signal(SIGKILL); peer.waitUntilExit() }
        let connection = try listener.accept()
        defer { close(connection) }
        let peerPID = try peerCredentials(of: connection).pid
        let pinned = PeerProcess.pinned(descriptor: try peerPIDFD(of: connection))
        defer { pinned.close() }
        let peerSession = try #require(AuditSession.of(pid: peerPID, process: pinned))

        let other = try RunningChild(inNewSession("exec sleep 60"))
        defer { other.signal(SIGKILL); other.waitUntilExit() }
        let otherSession = try #require(try sessionOnceStarted(of: other.processIdentifier))
        #expect(otherSession != peerSession)

        peer.signal(SIGKILL)
        peer.waitUntilExit()
        #expect(AuditSession.of(pid: other.processIdentifier, process: .unpinned) == otherSession)
        #expect(AuditSession.of(pid: other.processIdentifier, process: pinned) == nil)
        #expect(AuditSession.of(pid: peerPID, process: pinned) == nil)
        #expect(AuditSession.of(pid: other.processIdentifier, process: .gone) == nil)
    }

    /// Perl that connects to the socket named by its argument and waits to be killed.
    private let connectAndWait = "IO::Socket::UNIX->new(Peer => $ARGV[0]) or die qq(connect: $!); sleep 60"

    /// A shell that starts a login session as pam_loginuid does (root may write its loginuid), then runs `script`.
    private func inNewSession(_ script: String) -> [String] {
        ["/bin/sh", "-c", "echo 0 > /proc/self/loginuid || exit 90; \(script)"]
    }

    /// The session of `pid` once its shell has written the loginuid (before, it is the test's, usually none).
    private func sessionOnceStarted(of pid: pid_t) throws -> LoginSession? {
        for _ in 0..<500 {
            if let session = AuditSession.of(pid: pid, process: .unpinned),
                session != AuditSession.of(pid: getpid(), process: .unpinned)
            {
                return session
            }
            usleep(10_000)
        }
        return nil
    }
}

/// The pid, uid and gid of struct ucred.
private func peerCredentials(of connection: Int32) throws -> (pid: Int32, uid: UInt32, gid: UInt32) {
    var credentials: [Int32] = [0, 0, 0]
    var length = socklen_t(MemoryLayout<Int32>.size * 3)
    guard getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else {
        throw Failure("SO_PEERCRED: errno \(errno)")
    }
    return (credentials[0], UInt32(bitPattern: credentials[1]), UInt32(bitPattern: credentials[2]))
}

private func peerPIDFD(of connection: Int32) throws -> Int32 {
    var descriptor: Int32 = -1
    var length = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(connection, SOL_SOCKET, PeerProcess.socketOption, &descriptor, &length) == 0 else {
        throw Failure("SO_PEERPIDFD: errno \(errno)")
    }
    return descriptor
}

/// Whether this kernel gives a pidfd of a Unix socket's peer (Linux 6.5 and later).
private let kernelGivesPeerPIDFDs: Bool = {
    var pair: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else { return false }
    defer { pair.forEach { close($0) } }
    guard let descriptor = try? peerPIDFD(of: pair[0]) else { return false }
    close(descriptor)
    return true
}()

private struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A listening Unix stream socket.
private final class UnixListener {
    let path: String
    private let descriptor: Int32

    init(path: String) throws {
        self.path = path
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard descriptor >= 0, bound == 0, listen(descriptor, 4) == 0 else {
            close(descriptor)
            throw Failure("cannot listen on \(path): errno \(errno)")
        }
    }

    deinit { close(descriptor) }

    func accept() throws -> Int32 {
        let connection = Glibc.accept(descriptor, nil, nil)
        guard connection >= 0 else { throw Failure("accept: errno \(errno)") }
        return connection
    }
}
