import CommandLineUI
import Foundation
import Testing
import TestSupport

/// The two single-prompt paths, pam_twofactor.so `single_prompt` and `twofactor pam --single-prompt` under pam_exec,
/// through the real PAM library: they read one answer alike, the password followed by a code from the app, or by a
/// space and a recovery code in its shown shape.
@Suite(.enabled(if: runningAsRoot, notRootMessage))
struct SinglePromptTests {
    typealias Setup = PAMModuleTests.Setup

    enum Bridge: String, CaseIterable, CustomTestStringConvertible {
        case module, pamExec

        var testDescription: String { rawValue }

        /// A service whose one auth line is this bridge with its single prompt; pam_exec's `stdout` shows the user
        /// what `twofactor pam` says, as pamtester shows the module's messages.
        func service(_ setup: Setup) throws -> PAMService {
            switch self {
            case .module:
                return try setup.service("single_prompt")
            case .pamExec:
                let twofactor = Binaries.url("twofactor").path
                return try PAMService([
                    "auth required pam_exec.so expose_authtok quiet stdout \(twofactor) pam --socket "
                        + "\(setup.daemon.socketPath) --single-prompt"
                ])
            }
        }
    }

    /// An account holder who lost the phone logs in with a recovery code typed after the password and a space, in
    /// either case, once, and is told how many remain, as `twofactor login` tells it.
    @Test(arguments: Bridge.allCases)
    func aRecoveryCodeAfterASpace_logsInOnce_andSaysHowManyRemain(bridge: Bridge) throws {
        let setup = try Setup()
        let codes = try LoginTextTests.enrolledWithRecoveryCodes("dana", password: "pw-dana-1", through: setup.daemon)
        let service = try bridge.service(setup)
        let first = try service.authenticate("dana", input: "pw-dana-1 \(codes[0])\n")
        #expect(first.authenticated, "\(first.standardError)\n\(setup.daemon.log())")
        #expect(!first.standardError.contains("Verification code: "), "\(first.standardError)")
        let words = LoginTexts.recoveryLogin(user: "dana", remaining: 9)
        #expect(first.standardOutput.contains(words), "\(first.standardOutput)")
        let lowerCase = try service.authenticate("dana", input: "pw-dana-1 \(codes[1].lowercased())\n")
        #expect(lowerCase.authenticated, "\(lowerCase.standardError)\n\(setup.daemon.log())")
        let again = try service.authenticate("dana", input: "pw-dana-1 \(codes[0])\n")
        #expect(!again.authenticated, "a recovery code works once")
    }

    /// The end of the answer decides: a password that itself ends in a space and a recovery code's shape is the
    /// whole password when a code follows it.
    @Test(arguments: Bridge.allCases)
    func aPasswordEndingLikeARecoveryCode_isThePassword_whenACodeFollows(bridge: Bridge) throws {
        let setup = try Setup()
        let password = "pw ABCD-EFGH-JKLM-NPQR"
        let codes = try LoginTextTests.enrolledWithRecoveryCodes("erin", password: password, through: setup.daemon)
        let result = try bridge.service(setup).authenticate("erin", input: "\(password) \(codes[0])\n")
        #expect(result.authenticated, "\(result.standardError)\n\(setup.daemon.log())")
    }

    /// Under PAM_SILENT a code typed after the password must not finish the enrollment that an earlier login offered
    /// a pending account: its recovery codes are messages. The login is refused and logged as at the code prompt, and
    /// the account stays pending for a login that may show them.
    @Test func module_silent_aCodeForAnOfferedEnrollment_isDenied_andTheAccountStaysPending() throws {
        let setup = try Setup()
        try setup.addPendingAccount("carol", password: "pw-carol")
        let secret = try Self.offerEnrollment("carol", password: "pw-carol", through: setup.daemon)
        let receiver = DatagramReceiver(path: setup.daemon.directory.appendingPathComponent("log").path)
        let service = try setup.service("single_prompt")
        let silent = try pamtesterLogging(
            service,
            "carol",
            input: "pw-carol\(try OathTool.code(secret: secret, at: unixNow()))\n",
            logSocket: receiver.path,
            flags: "PAM_SILENT"
        )
        #expect(!silent.authenticated, "\(silent.standardOutput)\n\(setup.daemon.log())")
        #expect(!silent.standardOutput.contains("Recovery codes"), "\(silent.standardOutput)")
        let line = logLine(containing: "PAM_SILENT; denying", from: receiver)
        #expect(line?.contains("user carol must enroll") == true, "\(line ?? "no log line")")
        let shown = try setup.daemon.ctl(["user", "show", "carol", "--json"])
        #expect(shown.standardOutput.contains("\"twoFactor\":\"pending\""), "\(shown.standardOutput)")

        let loud = try service.authenticate(
            "carol",
            input: "pw-carol\(try OathTool.code(secret: secret, at: unixNow()))\n"
        )
        #expect(loud.authenticated, "\(loud.standardError)\n\(setup.daemon.log())")
        #expect(loud.standardOutput.contains("Recovery codes: each works once"), "\(loud.standardOutput)")
    }

    /// Under PAM_SILENT the module sends the password before the code; an account with two-factor on still logs in
    /// with one answer, and a wrong code is still refused.
    @Test func module_silent_passwordAndCode_stillLogIn() throws {
        let setup = try Setup()
        let service = try setup.service("single_prompt")
        let wrong = try service.authenticate(
            "alice",
            input: "pw-alice\(try setup.code(ahead: 5))\n",
            flags: "PAM_SILENT"
        )
        #expect(!wrong.authenticated)
        let right = try service.authenticate("alice", input: "pw-alice\(try setup.code())\n", flags: "PAM_SILENT")
        #expect(right.authenticated, "\(right.standardError)\n\(setup.daemon.log())")
        #expect(!right.standardError.contains("Verification code: "), "\(right.standardError)")
    }

    /// Has a login offer `user` its enrollment (`twofactor helper`, as `twofactor login` would show it), and returns
    /// the offered secret.
    static func offerEnrollment(_ user: String, password: String, through daemon: DaemonProcess) throws -> String {
        let offered = try daemon.helper(input: #"{"op":"login","user":"\#(user)","password":"\#(password)"}"# + "\n")
        let answer = try JSONSerialization.jsonObject(with: Data(offered.standardOutput.utf8)) as? [String: Any]
        let uri = try #require(answer?["otpauthURI"] as? String, "\(offered.standardOutput)")
        return try #require(secretParameter(ofURI: uri))
    }
}
