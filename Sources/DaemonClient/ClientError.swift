/// Why talking to twofactord failed, with a message that says what to do next.
public struct ClientError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The socket could not be connected; `reason` says why and how to fix it.
        case daemonUnreachable(path: String, reason: String)
        /// The socket's permissions do not let this user connect.
        case permissionDenied(path: String)
        /// The daemon sent bytes that break docs/protocol.md, or an unexpected answer.
        case protocolViolation(String)
        /// The daemon closed the connection before answering.
        case connectionClosed
        /// The daemon did not answer within the timeout.
        case timedOut(seconds: Int)
        /// The daemon took no more connections (busy, or this user's share full): its own words.
        case connectionRefused(String)
        /// A value the user gave breaks a protocol limit; nothing was sent.
        case invalidInput(String)
        /// The process listening on the socket runs as a user we do not trust with a password; `callerTrusted` says
        /// whether the caller's own uid would have been trusted (`TrustedDaemon.trustingCaller`).
        case untrustedDaemon(path: String, uid: UInt32, callerTrusted: Bool)
        /// A system call failed in a way none of the other kinds covers.
        case systemError(operation: String, reason: String)
    }

    public var kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    public var description: String {
        switch kind {
        case .daemonUnreachable(let path, let reason):
            "cannot connect to twofactord at \(path): \(reason)"
        case .permissionDenied(let path):
            "permission denied connecting to \(path): run the command as a user allowed to use twofactord's "
                + "socket (root or the operator group), or ask the system operator"
        case .protocolViolation(let detail):
            "twofactord sent an answer this client does not understand (\(detail)): "
                + "make sure twofactor, twofactorctl and twofactord come from the same release"
        case .connectionClosed:
            "twofactord closed the connection before answering: its log says why "
                + "(journalctl -u twofactord)"
        case .timedOut(let seconds):
            "twofactord did not answer within \(seconds) seconds: check that it is running and not overloaded "
                + "(systemctl status twofactord)"
        case .connectionRefused(let message):
            "twofactord refused the connection: \(message)"
        case .invalidInput(let detail):
            detail
        case .untrustedDaemon(let path, let uid, callerTrusted: true):
            "the process listening on \(path) runs as uid \(uid), which is not root, you, or twofactord's user: "
                + "nothing was sent to it; check the --socket path, or ask the system operator"
        case .untrustedDaemon(let path, let uid, callerTrusted: false):
            "the process listening on \(path) runs as uid \(uid), which is not root or twofactord's user (a login "
                + "bridge trusts no process of the user who started it): nothing was sent to it; check the --socket "
                + "path, or ask the system operator"
        case .systemError(let operation, let reason):
            "\(operation) failed: \(reason)"
        }
    }
}
