import Foundation
import Glibc
import Testing
import Wire
import TestSupport

/// pam_twofactor.so through the real PAM library, driven by pamtester with piped answers.
@Suite(.enabled(if: runningAsRoot, notRootMessage))
struct PAMModuleTests {
    /// A daemon with an enrolled account `alice` (period 3600, so the next step's code is valid
    /// now and no test waits for a TOTP window), and the module copied beside its socket.
    struct Setup {
        let daemon: DaemonProcess
        let module: String
        let secret: String
        let step: Int64

        init(daemonArguments: [String] = []) throws {
            daemon = try DaemonProcess()
            try daemon.start(extraArguments: daemonArguments)
            module = try PAMModule.copy(into: daemon.directory)
            (secret, step) = try daemon.enrolledAccount("alice", password: "pw-alice", period: 3600)
        }

        /// The code `ahead` steps after the enrolling one; 1 is accepted, 5 is outside the window.
        func code(ahead: Int64 = 1) throws -> String {
            try OathTool.code(secret: secret, at: (step + ahead) * 3600, period: 3600)
        }

        /// Adds `user` with two-factor login required: pending, it enrolls at its first login.
        func addPendingAccount(_ user: String, password: String) throws {
            let added = try daemon.ctl(
                ["user", "add", user, "--require-2fa", "--password-stdin"],
                input: password + "\n"
            )
            guard added.status == 0 else { throw Failure("user add \(user): \(added.standardError)") }
        }

        func service(_ options: String = "", socket: String? = nil) throws -> PAMService {
            try PAMService(["auth required \(module) socket=\(socket ?? daemon.socketPath) \(options)"])
        }
    }

    @Test func correctCode_authenticates_andTheDaemonLogsTheOrigin() throws {
        let setup = try Setup()
        let service = try setup.service()
        let result = try service.authenticate("alice", input: "pw-alice\n\(try setup.code())\n", rhost: "192.0.2.7")
        #expect(result.authenticated, "\(result.standardError)\n\(setup.daemon.log())")
        #expect(result.standardError.contains("Password: "))
        #expect(result.standardError.contains("Verification code: "))
        #expect(setup.daemon.log().contains("rhost=192.0.2.7"))
        #expect(setup.daemon.log().contains("service=\(service.name)"))
    }

    @Test func wrongCode_isDenied() throws {
        let setup = try Setup()
        let result = try setup.service().authenticate("alice", input: "pw-alice\n\(try setup.code(ahead: 5))\n")
        #expect(!result.authenticated)
        #expect(result.status != 0)
    }

    @Test func wrongPassword_isDenied_withoutSayingWhichFactorFailed() throws {
        let setup = try Setup()
        let result = try setup.service().authenticate("alice", input: "wrong\n\(try setup.code())\n")
        #expect(!result.authenticated)
        #expect(!result.standardError.lowercased().contains("password is"))
        #expect(!result.standardOutput.lowercased().contains("password"))
    }

    /// What sshd's user sees from a second address after wrong passwords from a first: the same for a name
    /// without an account as for an account, so the lock tells no one which accounts exist.
    @Test func wrongPasswordsFromOneHost_lockAnUnknownUserForOtherHosts_likeAnAccount() throws {
        let setup = try Setup()
        let service = try setup.service()
        func answerFromASecondHost(_ user: String) throws -> String {
            for _ in 0..<5 {
                let wrong = try service.authenticate(user, input: "wrong\n000000\n", rhost: "192.0.2.7")
                #expect(wrong.standardError.contains("Login refused."), "\(user): \(wrong.standardError)")
            }
            return try service.authenticate(user, input: "wrong\n000000\n", rhost: "198.51.100.1").standardError
        }
        let known = try answerFromASecondHost("alice")
        let unknown = try answerFromASecondHost("ghost")
        #expect(known.contains("Too many failed attempts"), "\(known)")
        #expect(unknown.contains("Too many failed attempts"), "\(unknown)\n\(setup.daemon.log())")
    }

