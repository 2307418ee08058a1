import Glibc
import UserDatabase
import Wire

/// A blocking connection to twofactord over its Unix socket, for the command-line tools.
/// One request at a time: each `send` writes a request and reads its answer.
///
/// Not thread-safe: use a connection from one thread. After any thrown error other than
/// `invalidInput` the connection is closed, because the stream can no longer be trusted.
public final class DaemonConnection {
    /// Where twofactord listens unless told otherwise.
    public static let defaultSocketPath = "/run/twofactord/socket"

    /// The socket path this connection was opened on.
    public let socketPath: String

    /// The protocol version agreed in the Hello: 0 until the first answer was read.
    public private(set) var version: UInt16 = 0

    private var socket: UnixSocket
    private var nextID: UInt32 = 1
    /// The Hello is written on connecting and its answer read just before the first request's, so that a
    /// client making one request (`twofactor login`, `twofactor pam`) waits for one round trip, not two.
    private var helloAnswerPending = false
    private var helloID: UInt32 = 0

    /// The user twofactord runs as when installed (see `TrustedDaemon`).
    public static let defaultDaemonUser = "twofactord"

    /// The uid of the process that answered on the socket (SO_PEERCRED).
    public let peerUID: UInt32

    /// Connects to `socketPath`, sets a receive and send timeout of `timeoutSeconds`, checks that
    /// `trusted` trusts the listening process's uid, and sends the Hello. Throws `daemonUnreachable`
    /// with a hint when nothing listens there, and `untrustedDaemon` before sending anything when
    /// someone else listens there. A daemon refusing the Hello (another protocol version, too many
    /// connections) makes the first `send` throw.
    public init(
        socketPath: String,
        timeoutSeconds: Int = 60,
        trusted: TrustedDaemon = TrustedDaemon()
    ) throws(ClientError) {
        self.socketPath = socketPath
        socket = try UnixSocket(connectingTo: socketPath, timeoutSeconds: timeoutSeconds)
        do {
            peerUID = try socket.peerUID()
        } catch {
            socket.close()
            throw error
        }
        guard trusted.trusts(peerUID) else {
            socket.close()
            throw ClientError(.untrustedDaemon(path: socketPath, uid: peerUID, callerTrusted: trusted.trustingCaller))
        }
        let version = WireProtocol.currentVersion
        helloID = nextID
        nextID += 1
        let hello = WireCodec.encodeRequest(.hello(minVersion: version, maxVersion: version), id: helloID)
        helloAnswerPending = true
        do {
            try socket.writeAll(hello)
        } catch {
            // A daemon past its connection cap answers (busy) and closes before reading anything.
            try readHelloAnswer()
            throw error
        }
    }

    deinit { socket.close() }

    /// Sends `request` with a fresh id and returns the daemon's answer. An `.error` answer is
    /// returned, not thrown: it is the daemon's decision, with a message for the user.
    ///
    /// A request breaking a protocol limit throws `invalidInput` naming the field, without
    /// sending anything. An answer with another request's id is a `protocolViolation`.
    ///
    /// The frame is wiped once written, and so is every answer once decoded. `afterWriting` runs once the write
    /// is done (or failed), before the wait for the answer: a caller sending a password for the last time wipes
    /// it there (`wipe` reaches the request's copy too), so that no copy of it waits for the answer.
    public func send(_ request: Request, afterWriting: () -> Void = {}) throws(ClientError) -> Response {
        guard socket.descriptor >= 0 else { throw ClientError(.connectionClosed) }
        do {
            try WireCodec.validate(request)
        } catch {
            throw ClientError(.invalidInput(error.message))
        }
        let id = nextID
        // Id 0 is what the daemon uses when it could not read an id, so never send it.
        nextID = nextID == .max ? 1 : nextID + 1
        do throws(ClientError) {
            do throws(ClientError) {
                var frame = WireCodec.encodeRequest(request, id: id)
                defer {
                    wipe(&frame)
                    afterWriting()
                }
                try socket.writeAll(frame)
            } catch {
                // A daemon refusing a connection past its cap answers (busy, id 0) and closes before
                // reading anything, so writing can fail while its answer is already waiting to be read.
                try readHelloAnswer()
                guard let (answerID, response) = try? readResponse(), answerID == 0, case .error = response else {
                    throw error
                }
                close()
                return response
            }
            try readHelloAnswer()
            let (answerID, response) = try readResponse()
            // The daemon answers with id 0 a frame it could not read, and a connection past its cap
            // (busy, then it closes): such an error concerns us whatever its code.
            if case .error(let code, _) = response, code.closesConnection || answerID == 0 {
                close()
                if answerID == 0 || answerID == id { return response }
            }
            guard answerID == id else {
                throw ClientError(.protocolViolation("the answer to request \(id) carried id \(answerID)"))
            }
            return response
        } catch {
            close()
            throw error
        }
    }

