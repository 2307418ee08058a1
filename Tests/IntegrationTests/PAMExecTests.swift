import Foundation
import Glibc
import Testing
import TestSupport

/// `twofactor pam` under pam_exec with expose_authtok, through the real PAM library.
@Suite(.enabled(if: runningAsRoot, notRootMessage))
struct PAMExecTests {
    struct Setup {
        let daemon: DaemonProcess
        let secret: String
        let step: Int64

        init() throws {
            daemon = try DaemonProcess()
            try daemon.start()
            (secret, step) = try daemon.enrolledAccount("alice", password: "pw-alice", period: 3600)
        }

        func code(ahead: Int64 = 1) throws -> String {
            try OathTool.code(secret: secret, at: (step + ahead) * 3600, period: 3600)
        }

        func service(_ options: String = "--single-prompt", socket: String? = nil) throws -> PAMService {
            let twofactor = Binaries.url("twofactor").path
            let command = "\(twofactor) pam --socket \(socket ?? daemon.socketPath) \(options)"
            return try PAMService(["auth required pam_exec.so expose_authtok quiet \(command)"])
        }
    }

    @Test func passwordFollowedByCode_authenticates_once() throws {
        let setup = try Setup()
        let service = try setup.service()
        let entry = "pw-alice\(try setup.code())\n"
        let result = try service.authenticate("alice", input: entry, rhost: "198.51.100.4")
        #expect(result.authenticated, "\(result.standardError)\n\(setup.daemon.log())")
        #expect(setup.daemon.log().contains("rhost=198.51.100.4"))
        let replayed = try service.authenticate("alice", input: entry)
        #expect(!replayed.authenticated)
    }

