import Foundation
import Testing
import Wire
import TestSupport

/// A request that ran is always answered, in order; one refused for load never ran.
@Suite struct PipeliningTests {
    @Test func pipelinePastTheQueueBound_answersEveryRequestThatRan_inOrder() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try enrollOverTheWire(daemon, "alice")
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)

        // Hello, a TOTP login that uses up `code`, then far more requests than a connection may queue,
        // all in one write so that the daemon reads them at once.
        let lastID: UInt32 = 80
        var bytes = WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1)
        bytes += WireCodec.encodeRequest(
            .login(user: "alice", password: Array("pass-phrase".utf8), codeKind: .totp, code: code),
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
                answers[1].response == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []),
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
        #expect(try daemon.login("alice", password: "pass-phrase", code: code).status == 1, "the code was used once")
    }

    @Test func requestsSentBeforeTheClientShutsDownWriting_areStillAnswered() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "gus", "--password-stdin"], input: "pass-phrase\n")
        let socket = try RawSocket(path: daemon.socketPath)
        socket.send(
            WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1)
                + WireCodec.encodeRequest(
                    .login(user: "gus", password: Array("pass-phrase".utf8), codeKind: .none, code: ""),
                    id: 2
                )
                + WireCodec.encodeRequest(
                    .login(user: "gus", password: Array("pass-phrase".utf8), codeKind: .none, code: ""),
                    id: 3
                )
        )
        socket.closeWrite()
        var answers: [(id: UInt32, response: Response)] = []
        while let body = socket.readFrameBody() {
            answers.append(try WireCodec.decodeResponse(body: body))
        }
        #expect(answers.map(\.id) == [1, 2, 3], "every request sent before the shutdown is answered: \(answers)")
        #expect(
            answers.dropFirst().allSatisfy { $0.response == .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []) }
        )
    }

    @Test func aFrameTrickledPastTheRequestDeadline_endsTheConnection() throws {
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: ["--request-deadline", "1"])
        let socket = try RawSocket(path: daemon.socketPath)
        let login = WireCodec.encodeRequest(
            .login(user: "slow", password: Array("pw".utf8), codeKind: .none, code: ""),
            id: 2
        )
        socket.send(WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1) + login.prefix(5))
        let started = Date()
        let answer = socket.readUntilClosed()
        let waited = Date().timeIntervalSince(started)
        // The idle timeout (300 s) alone would keep it open; RawSocket gives up reading after 10 s.
        #expect(waited < 8, "the connection stayed open \(waited) s with half a frame sent")
        #expect(answer.count > 4, "the Hello sent in time is still answered")
    }

    @Test func answersLeftUnreadPastTheRequestDeadline_endTheConnection() throws {
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: ["--request-deadline", "1"])
        let socket = try RawSocket(path: daemon.socketPath)
        let hello = WireCodec.encodeResponse(.helloReply(version: 1), id: 1).count
        func show(_ id: UInt32) -> [UInt8] { WireCodec.encodeRequest(.userShow(user: "nobody-here"), id: id) }
        socket.send(WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1) + show(2))
        var answerSize = 0
        for _ in 0..<2000 where answerSize == 0 {
            usleep(5000)
            answerSize = max(0, socket.unreadByteCount() - hello)
        }
        try #require(answerSize > 0, "the first request is answered:\n\(daemon.log())")
        // Never read, but keep a few requests waiting, never as many as the queue bound, until the daemon stops
        // answering: its socket buffer holds all the answers the kernel takes, and the next one waits in the daemon.
        var sent = 1
        var unread = socket.unreadByteCount()
        var unchangedPolls = 0
        while unchangedPolls < 600, sent < 100_000 {
            while sent - (unread - hello) / answerSize < 6 {
                sent += 1
                socket.send(show(UInt32(sent + 1)))
            }
            usleep(5000)
            let now = socket.unreadByteCount()
            unchangedPolls = now == unread ? unchangedPolls + 1 : 0
            unread = now
        }
        // The answers stopped 3 s ago. Before, the connection then stayed open (never idle: an answer in flight)
        // for as long as the peer liked, holding its answers; RawSocket gives up reading after 10 s.
        let (received, closed) = socket.readUntilClosedOrTimeout()
        #expect(closed, "the daemon kept a connection whose answers were not read past the deadline")
        #expect(received.count >= unread, "the answers the socket held are still there to read")
        #expect(daemon.log().contains("answers not read in time: closing"))
    }

    @Test func requestsQueuedByAPeerThatClosedItsConnection_neverRun() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "gus", "--password-stdin"], input: "pass-phrase\n")
        var bytes = WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1)
        for id in UInt32(2)...31 {
            bytes += WireCodec.encodeRequest(
                .login(user: "gus", password: Array("wrong-phrase".utf8), codeKind: .none, code: ""),
                id: id
            )
        }
        do {
            let socket = try RawSocket(path: daemon.socketPath)
            socket.send(bytes)
        }
        // Root's lines are never dropped, so each login that ran logs one. Wait until no more come.
        func loginLines() -> Int { daemon.log().split(separator: "\n").filter { $0.contains("user=gus") }.count }
        var lines = loginLines()
        var unchangedPolls = 0
        while unchangedPolls < 300 {
            usleep(10_000)
            let now = loginLines()
            unchangedPolls = now == lines ? unchangedPolls + 1 : 0
            lines = now
        }
        // Before, all 30 ran (the throttle locked the account after 5) although no answer could reach anyone.
        #expect(lines <= 3, "\(lines) of 30 queued logins ran after the peer closed:\n\(daemon.log())")
    }

    @Test func refusalsPastTheQueueBound_areLoggedOncePerPeer_notPerRequest() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        var refused = 0
        for _ in 0..<3 {
            var bytes = WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1)
            for id in UInt32(2)...80 { bytes += WireCodec.encodeRequest(.userShow(user: "nobody-here"), id: id) }
            let socket = try RawSocket(path: daemon.socketPath)
            socket.send(bytes)
            while let body = socket.readFrameBody() {
                if case .error(.busy, _) = try WireCodec.decodeResponse(body: body).response { refused += 1 }
            }
        }
        let lines = daemon.log().split(separator: "\n").filter { $0.contains("refused: a request (busy") }
        // 80 small frames arrive in one read, so each connection refuses the one past 1 + 32.
        #expect(refused == 3)
        #expect(lines.count == 1, "\(refused) refusals from one uid within a minute: \(lines)")
    }

    /// Creates `user` (password "pass-phrase") and enrolls it at a 3600 s period with raw requests, so that
    /// this test depends on the wire format only. Returns the secret and the confirmed step.
    private func enrollOverTheWire(_ daemon: DaemonProcess, _ user: String) throws -> (String, Int64) {
        let socket = try RawSocket(path: daemon.socketPath)
        func ask(_ request: Request, id: UInt32) throws -> Response {
            socket.send(WireCodec.encodeRequest(request, id: id))
            let body = try #require(socket.readFrameBody())
            return try WireCodec.decodeResponse(body: body).response
        }
        _ = try ask(.hello(minVersion: 1, maxVersion: 1), id: 1)
        let added = try ask(
            .userAdd(
                user: user,
                organization: "",
                role: .agent,
                requireTwoFactor: false,
                password: Array("pass-phrase".utf8)
            ),
            id: 2
        )
        guard case .done = added else { throw Failure("user add: \(added)") }
        let begun = try ask(.enrollBegin(user: user, algorithm: .default, digits: 0, period: 3600), id: 3)
        guard case .enrollmentStarted(let uri, _) = begun, let secret = secretParameter(ofURI: uri) else {
            throw Failure("enroll begin: \(begun)")
        }
        let now = unixNow()
        let code = try OathTool.code(secret: secret, at: now, period: 3600)
        let confirmed = try ask(.enrollConfirm(user: user, code: code), id: 4)
        if case .error = confirmed { throw Failure("enroll confirm: \(confirmed)") }
        return (secret, now / 3600)
    }
}
