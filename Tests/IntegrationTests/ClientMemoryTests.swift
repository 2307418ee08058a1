import Foundation
import Glibc
import Testing
import TestSupport
import Wire

/// A client holds a password only while it needs it: once the request that carries it for the last time is
/// written, no copy of it is left in the client's memory, the frame that carried it included. Each test starts
/// the real client against a fake daemon that reads the requests and then holds its answer; while the client
/// waits for it, the test reads the client's writable memory through /proc (root only) and looks for the password.
@Suite(.enabled(if: runningAsRoot, "reading another process's memory through /proc needs root; CI runs as root"))
struct ClientMemoryTests {
    static let password = "Xq7-wipe-canary-91f"
    static let adminPassword = "Zt4-admin-canary-27k"

    @Test func login_afterItsLastRequest_holdsNoCopyOfThePassword() throws {
        let daemon = try HoldingDaemon(answers: [.loginResult(outcome: .codeNeeded, retryAfter: 0, otpauthURI: [])])
        let client = try PipedProcess(
            Binaries.url("twofactor"),
            ["login", "alice", "--socket", daemon.path],
            environment: ["TWOFACTORD_SOCKET": nil]
        )
        client.type("\(Self.password)\n123456\n")
        try expectForgotten([Self.password], by: client, daemon: daemon)
    }

