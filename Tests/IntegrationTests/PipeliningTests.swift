import Foundation
import Testing
import Wire

/// A request that ran is always answered, in order; one refused for load never ran.
@Suite struct PipeliningTests {
    @Test func pipelinePastTheQueueBound_answersEveryRequestThatRan_inOrder() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("alice", password: "pw", period: 3600)
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)

        // Hello, a TOTP login that uses up `code`, then far more requests than a connection may queue,
        // all in one write so that the daemon reads them at once.
        let lastID: UInt32 = 80
        var bytes = WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1)
        bytes += WireCodec.encodeRequest(
            .login(user: "alice", password: Array("pw".utf8), codeKind: .totp, code: code),
            id: 2
        )
        for id in 3...lastID {
            bytes += WireCodec.encodeRequest(.userShow(user: "alice"), id: id)
        }
        let socket = try RawSocket(path: daemon.socketPath)
        socket.send(bytes)

        var answers: [(id: UInt32, response: Response)] = []
        while answers.last?.id != lastID, let body = socket.readFrameBody() {
            answers.append(try WireCodec.decodeResponse(body: body))
        }
        #expect(answers.map(\.id) == Array(1...UInt32(answers.count)), "answers in request order, none missing")
        #expect(answers.count >= 2)
        if answers.count >= 2 {
            #expect(
                answers[1].response == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: ""),
                "the login ran (its code is used up below), so its ok must come back:\n\(daemon.log())"
            )
        }
        // Either everything was served, or the first request past the bound was refused and the
        // connection closed right after that refusal.
        if let last = answers.last, last.id != lastID {
            guard case .error(.busy, _) = last.response else {
                Issue.record("the last answer before the close must be busy, not \(last.response)")
                return
            }
            #expect(
                answers.dropLast().allSatisfy { if case .error = $0.response { false } else { true } },
                "only the refused request is answered busy"
            )
            #expect(socket.readFrameBody() == nil, "the connection closes after the refusal")
        }
        #expect(try daemon.login("alice", password: "pw", code: code).status == 1, "the code was used once")
    }
}
