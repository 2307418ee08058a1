import AccountStore
import CPeerCredentials
import Glibc
import NIOCore
import UserDatabase

/// The process at the other end of a Unix socket, as the kernel reports it (SO_PEERCRED).
/// Taken when the connection is accepted; the client cannot choose it.
public struct PeerCredentials: Sendable, Hashable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
    /// The peer's audit login session (AuditSession.swift), read with the credentials: read later through the
    /// pid, it would be that of whichever process has the pid by then, once the peer has exited.
    public var session: LoginSession?

    public init(pid: Int32, uid: UInt32, gid: UInt32, session: LoginSession? = nil) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.session = session
    }

    /// Reads SO_PEERCRED from an accepted Unix-socket channel, and the peer's login session while a pidfd
    /// (SO_PEERPIDFD) shows the pid still belongs to the peer.
    static func read(from channel: Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        let credentials: EventLoopFuture<twofactord_ucred> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(SO_PEERCRED)
        )
        return credentials.flatMap { credentials in
            peerProcess(from: provider).map { process in
                defer { process.close() }
                return PeerCredentials(
                    pid: credentials.pid,
                    uid: credentials.uid,
                    gid: credentials.gid,
                    session: AuditSession.of(pid: credentials.pid, process: process)
                )
            }
        }
    }

    private static func peerProcess(from provider: SocketOptionProvider) -> EventLoopFuture<PeerProcess> {
        let descriptor: EventLoopFuture<CInt> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET),
            name: SocketOptionName(PeerProcess.socketOption)
        )
        return descriptor.map { PeerProcess.pinned(descriptor: $0) }.recover { error in
            (error as? IOError)?.errnoCode == ENOPROTOOPT ? .unpinned : .gone
        }
    }
}

/// What tells that the pid SO_PEERCRED gave still names the process that connected: once the peer has
/// exited, another process may get its pid, and with it lend its own session.
enum PeerProcess {
    /// A pidfd of the peer: anything read through the pid counts only while the pidfd shows the peer running.
    case pinned(descriptor: CInt)
    /// A kernel before SO_PEERPIDFD (Linux 6.5): the pid is trusted as it is, and a peer that exits between
    /// its connect and the accept could lend the session of whichever process gets its pid.
    case unpinned
    /// The peer had exited before the accept, or its pidfd could not be had: it has no session.
    case gone

    /// SO_PEERPIDFD, which Debian 12's headers lack.
    static let socketOption = TWOFACTORD_SO_PEERPIDFD

    /// True unless the pidfd shows the peer has exited (it turns readable then).
    var isRunning: Bool {
        switch self {
        case .pinned(let descriptor):
            var event = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            var ready = poll(&event, 1, 0)
            while ready < 0 && errno == EINTR { ready = poll(&event, 1, 0) }
            return ready == 0
        case .unpinned: return true
        case .gone: return false
        }
    }

    func close() {
        if case .pinned(let descriptor) = self { _ = Glibc.close(descriptor) }
    }
}

/// Decides whether a peer is an operator: root, the daemon's own user (who owns the state files
/// anyway), or a member of the operator group (primary or supplementary).
public struct OperatorPolicy: Sendable {
    public let groupName: String
    let daemonUID: UInt32

    public init(groupName: String, daemonUID: UInt32 = getuid()) {
        self.groupName = groupName
        self.daemonUID = daemonUID
    }

    /// May block on NSS (LDAP, sssd): call it off the event loop.
    public func isOperator(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 || peer.uid == daemonUID { return true }
        guard let operatorGID = UserDatabase.groupID(named: groupName) else { return false }
        if peer.gid == operatorGID { return true }
        guard let name = UserDatabase.user(withUID: peer.uid)?.name else { return false }
        return UserDatabase.groups(ofUserNamed: name, primaryGID: peer.gid).contains(operatorGID)
    }
}
