import Wire

/// One connection speaking the protocol (Hello first), for tests that send many requests fast.
/// Every failure, including the daemon dying mid-request, is `nil`: callers decide what it means.
final class WireClient {
    private let socket: RawSocket
    private var nextID: UInt32 = 2

    init?(path: String) {
        guard let socket = try? RawSocket(path: path) else { return nil }
        self.socket = socket
        socket.send(WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1))
        guard let body = socket.readFrameBody(), case (1, .helloReply)? = try? WireCodec.decodeResponse(body: body)
        else { return nil }
    }

    /// Sends `request` and returns the daemon's answer, or nil when the connection ended first.
    func call(_ request: Request) -> Response? {
        let id = nextID
        nextID &+= 1
        socket.send(WireCodec.encodeRequest(request, id: id))
        guard let body = socket.readFrameBody(), let (answerID, response) = try? WireCodec.decodeResponse(body: body),
            answerID == id
        else { return nil }
        return response
    }
}

extension WireClient {
    /// Six wrong passwords for `user` from sshd at 192.0.2.7, past the free failures: whether the last was
    /// answered `locked` (the origin's lock, which `user show` lists).
    func lockOutFromSSHD(_ user: String) -> Bool {
        let sshd = LoginOrigin(service: "sshd", remoteHost: "192.0.2.7")
        var last: Response?
        for _ in 0..<6 {
            last = call(
                .loginFrom(user: user, password: Array("wrong-guess".utf8), codeKind: .none, code: "", origin: sshd)
            )
        }
        if case .loginResult(.locked, _, _)? = last { return true }
        return false
    }
}
