import CommandLineUI
import Foundation
import Testing
import Wire
import TestSupport

/// What a person reads along a login is the same whichever way in: the PAM module (in C, so with its own copy of
/// each text), `twofactor login` and `pam`, and `twofactorctl --as` say the words of `LoginTexts`.
@Suite(.enabled(if: runningAsRoot, notRootMessage))
struct LoginTextTests {
    typealias Setup = PAMModuleTests.Setup

    /// A text of `LoginTexts` that a client prints after "twofactor: " as the module shows it: a sentence of its own.
    static func sentence(_ text: String) -> String {
        text.prefix(1).uppercased() + text.dropFirst() + "."
    }

    /// The lines of `text` that are words: not the QR code's half blocks, not blank.
    static func wordLines(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { line in
            !line.allSatisfy { $0 == " " } && !line.contains { "\u{2580}\u{2584}\u{2588}".contains($0) }
        }
    }

    /// The recovery codes listed in `text`, one a line after two spaces.
    static func recoveryCodes(in text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            line.wholeMatch(of: #/  ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})/#).map { String($0.output.1) }
        }
    }

    @Test func pamModule_enrollment_isInTheWordsOfTheClients() throws {
        let setup = try Setup()
        try setup.addPendingAccount("carol", password: "pw-carol")
        let service = try setup.service()
        var uri = ""
        let result = try runInteractive(
            URL(fileURLWithPath: PAMTester.lineBuffered[0]),
            Array(PAMTester.lineBuffered.dropFirst()) + [service.name, "carol", "authenticate"],
            firstInput: "pw-carol\n",
            markerOnStandardError: false,
            marker: "URI: "
        ) { shown in
            uri = try #require(line(after: "URI: ", in: shown))
            return try OathTool.code(secret: try #require(secretParameter(ofURI: uri)), at: unixNow()) + "\n"
        }
        #expect(result.status == 0, "\(result.standardError)\n\(setup.daemon.log())")
        let shown = result.standardOutput
        let enrollment = try #require(shown.range(of: "URI: \(uri)\n"), "\(shown)")
        #expect(
            Self.wordLines(String(shown[..<enrollment.upperBound]))
                == Self.wordLines(
                    LoginTexts.enrollmentRequired(user: "carol")
                        + String(decoding: EnrollmentScreen.render(otpauthURI: Array(uri.utf8)), as: UTF8.self)
                ),
            "\(shown)"
        )
        let codes = Self.recoveryCodes(in: shown)
        #expect(codes.count == 10, "\(shown)")
        #expect(shown.contains(LoginTexts.enrolled(user: "carol", recoveryCodes: codes)), "\(shown)")
    }

    /// Nine codes left say only how many; three or fewer say how to get a new set.
    @Test func pamModule_recoveryLogins_areInTheWordsOfTheClients() throws {
        let setup = try Setup()
        let codes = try Self.enrolledWithRecoveryCodes("dana", password: "pw-dana-1", through: setup.daemon)
        let service = try setup.service()
        for (index, code) in codes.prefix(7).enumerated() {
            let result = try service.authenticate("dana", input: "pw-dana-1\n\(code)\n")
            #expect(result.authenticated, "\(result.standardError)\n\(setup.daemon.log())")
            let words = LoginTexts.recoveryLogin(user: "dana", remaining: UInt8(9 - index))
            #expect(result.standardOutput.contains(words), "\(result.standardOutput)")
        }
    }

    /// After five wrong passwords from one host, the next login from there is locked, an unknown name's as an
    /// account's: the module says so in the clients' words, the name the only difference.
    @Test(arguments: ["alice", "ghost"])
    func pamModule_lock_isInTheWordsOfTheClients(user: String) throws {
        let setup = try Setup()
        let service = try setup.service()
        for _ in 0..<5 {
            _ = try service.authenticate(user, input: "wrong\n000000\n", rhost: "192.0.2.7")
        }
        let locked = try service.authenticate(user, input: "wrong\n000000\n", rhost: "192.0.2.7").standardError
        let wait = try #require(locked.firstMatch(of: #/try again in (\d+) seconds/#).flatMap { UInt32($0.output.1) })
        #expect(locked.contains(Self.sentence(LoginTexts.locked(user: user, retryAfter: wait))), "\(locked)")
        #expect(locked.contains("or have an admin or operator run `twofactorctl unlock \(user)`."), "\(locked)")
    }

