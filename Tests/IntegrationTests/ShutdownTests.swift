import Foundation
import Glibc
import Testing
import Wire

/// SIGTERM stops the daemon without dropping a request it has already read.
@Suite struct ShutdownTests {
    @Test func sigterm_letsRequestInFlightFinish_thenExitsZero() throws {
        let daemon = try DaemonProcess()
        // A real-cost hash keeps the login busy on a worker long enough to signal in the middle of it.
        try daemon.start(extraArguments: ["--scrypt-log-n", "16"])
        _ = try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "pass-phrase\n")

        let socket = try RawSocket(path: daemon.socketPath)
        socket.send(WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1))
        _ = try #require(socket.readFrameBody())
        socket.send(
            WireCodec.encodeRequest(
                .login(user: "alice", password: Array("pass-phrase".utf8), codeKind: .none, code: ""),
                id: 2
            )
        )
        // Let the event loop read the frame (microseconds) before the signal; the hash takes far longer.
        usleep(100_000)
        let process = try #require(daemon.process)
        kill(process.processIdentifier, SIGTERM)

        let body = try #require(socket.readFrameBody(), "the answer in flight must still arrive")
        let (id, response) = try WireCodec.decodeResponse(body: body)
        #expect(id == 2)
        #expect(response == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []))
        #expect(socket.readFrameBody() == nil, "then the connection is closed")
        #expect(daemon.stop() == 0, "\(daemon.log())")
        #expect(!FileManager.default.fileExists(atPath: daemon.socketPath), "the socket file is removed")
    }
}
