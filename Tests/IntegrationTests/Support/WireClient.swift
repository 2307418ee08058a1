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