    @Test func wrongCode_orMissingCode_isDenied() throws {
        let setup = try Setup()
        #expect(
            !(try setup.service().authenticate("alice", input: "pw-alice\(try setup.code(ahead: 5))\n")).authenticated
        )
        #expect(!(try setup.service("").authenticate("alice", input: "pw-alice\n")).authenticated)
        #expect(!(try setup.service().authenticate("alice", input: "pw-alice\n")).authenticated)
    }

    /// Without --single-prompt the code cannot be sent: the refusal says what the administrator must change, not
    /// to type the code after the password, which is what the user just did.
    @Test func withoutSinglePrompt_aCodeNeeded_isRefused_sayingToAddTheOption() throws {
        let setup = try Setup()
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "-i", "PAM_SERVICE=sshd", "PAM_USER=alice", "PAM_TYPE=auth", Binaries.url("twofactor").path, "pam",
                "--socket", setup.daemon.socketPath,
            ],
            input: "pw-alice\(try setup.code())"
        )
        #expect(result.status == 1)
        #expect(result.standardError.contains("add --single-prompt"), "\(result.standardError)")
    }

    @Test func accountWithoutTwoFactor_needsThePasswordOnly() throws {
        let setup = try Setup()
        let added = try setup.daemon.ctl(["user", "add", "bob", "--password-stdin"], input: "pw-bob-123\n")
        #expect(added.status == 0)
        #expect(try setup.service("").authenticate("bob", input: "pw-bob-123\n").authenticated)
        #expect(!(try setup.service("").authenticate("bob", input: "pw-bob-123x\n")).authenticated)
    }

    @Test func pendingAccount_isDenied_untilEnrolled() throws {
        let setup = try Setup()
        _ = try setup.daemon.ctl(["user", "add", "carol", "--require-2fa", "--password-stdin"], input: "pw-carol\n")
        #expect(!(try setup.service("").authenticate("carol", input: "pw-carol\n")).authenticated)
    }

    /// A pending account whose enrollment a login offered (`twofactor login` shows it; here the helper) may finish
    /// it with a --single-prompt login through pam_exec. That answer carries the account's recovery codes, shown
    /// nowhere else: they go to standard output, which pam_exec's `stdout` option shows the user.
    @Test func aLoginThatFinishesAnEnrollment_showsTheRecoveryCodes() throws {
        let setup = try Setup()
        _ = try setup.daemon.ctl(["user", "add", "carol", "--require-2fa", "--password-stdin"], input: "pw-carol\n")
        let offered = try setup.daemon.helper(input: #"{"op":"login","user":"carol","password":"pw-carol"}"# + "\n")
        let answer = try JSONSerialization.jsonObject(with: Data(offered.standardOutput.utf8)) as? [String: Any]
        let uri = try #require(answer?["otpauthURI"] as? String, "\(offered.standardOutput)")
        let secret = try #require(secretParameter(ofURI: uri))
        let twofactor = Binaries.url("twofactor").path
        let service = try PAMService([
            "auth required pam_exec.so expose_authtok stdout \(twofactor) pam --socket \(setup.daemon.socketPath) "
                + "--single-prompt"
        ])
        let result = try service.authenticate(
            "carol",
            input: "pw-carol\(try OathTool.code(secret: secret, at: unixNow()))\n"
        )
        #expect(result.authenticated, "\(result.standardError)\n\(setup.daemon.log())")
        let shown = result.standardOutput.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.wholeMatch(of: /[A-Z2-7]{4}(-[A-Z2-7]{4}){3}/) != nil }
        #expect(shown.count == 10, "\(result.standardOutput)")
        // They are the account's codes: one logs in in place of a code from the app.
        let first = try #require(shown.first)
        let recovered = try setup.daemon.login("carol", password: "pw-carol", code: first)
        #expect(recovered.status == 0, "\(recovered.standardError)")
    }

    @Test func stoppedOrSilentDaemon_isDenied() throws {
        let setup = try Setup()
        let entry = "pw-alice\(try setup.code())\n"
        let silent = try SilentListener(in: setup.daemon.directory)
        let started = Date()
        let hung = try setup.service("--single-prompt --timeout 1", socket: silent.path).authenticate(
            "alice",
            input: entry
        )
        #expect(!hung.authenticated)
        #expect(Date().timeIntervalSince(started) < 10)
        setup.daemon.stop()
        #expect(!(try setup.service().authenticate("alice", input: entry)).authenticated)
    }

    /// pam_exec hands its child the PAM environment (pam_getenvlist) first, then the PAM items from PAM_SERVICE on
    /// (pam_exec(8): "the user can have control over the environment"): a PAM_RHOST before the items must not
    /// pass for the item. The environment is laid out here as pam_exec lays it out.
    @Test func aRemoteHostFromThePAMEnvironment_isNotTakenForTheItem() throws {
        let setup = try Setup()
        let trusted = try setup.daemon.ctl(["org", "set", "default", "--trusted-network", "198.51.100.0/24"])
        try #require(trusted.status == 0, "\(trusted.standardError)")
        func pam(_ environment: [String]) throws -> CommandResult {
            try run(
                URL(fileURLWithPath: "/usr/bin/env"),
                ["-i"] + environment + [
                    "PAM_TYPE=auth", Binaries.url("twofactor").path, "pam", "--socket", setup.daemon.socketPath,
                    "--single-prompt",
                ],
                input: "pw-alice"
            )
        }
        // The password alone: only a trusted network could let alice in without her code.
        let fromTheEnvironment = try pam(["PAM_RHOST=198.51.100.7", "PAM_SERVICE=sshd", "PAM_USER=alice"])
        #expect(fromTheEnvironment.status == 1, "\(fromTheEnvironment.standardError)\n\(setup.daemon.log())")
        let asTheItem = try pam(["PAM_SERVICE=sshd", "PAM_USER=alice", "PAM_RHOST=198.51.100.7"])
        #expect(asTheItem.status == 0, "\(asTheItem.standardError)\n\(setup.daemon.log())")
    }

    /// The user, too, is only taken from the items: a PAM_USER before them is no login's user.
    @Test func aUserFromThePAMEnvironment_isNotTakenForTheItem() throws {
        let setup = try Setup()
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "-i", "PAM_USER=alice", "PAM_SERVICE=sshd", "PAM_TYPE=auth", Binaries.url("twofactor").path, "pam",
                "--socket", setup.daemon.socketPath,
            ],
            input: "pw-alice"
        )
        #expect(result.status == 64, "\(result.standardError)")
        #expect(
            result.standardError.contains("PAM_USER is not set after the last PAM_SERVICE"),
            "\(result.standardError)"
        )
    }

    /// Under su or sudo, pam_exec's child has the invoking user's real uid: a daemon that user runs is not trusted.
    @Test func socketOfTheInvokingUser_isRefused_asUnderSu() throws {
        let foreign = try ForeignDaemon(uid: nobodyUID)
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            [
                "--ruid=\(nobodyUID)", "/usr/bin/env", "PAM_USER=alice", "PAM_TYPE=auth",
                Binaries.url("twofactor").path,
                "pam", "--socket", foreign.socketPath,
            ],
            input: "pw"
        )
        #expect(result.status == 3)
        #expect(result.standardError.contains("runs as uid \(nobodyUID), which is not root or twofactord's user"))
        #expect(!result.standardError.contains("you,"), "it runs as the invoker: \(result.standardError)")
    }

    @Test func socketOfAnotherUser_isRefused() throws {
        let foreign = try ForeignDaemon(uid: nobodyUID)
        let result = try run(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["PAM_USER=alice", "PAM_TYPE=auth", Binaries.url("twofactor").path, "pam", "--socket", foreign.socketPath],
            input: "pw"
        )
        #expect(result.status == 3)
        #expect(result.standardError.contains("runs as uid \(nobodyUID)"), "\(result.standardError)")
    }
}

/// `twofactor pam` without pam_exec around it: the environment it relies on.
extension PAMExecTests {
    @Test func withoutPAMUser_isAUsageError() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let result = try run(Binaries.url("twofactor"), ["pam", "--socket", daemon.socketPath], input: "pw")
        #expect(result.status == 64)
    }
}