    @Test func replayedCode_isDenied() throws {
        let setup = try Setup()
        let service = try setup.service()
        let code = try setup.code()
        #expect(try service.authenticate("alice", input: "pw-alice\n\(code)\n").authenticated)
        let replayed = try service.authenticate("alice", input: "pw-alice\n\(code)\n")
        #expect(!replayed.authenticated)
    }

    @Test func emptyCode_isDenied() throws {
        let setup = try Setup()
        let result = try setup.service().authenticate("alice", input: "pw-alice\n\n")
        #expect(!result.authenticated)
    }

    /// What the user types is refused as a wrong code is (PAM_AUTH_ERR, "Login refused."), never as an outage
    /// (PAM_AUTHINFO_UNAVAIL): a stack that lets logins on while the daemon is down (`authinfo_unavail=ignore`)
    /// must not be skipped by typing a byte that is not UTF-8, which the daemon refuses as malformed, or an
    /// overlong code, which the module cannot send.
    @Test(arguments: [("code_only", "\\0377"), ("code_only", String(repeating: "7", count: 40)), ("", "pw-\\0377")])
    func typedBytesTheProtocolRefuses_areAWrongAnswer_notAnOutage(options: String, typed: String) throws {
        let setup = try Setup()
        let service = try PAMService([
            "auth required pam_permit.so",  // in place of pam_unix, which checked the password
            "auth [success=ok authinfo_unavail=ignore default=die] \(setup.module) socket=\(setup.daemon.socketPath) "
                + options,
        ])
        // As bytes: a Swift string cannot hold a lone 0xFF.
        let result = try run(
            URL(fileURLWithPath: "/bin/sh"),
            [
                "-c", "typed=$1; shift; printf '%b\\n' \"$typed\" | exec \"$@\"", "sh", typed,
            ] + PAMTester.command + [service.name, "alice", "authenticate"]
        )
        #expect(!result.authenticated, "\(result.standardError)\n\(setup.daemon.log())")
        #expect(result.standardError.contains("pamtester: Authentication failure"), "\(result.standardError)")
        #expect(result.standardError.contains("Login refused."), "\(result.standardError)")
    }