    /// Reads the answer to the Hello sent on connecting, once; throws when the daemon refused it.
    private func readHelloAnswer() throws(ClientError) {
        guard helloAnswerPending else { return }
        helloAnswerPending = false
        let expected = WireProtocol.currentVersion
        let (answerID, answer): (UInt32, Response)
        do throws(ClientError) {
            (answerID, answer) = try readResponse()
        } catch {
            close()
            throw error
        }
        switch answer {
        case .helloReply(expected) where answerID == helloID:
            version = expected
        case .error(.unsupportedVersion, let message):
            close()
            throw ClientError(.protocolViolation("twofactord does not speak protocol version \(expected): \(message)"))
        case .error(let code, let message) where code == .busy || code == .tooManyRequests:
            close()
            throw ClientError(.connectionRefused(message))
        case .error(let code, let message):
            close()
            throw ClientError(.protocolViolation("twofactord refused the hello with \(code): \(message)"))
        case let other:
            close()
            throw ClientError(.protocolViolation("twofactord answered the hello with \(other.type)"))
        }
    }

    /// Whether the daemon ended this connection since its last answer (it closes one idle for some minutes, and
    /// every one when it stops), found without waiting. Between requests the daemon sends nothing, so unread bytes
    /// mean the same: the connection cannot carry another request. A long-lived client checks this before it
    /// sends and opens a new connection, rather than lose the request to a closed one. True once closed.
    public var endedByDaemon: Bool {
        guard socket.descriptor >= 0 else { return true }
        // The Hello's answer may still be on its way, unread: it is expected, not a sign of an end.
        return !helloAnswerPending && socket.hasInputReady()
    }

    /// Closes the socket. Later calls to `send` throw `connectionClosed`.
    public func close() { socket.close() }

    private func readResponse() throws(ClientError) -> (UInt32, Response) {
        let header = try socket.readExactly(WireProtocol.headerLength)
        let length: Int
        do {
            length = try WireCodec.bodyLength(ofHeader: header, maximum: WireProtocol.maximumResponseBodyLength)
        } catch {
            throw ClientError(.protocolViolation(error.message))
        }
        var body = try socket.readExactly(length)
        // An answer may carry a secret (an otpauth URI, recovery codes): what the caller keeps is its own copy.
        defer { wipe(&body) }
        do {
            let decoded = try WireCodec.decodeResponse(body: body)
            return (decoded.id, decoded.response)
        } catch {
            throw ClientError(.protocolViolation(error.message))
        }
    }
}

/// Whom a client trusts with a password: root, `daemonUser` when that user exists, and with
/// `trustingCaller` the caller itself (a daemon started with `make run`). A bridge that runs inside
/// another program's login (`twofactor pam` under su or sudo, a set-group-ID `twofactor shell`) must
/// not trust the caller: its real uid is the user who started that program, not the one logging in.
public struct TrustedDaemon: Sendable {
    public var daemonUser: String
    public var trustingCaller: Bool

    public init(daemonUser: String = DaemonConnection.defaultDaemonUser, trustingCaller: Bool = true) {
        self.daemonUser = daemonUser
        self.trustingCaller = trustingCaller
    }

    /// Root and the caller are known without a passwd lookup, which may load an NSS module or ask the
    /// network; `daemonUser` is looked up only for another peer.
    public func trusts(_ uid: UInt32) -> Bool {
        if uid == 0 || (trustingCaller && uid == getuid()) { return true }
        return UserDatabase.user(named: daemonUser)?.uid == uid
    }
}
