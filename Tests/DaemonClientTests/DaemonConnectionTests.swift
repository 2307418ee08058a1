import Glibc
import DaemonClient
import Testing
import Wire

private let account = AccountInfo(
    user: "bob",
    organization: "acme",
    role: .agent,
    twoFactor: .off,
    algorithm: .default,
    digits: 0,
    period: 0,
    failureCount: 0,
    createdAt: 1,
    updatedAt: 2
)

/// Serves a Hello and then answers the first request with `respond(id, request)`'s bytes.
private func serveOneRequest(
    _ server: TestServer,
    received: Mailbox<(UInt32, Request)>? = nil,
    respond: @escaping @Sendable (UInt32, Request) -> [UInt8]
) {
    server.serve { connection in
        guard connection.acceptHello(), let (id, request) = connection.readRequest() else { return }
        received?.value = (id, request)
        connection.write(respond(id, request))
    }
}

@Test func send_returnsTheDaemonsAnswer() throws {
    let server = TestServer()
    defer { server.finish() }
    let received = Mailbox<(UInt32, Request)>()
    serveOneRequest(server, received: received) { id, _ in
        WireCodec.encodeResponse(.userInfo(account, originLocks: []), id: id)
    }

    let connection = try DaemonConnection(socketPath: server.path)
    #expect(try connection.send(.userShow(user: "bob")) == .userInfo(account, originLocks: []))
    #expect(connection.version == 1)
    connection.close()
    server.finish()
    #expect(received.value?.1 == .userShow(user: "bob"))
    #expect(received.value?.0 != 0)
}

@Test func send_returnsAnErrorAnswerAsAValue() throws {
    let server = TestServer()
    defer { server.finish() }
    serveOneRequest(server) { id, _ in
        WireCodec.encodeResponse(.error(code: .noSuchAccount, message: "no account named 'bob'"), id: id)
    }
    let connection = try DaemonConnection(socketPath: server.path)
    #expect(
        try connection.send(.userShow(user: "bob")) == .error(code: .noSuchAccount, message: "no account named 'bob'")
    )
}

@Test func send_whenTheAnswerHasAnotherID_isAProtocolViolation() throws {
    let server = TestServer()
    defer { server.finish() }
    serveOneRequest(server) { id, _ in WireCodec.encodeResponse(.done, id: id &+ 1) }
    let connection = try DaemonConnection(socketPath: server.path)
    let error = #expect(throws: ClientError.self) { try connection.send(.userRemove(user: "bob")) }
    guard case .protocolViolation(let detail)? = error?.kind else {
        Issue.record("expected a protocol violation, got \(String(describing: error))")
        return
    }
    #expect(detail.contains("carried id"))
    // The stream is no longer trusted, so the connection is closed.
    #expect(throws: ClientError(.connectionClosed)) { try connection.send(.userShow(user: "bob")) }
}

@Test func send_whenTheDaemonClosesWithoutAnswering_isConnectionClosed() throws {
    let server = TestServer()
    defer { server.finish() }
    server.serve { connection in
        _ = connection.acceptHello()
        _ = connection.readRequest()
    }
    let connection = try DaemonConnection(socketPath: server.path)
    #expect(throws: ClientError(.connectionClosed)) { try connection.send(.userShow(user: "bob")) }
}

@Test func send_whenTheAnswerIsMalformed_isAProtocolViolation() throws {
    let server = TestServer()
    defer { server.finish() }
    // A Done with a trailing byte, then an oversized length prefix: the first is enough to fail.
    serveOneRequest(server) { id, _ in WireCodec.encodeResponse(.done, id: id).dropFirst(4) + [1] }
    let connection = try DaemonConnection(socketPath: server.path)
    let error = #expect(throws: ClientError.self) { try connection.send(.userShow(user: "bob")) }
    guard case .protocolViolation? = error?.kind else {
        Issue.record("expected a protocol violation, got \(String(describing: error))")
        return
    }
}

@Test func send_whenTheLengthPrefixIsTooLarge_isAProtocolViolation() throws {
    let server = TestServer()
    defer { server.finish() }
    serveOneRequest(server) { _, _ in [0x00, 0x01, 0x00, 0x01] }
    let connection = try DaemonConnection(socketPath: server.path)
    let error = #expect(throws: ClientError.self) { try connection.send(.userShow(user: "bob")) }
    #expect(error?.kind == .protocolViolation("a frame body of 65537 bytes exceeds the maximum of 65536"))
}

@Test func send_whenTheDaemonIsSilent_timesOut() throws {
    let server = TestServer()
    defer { server.finish() }
    server.serve { connection in
        _ = connection.acceptHello()
        _ = connection.readRequest()
        // Hold the connection open without answering until the client gives up and closes.
        _ = connection.readRequest()
    }
    let connection = try DaemonConnection(socketPath: server.path, timeoutSeconds: 1)
    #expect(throws: ClientError(.timedOut(seconds: 1))) { try connection.send(.userShow(user: "bob")) }
}

@Test func send_withAnOverlongUser_isInvalidInputAndSendsNothing() throws {
    let server = TestServer()
    defer { server.finish() }
    let received = Mailbox<(UInt32, Request)>()
    serveOneRequest(server, received: received) { id, _ in WireCodec.encodeResponse(.done, id: id) }
    let connection = try DaemonConnection(socketPath: server.path)
    let error = #expect(throws: ClientError.self) {
        try connection.send(.userShow(user: String(repeating: "a", count: 65)))
    }
    #expect(error?.description.contains("'user' must be 1 to 64 bytes long") == true)
    #expect(try connection.send(.userRemove(user: "bob")) == .done)
    connection.close()
    server.finish()
    #expect(received.value?.1 == .userRemove(user: "bob"))
}