    @Test func pendingAccount_enrollsThroughPAM() throws {
        let setup = try Setup()
        try setup.addPendingAccount("carol", password: "pw-carol")
        let service = try setup.service()
        let result = try runInteractive(
            // pamtester's stdio buffers a pipe until exit; line buffering shows the QR code before
            // pamtester waits for the code.
            URL(fileURLWithPath: PAMTester.lineBuffered[0]),
            Array(PAMTester.lineBuffered.dropFirst()) + [service.name, "carol", "authenticate"],
            firstInput: "pw-carol\n",
            markerOnStandardError: false,
            marker: "URI: "
        ) { shown in
            #expect(shown.contains("\u{2580}") || shown.contains("\u{2584}"), "the QR code is drawn: \(shown)")
            let uri = try #require(line(after: "URI: ", in: shown))
            let secret = try #require(secretParameter(ofURI: uri))
            let typed = try #require(line(after: "Or enter this secret by hand (time-based):", in: shown))
            #expect(typed.replacingOccurrences(of: " ", with: "") == secret)
            return try OathTool.code(secret: secret, at: unixNow()) + "\n"
        }
        #expect(result.status == 0, "\(result.standardError)\n\(setup.daemon.log())")
        #expect(
            result.standardOutput.contains("Recovery codes: each works once"),
            "the codes are shown once: \(result.standardOutput)"
        )
        let shown = try setup.daemon.ctl(["user", "show", "carol", "--json"])
        #expect(shown.standardOutput.contains("\"twoFactor\":\"on\""), "\(shown.standardOutput)")
    }

    /// PAM_SILENT: the questions are still asked, no message is shown, the verdict is the same.
    @Test func silent_asksButShowsNoMessage() throws {
        let setup = try Setup()
        let service = try setup.service()
        let refused = try service.authenticate("alice", input: "pw-alice\n000000\n", flags: "PAM_SILENT")
        #expect(!refused.authenticated)
        #expect(refused.standardError.contains("Verification code: "), "\(refused.standardError)")
        #expect(!refused.standardError.contains("Login refused."), "\(refused.standardError)")
        let loud = try service.authenticate("alice", input: "pw-alice\n000000\n")
        #expect(loud.standardError.contains("Login refused."), "\(loud.standardError)")
        let accepted = try service.authenticate(
            "alice",
            input: "pw-alice\n\(try setup.code())\n",
            flags: "PAM_SILENT"
        )
        #expect(accepted.authenticated, "\(accepted.standardError)\n\(setup.daemon.log())")
    }

    /// An enrollment is messages (the QR code, then the recovery codes): with PAM_SILENT it is refused,
    /// and the account stays pending for a login that may show them.
    @Test func silent_pendingAccount_isDenied_andStaysPending() throws {
        let setup = try Setup()
        try setup.addPendingAccount("carol", password: "pw-carol")
        let result = try setup.service().authenticate("carol", input: "pw-carol\n123456\n", flags: "PAM_SILENT")
        #expect(!result.authenticated)
        #expect(!(result.standardOutput + result.standardError).contains("QR code"), "\(result.standardOutput)")
        #expect(!result.standardError.contains("Verification code: "), "\(result.standardError)")
        let shown = try setup.daemon.ctl(["user", "show", "carol", "--json"])
        #expect(shown.standardOutput.contains("\"twoFactor\":\"pending\""), "\(shown.standardOutput)")
    }

    @Test func stoppedDaemon_isDenied() throws {
        let setup = try Setup()
        let service = try setup.service()
        let code = try setup.code()
        setup.daemon.stop()
        let result = try service.authenticate("alice", input: "pw-alice\n\(code)\n")
        #expect(!result.authenticated)
        #expect(result.standardError.contains("unavailable"), "\(result.standardError)")
    }

    @Test func daemonThatNeverAnswers_isDeniedAfterTheTimeout() throws {
        let setup = try Setup()
        let silent = try SilentListener(in: setup.daemon.directory)
        let service = try setup.service("timeout=1", socket: silent.path)
        let started = Date()
        let result = try service.authenticate("alice", input: "pw-alice\n\(try setup.code())\n")
        let elapsed = Date().timeIntervalSince(started)
        #expect(!result.authenticated)
        #expect(elapsed >= 1 && elapsed < 10, "denied after \(elapsed) s")
    }

    @Test func singlePrompt_takesPasswordAndCodeInOneAnswer() throws {
        let setup = try Setup()
        let service = try setup.service("single_prompt")
        let wrong = try service.authenticate("alice", input: "pw-alice\(try setup.code(ahead: 5))\n")
        #expect(!wrong.authenticated)
        let result = try service.authenticate("alice", input: "pw-alice\(try setup.code())\n")
        #expect(result.authenticated, "\(result.standardError)\n\(setup.daemon.log())")
        #expect(result.standardError.contains("Password and verification code: "))
        #expect(!result.standardError.contains("Verification code: "))
    }

    @Test func useFirstPass_takesThePasswordFromAnEarlierModule() throws {
        let setup = try Setup()
        // pam_exec with expose_authtok asks for the password and sets PAM_AUTHTOK; its command just drains it.
        let drain = setup.daemon.directory.appendingPathComponent("drain.sh").path
        try "#!/bin/sh\ncat >/dev/null\n".write(toFile: drain, atomically: false, encoding: .utf8)
        chmod(drain, 0o755)
        let stacked = try PAMService([
            "auth requisite pam_exec.so expose_authtok \(drain)",
            "auth required \(setup.module) socket=\(setup.daemon.socketPath) use_first_pass",
        ])
        let result = try stacked.authenticate("alice", input: "pw-alice\n\(try setup.code())\n")
        #expect(result.authenticated, "\(result.standardError)\n\(setup.daemon.log())")

        // Alone, use_first_pass has no password to use and must not ask for one.
        let alone = try setup.service("use_first_pass").authenticate(
            "alice",
            input: "pw-alice\n\(try setup.code(ahead: 2))\n"
        )
        #expect(!alone.authenticated)
        #expect(!alone.standardError.contains("Password: "))
    }

    @Test func codeOnly_fromRoot_checksTheCodeWithoutAPassword() throws {
        let setup = try Setup()
        let service = try setup.service("code_only")
        let wrong = try service.authenticate("alice", input: "\(try setup.code(ahead: 5))\n")
        #expect(!wrong.authenticated)
        let result = try service.authenticate("alice", input: "\(try setup.code())\n")
        #expect(result.authenticated, "\(result.standardError)\n\(setup.daemon.log())")
        #expect(!result.standardError.contains("Password"))
    }

    @Test func codeOnly_fromAnUnprivilegedCaller_isRefused() throws {
        let setup = try Setup()
        let result = try setup.service("code_only").authenticate(
            "alice",
            input: "\(try setup.code())\n",
            uid: nobodyUID
        )
        #expect(!result.authenticated)
        // The daemon itself refused (notPermitted), not a module that failed to load.
        #expect(result.standardError.contains("Login refused."), "\(result.standardError)")
        // The same code still works for root afterwards: the refused request used nothing up.
        let root = try setup.service("code_only").authenticate("alice", input: "\(try setup.code())\n")
        #expect(root.authenticated, "\(root.standardError)")
    }

    @Test func codeOnly_fromTheCodeCheckGroup_checksAnyCode_butEnrollsOnlyTheCallersOwnAccount() throws {
        let group = try ThrowawayGroup()
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: ["--code-check-group", group.name])
        let module = try PAMModule.copy(into: daemon.directory)
        let (secret, step) = try daemon.enrolledAccount("alice", password: "pw-alice", period: 3600)
        for user in ["carol", "nobody"] {
            let added = try daemon.ctl(
                ["user", "add", user, "--require-2fa", "--password-stdin"],
                input: "pw-\(user)-1\n"
            )
            try #require(added.status == 0, "\(added.standardError)")
        }
        let service = try PAMService(["auth required \(module) socket=\(daemon.socketPath) code_only"])
        // A program installed set-group-ID to the code-check group, run by nobody.
        func asGroupMember(_ user: String, input: String) throws -> CommandResult {
            try run(
                URL(fileURLWithPath: "/usr/bin/setpriv"),
                [
                    "--reuid=\(nobodyUID)", "--regid=\(group.gid)", "--clear-groups",
                ] + PAMTester.command + [
                    service.name,
                    user, "authenticate",
                ],
                input: input
            )
        }
        let code = try OathTool.code(secret: secret, at: (step + 1) * 3600, period: 3600)
        let alice = try asGroupMember("alice", input: "\(code)\n")
        #expect(alice.authenticated, "\(alice.standardError)\n\(daemon.log())")
        // Another account's enrollment would show its secret to whoever runs the program.
        let carol = try asGroupMember("carol", input: "\n")
        #expect(!carol.authenticated)
        #expect(!(carol.standardOutput + carol.standardError).contains("URI: "), "\(carol.standardOutput)")
        #expect(carol.standardError.contains("Login refused."), "\(carol.standardError)")
        let shown = try daemon.ctl(["user", "show", "carol", "--json"])
        #expect(shown.standardOutput.contains("\"twoFactor\":\"pending\""), "\(shown.standardOutput)")
        // The caller's own account enrolls as at any login.
        let own = try asGroupMember("nobody", input: "\n")
        #expect(own.standardOutput.contains("URI: otpauth://"), "\(own.standardOutput)\n\(own.standardError)")
    }

    @Test func codeOnly_unknownUser_passesThroughOnlyWithNullok() throws {
        let setup = try Setup()
        let base = "auth required \(setup.module) socket=\(setup.daemon.socketPath) code_only"
        let strict = try PAMService([base, "auth required pam_permit.so"])
        #expect(!(try strict.authenticate("nosuchuser", input: "\n")).authenticated)
        let lenient = try PAMService([base + " nullok", "auth required pam_permit.so"])
        #expect(try lenient.authenticate("nosuchuser", input: "\n").authenticated)
        // nullok never lets a known account skip its code.
        #expect(!(try lenient.authenticate("alice", input: "\n")).authenticated)
    }

    @Test func socketOfAnotherUser_isRefusedBeforeAnythingIsSent() throws {
        let setup = try Setup()
        let foreign = try ForeignDaemon(uid: nobodyUID)
        let result = try setup.service(socket: foreign.socketPath).authenticate("alice", input: "pw-alice\n123456\n")
        #expect(!result.authenticated)
        #expect(result.standardError.contains("unavailable"), "\(result.standardError)")
        // Naming that user as the daemon's user trusts it: now the daemon itself answers (no such account there).
        let trusted = try setup.service("daemon_user=nobody", socket: foreign.socketPath)
            .authenticate("alice", input: "pw-alice\n123456\n")
        #expect(!trusted.authenticated)
        #expect(!trusted.standardError.contains("unavailable"), "\(trusted.standardError)")
    }

    @Test func recoveryCode_atTheCodePrompt_worksOnce() throws {
        let setup = try Setup()
        // Enrollment hands out the recovery codes once.
        _ = try setup.daemon.ctl(["user", "add", "dana", "--password-stdin"], input: "pw-dana-1\n")
        let begun = try setup.daemon.ctl(["2fa", "enroll", "dana", "--begin"])
        let secret = try #require(
            secretParameter(ofURI: begun.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines))
        )
        let confirmed = try setup.daemon.ctl(
            ["2fa", "enroll", "dana", "--confirm", "-", "--json"],
            input: try OathTool.code(secret: secret, at: unixNow()) + "\n"
        )
        let object = try JSONSerialization.jsonObject(with: Data(confirmed.standardOutput.utf8)) as? [String: Any]
        let codes = try #require(object?["recoveryCodes"] as? [String], "\(confirmed.standardOutput)")
        let service = try setup.service()
        let result = try service.authenticate("dana", input: "pw-dana-1\n\(codes[0])\n")
        #expect(result.authenticated, "\(result.standardError)\n\(setup.daemon.log())")
        #expect(result.standardOutput.contains("9 remain."), "\(result.standardOutput)")
        #expect(!(try service.authenticate("dana", input: "pw-dana-1\n\(codes[0])\n")).authenticated)
    }

    @Test func cancelledConversation_isDenied() throws {
        let setup = try Setup()
        let service = try setup.service()
        #expect(!(try service.authenticate("alice", input: "")).authenticated)
        #expect(!(try service.authenticate("alice", input: "pw-alice\n")).authenticated)
    }

    /// Answers to the login (request id 2, after the Hello) that break docs/protocol.md; the first
    /// is a well-formed `ok`, which proves the fake daemon is trusted and heard.
    static let scriptedAnswers: [(name: String, bytes: [UInt8], authenticates: Bool)] = {
        let ok = WireCodec.encodeResponse(.loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []), id: 2)
        var trailing = ok + [0]
        trailing[3] += 1
        return [
            ("well-formed ok", ok, true),
            ("ok with a trailing byte", trailing, false),
            (
                "ok for another request id",
                WireCodec.encodeResponse(.loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []), id: 9), false
            ),
            ("an unknown response type", [0, 0, 0, 5, 0xFE, 0, 0, 0, 2], false),
            ("a length prefix above the maximum", [0x7F, 0xFF, 0xFF, 0xFF], false),
            ("a request type as the answer", WireCodec.encodeRequest(.userShow(user: "alice"), id: 2), false),
            (
                "recovery codes after an enrollment",
                WireCodec.encodeResponse(.recoveryCodes(["K7QF-2M3D-XR4T-6BWC"]), id: 2), true
            ),
            ("a recovery-code login", WireCodec.encodeResponse(.recoveryLogin(remaining: 3), id: 2), true),
            ("recovery codes, none", [0, 0, 0, 6, 0x94, 0, 0, 0, 2, 0], false),
            (
                "recovery codes for another request id",
                WireCodec.encodeResponse(.recoveryCodes(["K7QF-2M3D-XR4T-6BWC"]), id: 9), false
            ),
        ]
    }()

    @Test(arguments: scriptedAnswers.indices)
    func garbageAnswer_isDenied(_ index: Int) throws {
        let (name, bytes, authenticates) = Self.scriptedAnswers[index]
        let setup = try Setup()
        let hello = WireCodec.encodeResponse(.helloReply(version: 1), id: 1)
        let fake = try ScriptedDaemon(in: setup.daemon.directory, answers: [hello, bytes])
        let result = try setup.service("timeout=2", socket: fake.path).authenticate("alice", input: "pw-alice\n")
        #expect(result.authenticated == authenticates, "\(name): \(result.standardError)")
    }

    /// An answer cut short may already hold the secret (an enrollment's otpauth URI, recovery codes): the module
    /// wipes what it read before it frees it, as it does for a whole answer. pamtester runs with a free() that
    /// stops the process when a block it frees still holds the secret.
    @Test func answerCutShort_isWipedBeforeItIsFreed() throws {
        let setup = try Setup()
        let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        let shim = setup.daemon.directory.appendingPathComponent("freecheck.c").path
        try """
        #define _GNU_SOURCE
        #include <malloc.h>
        #include <string.h>
        #include <unistd.h>
        extern void __libc_free(void *);
        void free(void *block) {
            static const char secret[] = "\(secret)";
            if (block && memmem(block, malloc_usable_size(block), secret, sizeof secret - 1)) {
                static const char said[] = "freecheck: a block holding the secret was freed unwiped\\n";
                write(2, said, sizeof said - 1);
                _exit(98);
            }
            __libc_free(block);
        }
        """.write(toFile: shim, atomically: false, encoding: .utf8)
        let library = shim.replacingOccurrences(of: ".c", with: ".so")
        let built = try run(URL(fileURLWithPath: "/usr/bin/cc"), ["-shared", "-fPIC", "-o", library, shim])
        try #require(built.status == 0, "\(built.standardError)")
        chmod(library, 0o755)
        let hello = WireCodec.encodeResponse(.helloReply(version: 1), id: 1)
        let enroll = WireCodec.encodeResponse(
            .enrollScreen(
                otpauthURI: Array("otpauth://totp/Example:alice?secret=\(secret)".utf8),
                screen: Array("##".utf8)
            ),
            id: 2
        )
        // The frame without its last bytes; the fake daemon then holds the connection until the module gives up.
        let fake = try ScriptedDaemon(in: setup.daemon.directory, answers: [hello, Array(enroll.dropLast(4))])
        let service = try setup.service("timeout=1", socket: fake.path)
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/pamtester"),
            [service.name, "alice", "authenticate"],
            input: "pw-alice\n",
            environment: ["LD_PRELOAD": library]
        )
        #expect(!result.standardError.contains("freecheck"), "\(result.standardError)")
        #expect(result.standardError.contains("service is unavailable"), "\(result.standardError)")
    }

    /// `locked` with retryAfter 4294967295 is the hard lock (docs/protocol.md, LoginResult), which only an unlock
    /// ends: the user is told so, as `twofactor login` tells it, not to wait 136 years. More free failures than the
    /// hard lock's 100 reach it without the doubling waits.
    @Test func hardLock_saysAnUnlockEndsIt() throws {
        let setup = try Setup(daemonArguments: ["--throttle-free-failures", "200"])
        let wire = try #require(WireClient(path: setup.daemon.socketPath))
        let origin = LoginOrigin(service: "sshd", remoteHost: "")
        for _ in 0..<100 {
            _ = wire.call(
                .loginFrom(
                    user: "alice",
                    password: Array("wrong".utf8),
                    codeKind: .totp,
                    code: "000000",
                    origin: origin
                )
            )
        }
        let result = try setup.service().authenticate("alice", input: "pw-alice\n\(try setup.code())\n")
        #expect(!result.authenticated)
        #expect(
            result.standardError.contains("until an admin or operator runs `twofactorctl unlock alice`"),
            "\(result.standardError)"
        )
        #expect(!result.standardError.contains("4294967295"), "\(result.standardError)")
    }

    /// The Hello goes out with the first request: this daemon answers nothing until it has read both, so a
    /// module that waited for the Hello's answer would time out.
    @Test func firstRequest_goesOutWithTheHello_withoutWaitingForItsAnswer() throws {
        let setup = try Setup()
        let hello = WireCodec.encodeResponse(.helloReply(version: 1), id: 1)
        let ok = WireCodec.encodeResponse(.loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []), id: 2)
        let fake = try ScriptedDaemon(in: setup.daemon.directory, answers: [hello, ok], readingAhead: 2)
        let result = try setup.service("timeout=2", socket: fake.path).authenticate("alice", input: "pw-alice\n")
        #expect(result.authenticated, "\(result.standardError)")
    }

    @Test func aRefusedHello_failsTheLogin() throws {
        let setup = try Setup()
        let refusal = WireCodec.encodeResponse(.error(code: .unsupportedVersion, message: "version 2 only"), id: 1)
        let ok = WireCodec.encodeResponse(.loginResult(outcome: .ok, retryAfter: 0, otpauthURI: []), id: 2)
        let fake = try ScriptedDaemon(in: setup.daemon.directory, answers: [refusal, ok])
        let result = try setup.service("timeout=2", socket: fake.path).authenticate("alice", input: "pw-alice\n")
        #expect(!result.authenticated, "\(result.standardError)")
    }

    /// A daemon past its connection cap answers busy and closes before reading anything, so the module's sends
    /// may fail: it says the daemon is busy, in its log and to the user, and the service is still unavailable.
    @Test func daemonAtItsConnectionCap_isReportedBusy() throws {
        let setup = try Setup(daemonArguments: ["--max-connections", "2"])
        // Connections that finished their Hello hold both places (root's places are the whole cap).
        let held = (0..<2).compactMap { _ in WireClient(path: setup.daemon.socketPath) }
        #expect(held.count == 2)
        let receiver = DatagramReceiver(path: setup.daemon.directory.appendingPathComponent("log").path)
        let result = try pamtesterLogging(
            try setup.service(),
            "alice",
            input: "pw-alice\n\(try setup.code())\n",
            logSocket: receiver.path
        )
        #expect(!result.authenticated)
        #expect(result.standardError.contains("service is busy; try again"), "\(result.standardError)")
        let line = logLine(containing: "twofactord", from: receiver)
        #expect(line?.contains("twofactord is busy: the daemon has too many connections") == true, "\(line ?? "none")")
        #expect(setup.daemon.log().contains("refused: a connection"), "\(setup.daemon.log())")
        // The PAM result is what it was: the service could not be asked (PAM_AUTHINFO_UNAVAIL).
        let verdict = logLine(containing: "user alice:", from: receiver)
        #expect(verdict?.contains("cannot retrieve authentication info") == true, "\(verdict ?? "none")")
    }

    /// A busy answer from a daemon that read the Hello and the login first: in place of the Hello's answer (at
    /// its connection cap), or of the login's (every worker taken). Either way the module reports it as busy,
    /// not as a refused protocol version or a refused login, and logs its verdict.
    @Test(arguments: [false, true])
    func busyAnswer_isReportedBusy(afterTheHello: Bool) throws {
        let setup = try Setup()
        let message =
            afterTheHello
            ? "the daemon is busy: try again in a moment" : "the daemon has too many connections: try again in a moment"
        let busy = WireCodec.encodeResponse(.error(code: .busy, message: message), id: afterTheHello ? 2 : 0)
        let hello = WireCodec.encodeResponse(.helloReply(version: 1), id: 1)
        let answers = afterTheHello ? [hello, busy] : [busy]
        let fake = try ScriptedDaemon(in: setup.daemon.directory, answers: answers, readingAhead: 2)
        let receiver = DatagramReceiver(path: setup.daemon.directory.appendingPathComponent("log").path)
        let result = try pamtesterLogging(
            try setup.service("timeout=2", socket: fake.path),
            "alice",
            input: "pw-alice\n",
            logSocket: receiver.path
        )
        #expect(!result.authenticated)
        #expect(result.standardError.contains("service is busy; try again"), "\(result.standardError)")
        let line = logLine(containing: "twofactord", from: receiver)
        #expect(line?.contains("twofactord is busy: \(message)") == true, "\(line ?? "none")")
        let verdict = logLine(containing: "user alice:", from: receiver)
        #expect(verdict?.contains("cannot retrieve authentication info") == true, "\(verdict ?? "none")")
    }

    /// tooManyRequests, in place of the Hello's answer (a connection past the user's own share) or of the login's,
    /// is the user's own load: a refusal, which a stack that skips an outage does not skip.
    @Test(arguments: [false, true])
    func tooManyRequests_isARefusal_notAnOutage(afterTheHello: Bool) throws {
        let setup = try Setup()
        let refused = WireCodec.encodeResponse(
            .error(code: .tooManyRequests, message: "this user holds too many connections to the daemon"),
            id: afterTheHello ? 2 : 0
        )
        let hello = WireCodec.encodeResponse(.helloReply(version: 1), id: 1)
        let fake = try ScriptedDaemon(
            in: setup.daemon.directory,
            answers: afterTheHello ? [hello, refused] : [refused],
            readingAhead: 2
        )
        let service = try PAMService([
            "auth required pam_permit.so",  // in place of pam_unix, which checked the password
            "auth [success=ok authinfo_unavail=ignore default=die] \(setup.module) socket=\(fake.path) timeout=2",
        ])
        let result = try service.authenticate("alice", input: "pw-alice\n")
        #expect(!result.authenticated, "\(result.standardError)")
        #expect(result.standardError.contains("Too many of your requests"), "\(result.standardError)")
    }

    @Test func unknownOption_failsClosed() throws {
        let setup = try Setup()
        let result = try setup.service("use_frist_pass").authenticate("alice", input: "pw-alice\n\(try setup.code())\n")
        #expect(!result.authenticated)
    }

    @Test func module_linksOnlyLibcAndLibpam_andExportsOnlyPamSm() throws {
        let directory = try DaemonProcess()
        let module = try PAMModule.copy(into: directory.directory)
        let dynamic = try run(URL(fileURLWithPath: "/usr/bin/readelf"), ["-d", module])
        let needed = dynamic.standardOutput.split(separator: "\n").filter { $0.contains("(NEEDED)") }.map {
            String($0.split(separator: "[").last?.dropLast() ?? "")
        }
        #expect(Set(needed) == ["libc.so.6", "libpam.so.0"], "\(needed)")
        let symbols = try run(URL(fileURLWithPath: "/usr/bin/nm"), ["-D", "--defined-only", module])
        let names = symbols.standardOutput.split(separator: "\n").compactMap {
            $0.split(separator: " ").last.map(String.init)
        }
        #expect(!names.isEmpty)
        #expect(names.allSatisfy { $0.hasPrefix("pam_sm_") }, "\(names)")
    }
}
