import AccountStore
import Glibc
import NIOCore
import NIOPosix
import Synchronization
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
        let peer = try connectedPeer(to: listener.path, output: directory.path + "/peer.out")
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

    /// Through the daemon's own path (`PeerCredentials.read` on an accepted NIO channel): a peer killed before
    /// the accept but not yet reaped still has its pid and a readable session in /proc, which a read by pid alone
    /// would lend; a peer still running is read.
    @Test func theAcceptedChannel_givesTheSessionOfARunningPeer_andNoneOfOneThatExitedBeforeTheAccept() throws {
        let path = directory.path + "/nio-socket"
        let accepted = Accepted()
        let server = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton.next())
            .serverChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelInitializer { channel in
                PeerCredentials.read(from: channel).map { peer in accepted.peers.withLock { $0.append(peer) } }
            }
            .bind(unixDomainSocketPath: path).wait()
        defer { try? server.close().wait() }

        func acceptOne(expecting count: Int) throws -> PeerCredentials {
            server.read()
            for _ in 0..<1000 where accepted.peers.withLock({ $0.count }) < count { usleep(10_000) }
            return try #require(accepted.peers.withLock { $0.count == count ? $0.last : nil })
        }

        let running = try connectedPeer(to: path, output: directory.path + "/running.out")
        defer { running.signal(SIGKILL); running.waitUntilExit() }
        let runningSession = try #require(try sessionOnceStarted(of: running.processIdentifier))
        let first = try acceptOne(expecting: 1)
        #expect(first.pid == running.processIdentifier)
        #expect(first.session == runningSession)

        let exited = try connectedPeer(to: path, output: directory.path + "/exited.out")
        defer { exited.waitUntilExit() }
        let exitedSession = try #require(try sessionOnceStarted(of: exited.processIdentifier))
        kill(exited.processIdentifier, SIGKILL)
        for _ in 0..<500 where !isZombie(exited.processIdentifier) { usleep(10_000) }
        #expect(AuditSession.of(pid: exited.processIdentifier, process: .unpinned) == exitedSession)
        let second = try acceptOne(expecting: 2)
        #expect(second.pid == exited.processIdentifier)
        #expect(second.session == nil)
    }

    /// A process in a new login session, connected to the socket at `path` (it says so in `output`) and waiting.
    private func connectedPeer(to path: String, output: String) throws -> RunningChild {
        let script =
            "$| = 1; IO::Socket::UNIX->new(Peer => $ARGV[0]) or die qq(connect: $!); print qq(connected\\n); sleep 60"
        let peer = try RunningChild(inNewSession("exec perl -MIO::Socket::UNIX -e '\(script)' \(path)"), output: output)
        for _ in 0..<1000 {
            if ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("connected") { return peer }
            usleep(10_000)
        }
        peer.signal(SIGKILL)
        peer.waitUntilExit()
        throw Failure("the peer did not connect: \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
    }

    private func isZombie(_ pid: pid_t) -> Bool {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let end = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: end)...].hasPrefix(" Z")
    }

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

private final class Accepted: Sendable {
    let peers = Mutex<[PeerCredentials]>([])
}

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