@Test func send_whenTheDaemonRefusedTheVersion_isAProtocolViolation() throws {
    let server = TestServer()
    defer { server.finish() }
    server.serve { connection in
        guard let (id, _) = connection.readRequest() else { return }
        connection.answer(.error(code: .unsupportedVersion, message: "this daemon speaks version 2 only"), id: id)
    }
    let connection = try DaemonConnection(socketPath: server.path)
    let error = #expect(throws: ClientError.self) { try connection.send(.userShow(user: "bob")) }
    #expect(error?.description.contains("this daemon speaks version 2 only") == true)
    #expect(throws: ClientError(.connectionClosed)) { try connection.send(.userShow(user: "bob")) }
}

@Test func init_withAMissingSocket_isDaemonUnreachableWithAHint() {
    let path = "/tmp/clienttests-no-such-directory/socket"
    let error = #expect(throws: ClientError.self) { try DaemonConnection(socketPath: path) }
    guard case .daemonUnreachable(let reportedPath, let reason)? = error?.kind else {
        Issue.record("expected daemonUnreachable, got \(String(describing: error))")
        return
    }
    #expect(reportedPath == path)
    #expect(reason.contains("is twofactord running?"))
    #expect(reason.contains("systemctl start twofactord.socket"))
    #expect(reason.contains("start it with `make run`"))
    // `make run` listens on .run/socket, not on the default path: naming `make run` alone sent the reader who
    // left out --socket to start a daemon that was already running.
    #expect(reason.contains("--socket"))
    #expect(reason.contains(".run/socket"))
    #expect(error?.description.hasPrefix("cannot connect to twofactord at \(path): no such file") == true)
}

@Test func init_whenNothingListens_isDaemonUnreachable() {
    let server = TestServer(listening: false)
    defer { server.finish() }
    let error = #expect(throws: ClientError.self) { try DaemonConnection(socketPath: server.path) }
    guard case .daemonUnreachable(_, let reason)? = error?.kind else {
        Issue.record("expected daemonUnreachable, got \(String(describing: error))")
        return
    }
    #expect(reason.contains("connection refused"))
}

@Test func init_withAnOverlongPath_isInvalidInput() {
    let error = #expect(throws: ClientError.self) {
        try DaemonConnection(socketPath: "/tmp/" + String(repeating: "p", count: 200))
    }
    guard case .invalidInput? = error?.kind else {
        Issue.record("expected invalidInput, got \(String(describing: error))")
        return
    }
}

@Test func connect_pastTheDaemonsConnectionCap_reportsItsBusyMessage() throws {
    let server = TestServer()
    defer { server.finish() }
    // The daemon refuses a connection past --max-connections before reading anything: busy, id 0, close.
    server.serve { connection in
        connection.answer(
            .error(code: .busy, message: "the daemon has too many connections: try again in a moment"),
            id: 0
        )
    }
    do {
        let connection = try DaemonConnection(socketPath: server.path)
        _ = try connection.send(.userShow(user: "bob"))
        Issue.record("the connection must fail")
    } catch {
        #expect("\(error)".contains("too many connections"), "\(error)")
    }
}

@Test func send_firstRequest_goesOutWithTheHello_withoutWaitingForItsAnswer() throws {
    let server = TestServer()
    defer { server.finish() }
    // This daemon answers nothing until it has read both frames: a client waiting for the Hello's answer
    // before sending its request would time out.
    server.serve { connection in
        guard let (helloID, hello) = connection.readRequest(), case .hello = hello,
            let (id, _) = connection.readRequest()
        else { return }
        connection.answer(.helloReply(version: WireProtocol.currentVersion), id: helloID)
        connection.answer(.done, id: id)
    }
    let connection = try DaemonConnection(socketPath: server.path, timeoutSeconds: 2)
    #expect(connection.version == 0)
    #expect(try connection.send(.userRemove(user: "bob")) == .done)
    #expect(connection.version == WireProtocol.currentVersion)
}

@Test func trustedDaemon_isRootTheCallerOrTheDaemonUser() throws {
    let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
    #expect(TrustedDaemon(daemonUser: "nobody").trusts(0))
    #expect(TrustedDaemon(daemonUser: "nobody").trusts(nobody))
    #expect(TrustedDaemon(daemonUser: "nobody", trustingCaller: false).trusts(nobody))
    #expect(!TrustedDaemon(daemonUser: "nobody").trusts(nobody - 1))
    #expect(!TrustedDaemon(daemonUser: "twofactord-tests-no-such-user").trusts(nobody))
    // The caller's own uid, unless it is not to be trusted (a bridge inside su, sudo or a set-ID program).
    #expect(TrustedDaemon(daemonUser: "nobody").trusts(getuid()))
    if getuid() != 0 { #expect(!TrustedDaemon(daemonUser: "nobody", trustingCaller: false).trusts(getuid())) }
}

@Test func send_whenTheHelloReplyCarriesAnotherID_isAProtocolViolation() throws {
    let server = TestServer()
    defer { server.finish() }
    server.serve { connection in
        guard connection.readRequest() != nil, let (id, _) = connection.readRequest() else { return }
        connection.answer(.helloReply(version: WireProtocol.currentVersion), id: 99)
        connection.answer(.done, id: id)
    }
    let connection = try DaemonConnection(socketPath: server.path, timeoutSeconds: 2)
    let error = #expect(throws: ClientError.self) { try connection.send(.userRemove(user: "bob")) }
    guard case .protocolViolation? = error?.kind else {
        Issue.record("expected a protocol violation, got \(String(describing: error))")
        return
    }
}