    @Test func pam_whileWaitingForTheAnswer_holdsNoCopyOfThePassword() throws {
        let daemon = try HoldingDaemon(answers: [])
        let client = try PipedProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "-i", "PAM_SERVICE=sshd", "PAM_USER=alice", "PAM_TYPE=auth", Binaries.url("twofactor").path, "pam",
                "--socket", daemon.path,
            ]
        )
        // pam_exec's way: the password, then the end of standard input.
        client.type(Self.password)
        try client.closeInput()
        try expectForgotten([Self.password], by: client, daemon: daemon)
    }

    @Test func ctlPasswd_whileWaitingForTheAnswer_holdsNoCopyOfThePassword() throws {
        let daemon = try HoldingDaemon(answers: [])
        let client = try PipedProcess(
            Binaries.url("twofactorctl"),
            ["user", "passwd", "bob", "--password-stdin", "--socket", daemon.path]
        )
        client.type("\(Self.password)\n")
        try expectForgotten([Self.password], by: client, daemon: daemon)
    }

    /// With --as, the acting account's password is forgotten once its login is done, and the new one once sent.
    @Test func ctlUserAdd_asAnAdmin_holdsNeitherPassword() throws {
        // The login, then the check that the name is free, then the UserAdd to hold.
        let daemon = try HoldingDaemon(answers: [
            .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []),
            .error(code: .noSuchAccount, message: "no account named 'bob'"),
        ])
        let client = try PipedProcess(
            Binaries.url("twofactorctl"),
            ["user", "add", "bob", "--as", "amy", "--password-stdin", "--socket", daemon.path]
        )
        client.type("\(Self.adminPassword)\n\(Self.password)\n")
        try expectForgotten([Self.adminPassword, Self.password], by: client, daemon: daemon)
    }

    static let secret = "KQ7WIPECANARYSECRETB32ABCDEFGHIJ"
    static let uri = "otpauth://totp/twofactord:alice?secret=\(secret)&issuer=twofactord"

    /// `2fa enroll` shows the TOTP secret, then waits for the first code on standard input: meanwhile the secret
    /// is of no more use to it. Until 2026-12-08 the otpauth URI (a `String`), the screen drawn from it and stdout's
    /// stdio buffer kept it (4 copies).
    @Test func ctlEnroll_whileWaitingForTheCode_holdsNoCopyOfTheSecret() throws {
        let daemon = try HoldingDaemon(answers: [
            .enrollmentStarted(otpauthURI: Array(Self.uri.utf8), expiresAt: 4_000_000_000)
        ])
        let client = try PipedProcess(
            Binaries.url("twofactorctl"),
            ["2fa", "enroll", "alice", "--socket", daemon.path]
        )
        try expectSecretForgotten(by: client, showingOn: client.output, daemon: daemon)
    }

    /// `2fa enable` logs in with --as, then shows the secret and waits for the first code as `2fa enroll` does.
    @Test func ctlEnable_whileWaitingForTheCode_holdsNoCopyOfTheSecret() throws {
        let daemon = try HoldingDaemon(answers: [
            .loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []),
            .enrollmentStarted(otpauthURI: Array(Self.uri.utf8), expiresAt: 4_000_000_000),
        ])
        let client = try PipedProcess(
            Binaries.url("twofactorctl"),
            ["2fa", "enable", "--as", "alice", "--socket", daemon.path]
        )
        client.type("\(Self.password)\n")
        try expectSecretForgotten(by: client, showingOn: client.output, daemon: daemon)
    }

    /// `2fa add` shows the new authenticator's secret as `2fa enroll` does, and waits for its first code.
    @Test func ctlAuthenticatorAdd_whileWaitingForTheCode_holdsNoCopyOfTheSecret() throws {
        let daemon = try HoldingDaemon(answers: [
            .enrollmentStarted(otpauthURI: Array(Self.uri.utf8), expiresAt: 4_000_000_000)
        ])
        let client = try PipedProcess(
            Binaries.url("twofactorctl"),
            ["2fa", "add", "alice", "--label", "phone", "--socket", daemon.path]
        )
        try expectSecretForgotten(by: client, showingOn: client.output, daemon: daemon)
    }

    /// `twofactor login` of a pending account shows the QR code and the secret on standard error, then waits for
    /// the first code.
    @Test func loginEnrollment_whileWaitingForTheCode_holdsNoCopyOfTheSecret() throws {
        let daemon = try HoldingDaemon(answers: [
            .loginResult(outcome: .enroll, retryAfter: 0, otpauthURI: Array(Self.uri.utf8))
        ])
        let client = try PipedProcess(
            Binaries.url("twofactor"),
            ["login", "alice", "--socket", daemon.path],
            environment: ["TWOFACTORD_SOCKET": nil]
        )
        client.type("\(Self.password)\n")
        try expectSecretForgotten(by: client, showingOn: client.error, daemon: daemon)
    }

    /// `twofactor shell` of an account that must enroll gets the QR code drawn by the daemon with the URI
    /// (EnrollScreen), shows its own screen of the URI on standard error, and waits for the first code: neither the
    /// secret nor the daemon's drawing (which scans to it) is left in its memory meanwhile.
    @Test func shellEnrollment_whileWaitingForTheCode_holdsNoCopyOfTheSecret() throws {
        let drawing = "\u{2580}\u{2584} drawing-canary-57q \u{2588}\n"
        let daemon = try HoldingDaemon(answers: [
            .enrollScreen(otpauthURI: Array(Self.uri.utf8), screen: Array(drawing.utf8))
        ])
        let client = try PipedProcess(
            Binaries.url("twofactor"),
            ["shell", "--socket", daemon.path, "-c", "true"]
        )
        try expectSecretForgotten(by: client, showingOn: client.error, daemon: daemon, alsoForgotten: [drawing])
    }

    /// Waits until `client` blocks reading the first code, then looks for the secret in its memory in both forms it
    /// shows: whole (in the URI) and in groups of four (for typing by hand). Once the client is gone, checks that it
    /// did show the secret on `screen`, so that the test cannot pass by a client that shows nothing.
    private func expectSecretForgotten(
        by client: PipedProcess,
        showingOn screen: Pipe,
        daemon: HoldingDaemon,
        alsoForgotten others: [String] = []
    ) throws {
        let shown = BackgroundReader(screen)
        let grouped = stride(from: 0, to: Self.secret.count, by: 4).map { start in
            String(Self.secret.dropFirst(start).prefix(4))
        }.joined(separator: " ")
        defer {
            kill(client.process.processIdentifier, SIGKILL)
            client.process.waitUntilExit()
            let text = shown.text()
            #expect(text.contains(grouped) && text.contains(Self.uri), "the client must show the secret: \(text)")
        }
        guard ProcessMemory.waitUntil(client.process, blocksIn: ProcessMemory.read) else {
            Issue.record("the client never waited for the code")
            return
        }
        let memory = try ProcessMemory(pid: client.process.processIdentifier)
        #expect(memory.count(of: daemon.path) > 0, "the scan must see the socket path the client holds")
        #expect(memory.count(of: Self.secret) == 0, "copies of the secret left in the client's memory")
        #expect(memory.count(of: grouped) == 0, "copies of the grouped secret left in the client's memory")
        for other in others {
            #expect(memory.count(of: other) == 0, "copies of '\(other)' left in the client's memory")
        }
    }

    /// Waits until `daemon` holds the client's last request, then checks the client's memory for `secrets`;
    /// a check that finds nothing is also made to find a string that must be there, so it cannot pass by
    /// reading nothing.
    private func expectForgotten(_ secrets: [String], by client: PipedProcess, daemon: HoldingDaemon) throws {
        defer {
            daemon.release()
            kill(client.process.processIdentifier, SIGKILL)
            client.process.waitUntilExit()
        }
        guard daemon.waitForHeldRequest(from: client.process) else {
            Issue.record("the client never sent the request to hold")
            return
        }
        // Having written it, the client may still be wiping: the scan waits until it sleeps in recv.
        guard ProcessMemory.waitUntilReceiving(client.process) else {
            Issue.record("the client never went on to wait for the answer")
            return
        }
        let memory = try ProcessMemory(pid: client.process.processIdentifier)
        #expect(memory.count(of: daemon.path) > 0, "the scan must see the socket path the client holds")
        for secret in secrets {
            #expect(memory.count(of: secret) == 0, "copies of '\(secret)' left in the client's memory")
        }
    }
}

