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
}