    /// The hard lock (retryAfter 4294967295), which only an unlock ends, in the words of `twofactor login`.
    @Test func pamModule_hardLock_isInTheWordsOfTheClients() throws {
        let setup = try Setup(daemonArguments: ["--throttle-free-failures", "200"])
        try Self.hardLock("alice", through: setup.daemon)
        let result = try setup.service().authenticate("alice", input: "pw-alice\n\(try setup.code())\n")
        #expect(!result.authenticated)
        let words = Self.sentence(LoginTexts.locked(user: "alice", retryAfter: .max))
        #expect(result.standardError.contains(words), "\(result.standardError)")
    }

    /// `twofactorctl --as` on a hard lock: not "try again in 4294967295 seconds".
    @Test func twofactorctlAs_hardLock_saysWhatTwofactorLoginSays() throws {
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: ["--throttle-free-failures", "200"])
        _ = try daemon.ctl(["user", "add", "alice", "--password-stdin"], input: "pw-alice\n")
        try Self.hardLock("alice", through: daemon)
        let login = try daemon.login("alice", password: "pw-alice")
        #expect(login.status == 2)
        #expect(login.standardError == "twofactor: \(LoginTexts.locked(user: "alice", retryAfter: .max))\n")
        let ctl = try daemon.ctl(["user", "show", "--as", "alice", "--password-stdin"], input: "pw-alice\n")
        #expect(ctl.status == 1)
        #expect(ctl.standardError.contains(LoginTexts.locked(user: "alice", retryAfter: .max)), "\(ctl.standardError)")
    }

    /// `twofactorctl --as` after a login with a recovery code: the words of `twofactor login`, with the way to a
    /// new set when few are left. (`twofactor pam` says them too: `SinglePromptTests`.)
    @Test func twofactorctlAs_recoveryLogin_saysWhatTwofactorLoginSays() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let codes = try Self.enrolledWithRecoveryCodes("dana", password: "pw-dana-1", through: daemon)
        for (index, code) in codes.prefix(7).enumerated() {
            let remaining = UInt8(9 - index)
            let result =
                index.isMultiple(of: 2)
                ? try daemon.login("dana", password: "pw-dana-1", code: code)
                : try daemon.ctl(
                    ["user", "show", "--as", "dana", "--password-stdin", "--code", "-"],
                    input: "pw-dana-1\n\(code)\n"
                )
            #expect(result.status == 0, "\(result.standardError)")
            let words = LoginTexts.recoveryLogin(user: "dana", remaining: remaining)
            #expect(result.standardError.contains(words), "\(index): \(result.standardError)")
        }
    }

    /// Adds `user` with an authenticator, and returns the recovery codes its enrollment showed.
    static func enrolledWithRecoveryCodes(
        _ user: String,
        password: String,
        through daemon: DaemonProcess
    ) throws -> [String] {
        _ = try daemon.ctl(["user", "add", user, "--password-stdin"], input: password + "\n")
        let begun = try daemon.ctl(["2fa", "enroll", user, "--begin"])
        let secret = try #require(
            secretParameter(ofURI: begun.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))
        )
        let confirmed = try daemon.ctl(
            ["2fa", "enroll", user, "--confirm", "-", "--json"],
            input: try OathTool.code(secret: secret, at: unixNow()) + "\n"
        )
        let object = try JSONSerialization.jsonObject(with: Data(confirmed.standardOutput.utf8)) as? [String: Any]
        return try #require(object?["recoveryCodes"] as? [String], "\(confirmed.standardOutput)")
    }

    /// 100 wrong passwords through sshd: the account's hard lock.
    static func hardLock(_ user: String, through daemon: DaemonProcess) throws {
        let wire = try #require(WireClient(path: daemon.socketPath))
        for _ in 0..<100 {
            _ = wire.call(
                .loginFrom(
                    user: user,
                    password: Array("wrong".utf8),
                    codeKind: .totp,
                    code: "000000",
                    origin: LoginOrigin(service: "sshd", remoteHost: "")
                )
            )
        }
    }
}
