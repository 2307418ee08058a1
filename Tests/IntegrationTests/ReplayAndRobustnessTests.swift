import Foundation
import Glibc
import Testing
import Wire
import TestSupport

/// What must hold whatever clients do: no code accepted twice, bad input changes nothing.
@Suite struct ReplayAndRobustnessTests {
    @Test(arguments: [SIGTERM, SIGKILL])
    func replay_isRefusedAfterDaemonRestart(signal: Int32) throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("alice", password: "pass-phrase", period: 3600)
        let next = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        #expect(try daemon.login("alice", password: "pass-phrase", code: next).status == 0)

        let status = daemon.stop(signal: signal)
        if signal == SIGTERM { #expect(status == 0, "SIGTERM must stop the daemon cleanly:\n\(daemon.log())") }
        try daemon.start()
        #expect(try daemon.login("alice", password: "pass-phrase", code: next).status == 1)
    }

    @Test func concurrentLogins_withOneCode_exactlyOneWins() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let (secret, step) = try daemon.enrolledAccount("bob", password: "pass-phrase", period: 3600)
        let next = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)

        let statuses = Locked<[Int32]>([])
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread {
                let status = (try? daemon.login("bob", password: "pass-phrase", code: next))?.status ?? -1
                statuses.mutate { $0.append(status) }
                group.leave()
            }.start()
        }
        group.wait()
        #expect(statuses.value.sorted() == [0, 1, 1, 1], "\(daemon.log())")
    }

    @Test func malformedFrames_getAnErrorAndClose_andChangeNothing() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "carol", "--password-stdin"], input: "pass-phrase\n")
        let before = try daemon.ctl(["user", "list", "--json"]).standardOutput

        let hello = WireCodec.encodeRequest(.hello(minVersion: 1, maxVersion: 1), id: 1)
        let garbage: [[UInt8]] = [
            [0xFF, 0xFF, 0xFF, 0xFF],  // a length far over the limit
            [0, 0, 0, 0],  // a length under the minimum
            [0, 0, 0, 5, 0x7E, 0, 0, 0, 2],  // an unknown message type
            WireCodec.encodeRequest(.userRemove(user: "carol"), id: 2) + [],  // before Hello
            hello + withTrailingByte(WireCodec.encodeRequest(.userRemove(user: "carol"), id: 3)),
        ]
        for bytes in garbage {
            let socket = try RawSocket(path: daemon.socketPath)
            socket.send(bytes)
            let answer = socket.readUntilClosed()
            #expect(containsErrorFrame(answer), "no error frame for \(bytes.prefix(12)): \(answer)")
        }
        // A huge length prefix alone must not make the daemon wait for (or buffer) its body.
        let after = try daemon.ctl(["user", "list", "--json"]).standardOutput
        #expect(after == before)
        #expect(try daemon.login("carol", password: "pass-phrase").status == 0, "the daemon keeps serving")
    }

    @Test func unsupportedVersion_isRefusedWithClearError() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let socket = try RawSocket(path: daemon.socketPath)
        socket.send(WireCodec.encodeRequest(.hello(minVersion: 2, maxVersion: 9), id: 7))
        let body = try #require(socket.readFrameBody())
        let (id, response) = try WireCodec.decodeResponse(body: body)
        #expect(id == 7)
        guard case .error(let code, let message) = response else {
            Issue.record("expected an error, got \(response)")
            return
        }
        #expect(code == .unsupportedVersion)
        #expect(message.contains("version 1"))
    }

    @Test func nonOperator_cannotAdminister_butCanLogIn() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.ctl(["user", "add", "dave", "--password-stdin"], input: "pass-phrase\n")
        let nobody: UInt32 = 65534

        let refused = try daemon.ctl(["user", "remove", "dave"], uid: nobody)
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("operator"), "\(refused.standardError)")
        #expect(try daemon.ctl(["user", "show", "dave"]).status == 0, "the refused request changed nothing")

        #expect(try daemon.login("dave", password: "pass-phrase", uid: nobody).status == 0)
    }

    @Test func clients_reportUnreachableDaemonAndUsageErrors() throws {
        let missing = "/tmp/tfd-missing-\(UUID().uuidString.prefix(8))/socket"
        let ctl = try run(Binaries.url("twofactorctl"), ["user", "list", "--socket", missing])
        #expect(ctl.status == 3)
        #expect(ctl.standardError.contains(missing))
        let login = try run(Binaries.url("twofactor"), ["login", "--socket", missing, "alice"], input: "pass-phrase\n")
        #expect(login.status == 3)
        let usage = try run(Binaries.url("twofactorctl"), ["user", "add"])
        #expect(usage.status == 64)
    }

    @Test func secondDaemon_onALiveSocket_refusesToStart() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let second = try run(
            Binaries.url("twofactord"),
            ["--socket", daemon.socketPath, "--state-dir", daemon.stateDirectory + "-other"]
        )
        #expect(second.status != 0)
        #expect(second.standardError.contains("already listening"))
        #expect(RawSocket.canConnect(daemon.socketPath), "the first daemon still serves")
    }

    private func withTrailingByte(_ frame: [UInt8]) -> [UInt8] {
        var bytes = frame
        let length = (UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])) + 1
        bytes.replaceSubrange(
            0..<4,
            with: [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        )
        bytes.append(0)
        return bytes
    }

    /// Whether the bytes hold a response frame that decodes as an `.error`.
    private func containsErrorFrame(_ bytes: [UInt8]) -> Bool {
        var reader = FrameReader(maximumBodyLength: WireProtocol.maximumResponseBodyLength)
        reader.append(bytes)
        while let body = try? reader.nextBody() {
            if case .error? = try? WireCodec.decodeResponse(body: body).response { return true }
        }
        return false
    }
}