/// The writable memory of a stopped-in-a-syscall process, read through /proc/PID/mem: its heap, stacks and
/// anonymous mappings, where a secret it forgot to wipe would be.
struct ProcessMemory {
    private var regions: [[UInt8]] = []

    init(pid: Int32) throws {
        let maps = try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)
        let memory = open("/proc/\(pid)/mem", O_RDONLY)
        guard memory >= 0 else { throw Failure("cannot open /proc/\(pid)/mem: \(String(cString: strerror(errno)))") }
        defer { close(memory) }
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[1].hasPrefix("rw") else { continue }
            let bounds = fields[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
            guard bounds.count == 2, bounds[1] > bounds[0] else { continue }
            var bytes = [UInt8](repeating: 0, count: Int(bounds[1] - bounds[0]))
            let got = bytes.withUnsafeMutableBytes { pread(memory, $0.baseAddress, $0.count, off_t(bounds[0])) }
            if got > 0 { regions.append(Array(bytes[..<got])) }
        }
    }

    #if arch(x86_64)
        static let (recvfrom, read) = ("45", "0")
    #elseif arch(arm64)
        static let (recvfrom, read) = ("207", "63")
    #endif

    /// Whether `process` came to block in recvfrom(2) (the number /proc/PID/syscall starts with) within a minute.
    static func waitUntilReceiving(_ process: Process) -> Bool { waitUntil(process, blocksIn: recvfrom) }

    /// Whether `process` came to block in the system call `number` within a minute.
    static func waitUntil(_ process: Process, blocksIn number: String) -> Bool {
        for _ in 0..<600 {
            let path = "/proc/\(process.processIdentifier)/syscall"
            if let syscall = try? String(contentsOfFile: path, encoding: .utf8),
                syscall.split(separator: " ").first == Substring(number)
            {
                return true
            }
            guard process.isRunning else { return false }
            usleep(100_000)
        }
        return false
    }

    /// How many times `text` occurs in the process's writable memory.
    func count(of text: String) -> Int {
        let needle = Array(text.utf8)
        var found = 0
        for region in regions where region.count >= needle.count {
            region.withUnsafeBufferPointer { haystack in
                var start = 0
                while start <= haystack.count - needle.count {
                    let rest = haystack.count - start
                    guard let first = memchr(haystack.baseAddress! + start, Int32(needle[0]), rest) else { break }
                    let index = haystack.baseAddress!.distance(to: first.assumingMemoryBound(to: UInt8.self))
                    if index + needle.count <= haystack.count,
                        memcmp(haystack.baseAddress! + index, needle, needle.count) == 0
                    {
                        found += 1
                    }
                    start = index + 1
                }
            }
        }
        return found
    }
}

/// A fake daemon (the test process, root, so every client trusts it) for one connection: it answers the Hello,
/// then each request with the next of `answers`, and holds the request after them unanswered until `release`.
final class HoldingDaemon: @unchecked Sendable {
    let path: String
    private let directory = TemporaryDirectory(prefix: "tfd-hold")
    private let listener: Int32
    private let held = DispatchSemaphore(value: 0)
    private let connection = Locked<Int32>(-1)

    init(answers: [Response]) throws {
        path = directory.path + "/socket"
        listener = ListeningSocket.make(path)
        guard listener >= 0 else { throw Failure("cannot listen on \(path)") }
        let (listener, held, connection) = (listener, held, connection)
        Thread {
            let accepted = accept(listener, nil, nil)
            guard accepted >= 0 else { return }
            connection.mutate { $0 = accepted }
            for answer in [.helloReply(version: WireProtocol.currentVersion)] + answers {
                guard let body = FrameSocket.readBody(accepted), let id = WireCodec.requestID(ofBody: body) else {
                    return
                }
                let frame = WireCodec.encodeResponse(answer, id: id)
                _ = frame.withUnsafeBytes { send(accepted, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            guard FrameSocket.readBody(accepted) != nil else { return }
            held.signal()
        }.start()
    }

    deinit {
        release()
        connection.mutate { if $0 >= 0 { close($0) } }
        close(listener)
    }

    /// Whether the request to hold came (false: the client ended first, or a minute passed).
    func waitForHeldRequest(from client: Process) -> Bool {
        for _ in 0..<600 {
            if held.wait(timeout: .now() + .milliseconds(100)) == .success { return true }
            if !client.isRunning { return false }
        }
        return false
    }

    /// Ends the connection: the client sees the daemon gone.
    func release() {
        connection.mutate {
            if $0 >= 0 { shutdown($0, Int32(SHUT_RDWR)) }
        }
    }
}
