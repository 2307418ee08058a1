import Foundation
import Testing
import TestSupport

/// Several authenticators, clock drift and resync (issue 11, items 2 and 3) through the real daemon,
/// twofactorctl, twofactor and PAM. Every account uses a period of 3600 s, so "one step ahead" is an
/// hour ahead and no test waits for a TOTP window; codes come from oathtool.
@Suite struct AuthenticatorIntegrationTests {
    static let period = 3600

    /// A daemon with `amy` enrolled (label `default`) and, when `phone`, a second authenticator added
    /// through `2fa add --begin` / `--confirm -`.
    struct Setup {
        let daemon: DaemonProcess
        let first: String
        var phone: String?
        let step: Int64

        init(phone withPhone: Bool = true, daemonArguments: [String] = []) throws {
            daemon = try DaemonProcess()
            try daemon.start(extraArguments: daemonArguments)
            (first, step) = try daemon.enrolledAccount("amy", password: "pw-amy-secret", period: period)
            if withPhone {
                let begun = try daemon.ctl([
                    "2fa", "add", "amy", "--label", "phone", "--begin", "--period", "\(period)",
                ])
                let uri = begun.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
                guard begun.status == 0, let secret = secretParameter(ofURI: uri) else {
                    throw Failure("2fa add --begin: \(begun.standardError)")
                }
                // Confirmed with the code of the step before, so that this step's code and the next are fresh.
                let code = try OathTool.code(secret: secret, at: (step - 1) * Int64(period), period: period)
                let confirmed = try daemon.ctl(
                    ["2fa", "add", "amy", "--label", "phone", "--confirm", "-"],
                    input: code + "\n"
                )
                guard confirmed.status == 0 else { throw Failure("2fa add --confirm: \(confirmed.standardError)") }
                phone = secret
            }
        }

        /// The code of `secret` `ahead` steps after the enrolling one.
        func code(_ secret: String, ahead: Int64) throws -> String {
            try OathTool.code(secret: secret, at: (step + ahead) * Int64(period), period: period)
        }

        func login(_ code: String) throws -> Bool {
            try daemon.login("amy", password: "pw-amy-secret", code: code).status == 0
        }
    }

    /// `2fa add` takes the options of `2fa enroll` (twofactorctl(8)), `--qr-image` among them: the new
    /// authenticator's QR code goes to a new file only its owner may read, and zbarimg scans it back to the URI.
    @Test func add_qrImage_isWrittenAndScansToTheURI() throws {
        let setup = try Setup(phone: false)
        let image = setup.daemon.directory.appendingPathComponent("phone.png").path
        let begun = try setup.daemon.ctl(["2fa", "add", "amy", "--label", "phone", "--begin", "--qr-image", image])
        #expect(begun.status == 0, "\(begun.standardError)")
        let uri = begun.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        var status = stat()
        guard stat(image, &status) == 0 else {
            Issue.record("no QR code written to \(image)")
            return
        }
        #expect(status.st_mode & 0o777 == 0o600)
        let decoded = try run(URL(fileURLWithPath: "/usr/bin/zbarimg"), ["--raw", "-q", image])
        #expect(decoded.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == uri, "\(decoded)")
    }

    /// The QR-code dialogue of `2fa add` asks again after a mistyped code, as `2fa enroll` does.
    @Test func add_aWrongCode_asksAgain_andTheRightOneAddsIt() throws {
        let setup = try Setup(phone: false)
        let added = try runQRCodeDialogue(
            ["2fa", "add", "amy", "--label", "tablet", "--socket", setup.daemon.socketPath]
        ) { secret in
            [try wrongCode(for: secret), try OathTool.code(secret: secret, at: unixNow())]
        }
        #expect(added.status == 0, "\(added.standardError)")
        #expect(added.standardError.contains("the code is wrong"), "\(added.standardError)")
        #expect(added.standardOutput.contains("Authenticator 'tablet' added to 'amy'."), "\(added.standardOutput)")
    }

    @Test func twoAuthenticators_bothLogIn_neitherReplays_andRemoveStopsOne() throws {
        let setup = try Setup()
        let phone = try #require(setup.phone)
        let phoneCode = try setup.code(phone, ahead: 0)
        #expect(try setup.login(phoneCode), "\(setup.daemon.log())")
        #expect(try !setup.login(phoneCode))

        let listed = try setup.daemon.ctl(["2fa", "list", "amy", "--json"])
        #expect(listed.status == 0, "\(listed.standardError)")
        #expect(listed.standardOutput.contains("\"label\":\"default\""), "\(listed.standardOutput)")
        #expect(listed.standardOutput.contains("\"label\":\"phone\""))
        #expect(!listed.standardOutput.contains(phone) && !listed.standardOutput.contains(setup.first))
        let shown = try setup.daemon.ctl(["user", "show", "amy"])
        #expect(shown.standardOutput.contains("authenticator:  phone, enrolled "), "\(shown.standardOutput)")
        #expect(!shown.standardOutput.contains(phone))

        let removed = try setup.daemon.ctl(["2fa", "remove", "amy", "--label", "phone"])
        #expect(removed.status == 0, "\(removed.standardError)")
        // The phone's next code would have been accepted; the first authenticator's still is, once.
        #expect(try !setup.login(try setup.code(phone, ahead: 1)))
        let firstCode = try setup.code(setup.first, ahead: 1)
        #expect(try setup.login(firstCode), "\(setup.daemon.log())")
        #expect(try !setup.login(firstCode))
        let audit = try setup.daemon.ctl(["audit", "amy"]).standardOutput
        #expect(audit.contains("authenticator-add") && audit.contains("authenticator-remove"), "\(audit)")
    }

    @Test func removingTheLastAuthenticator_ofAnEnforcedAccount_isRefusedToItself() throws {
        let setup = try Setup(phone: false)
        // Enrolled by an operator: enforced. The account itself cannot drop its only authenticator.
        let refused = try setup.daemon.ctl(
            ["2fa", "remove", "--as", "amy", "--password-stdin", "--code", "-", "--label", "default"],
            input: "pw-amy-secret\n\(try setup.code(setup.first, ahead: 1))\n"
        )
        #expect(refused.status == 1, "\(refused.standardOutput)\(refused.standardError)")
        #expect(refused.standardError.contains("ask them to turn it off"), "\(refused.standardError)")
        let operatorRemoves = try setup.daemon.ctl(["2fa", "remove", "amy", "--label", "default"])
        #expect(operatorRemoves.status == 0, "\(operatorRemoves.standardError)")
        #expect(
            try setup.daemon.ctl(["user", "show", "amy", "--json"]).standardOutput.contains("\"twoFactor\":\"off\"")
        )
    }

    /// The drift moves only to an offset two accepted codes in a row measured, so this account's steps are
    /// 1 s (the others' an hour): each login waits for the start of a new step, at most a second.
    @Test func drift_withinTheBound_isFollowed_beyondItRefused() throws {
        let daemon = try DaemonProcess()
        try daemon.start(extraArguments: ["--max-drift-steps", "1"])
        let (secret, _) = try daemon.enrolledAccount("amy", password: "pw-amy-secret", period: 1)
        /// Logs in at the start of the next step with the code `ahead` steps after it; again at the next
        /// one when the step changed before the daemon answered (it measured another offset then).
        func login(ahead: Int64) throws -> Bool {
            for _ in 0..<10 {
                let now = Date().timeIntervalSince1970
                usleep(useconds_t((now.rounded(.down) + 1 - now) * 1_000_000) + 5_000)
                let step = Int64(Date().timeIntervalSince1970)
                let code = try OathTool.code(secret: secret, at: step + ahead, period: 1)
                let accepted = try daemon.login("amy", password: "pw-amy-secret", code: code).status == 0
                if Int64(Date().timeIntervalSince1970) == step { return accepted }
            }
            throw Failure("ten logins in a row took longer than the rest of their 1 s step")
        }
        // Two steps ahead is outside the window until the drift has been learned, and a refusal teaches nothing.
        #expect(try !login(ahead: 2))
        // One step ahead twice in a row: the window moves a step ahead.
        #expect(try login(ahead: 1), "\(daemon.log())")
        #expect(try login(ahead: 1), "\(daemon.log())")
        #expect(try login(ahead: 2), "\(daemon.log())")
        // The bound is 1: the window stays one step ahead, so three ahead is out.
        #expect(try !login(ahead: 3))
        let listed = try daemon.ctl(["2fa", "list", "amy", "--json"]).standardOutput
        #expect(listed.contains("\"drift\":1"), "\(listed)")
    }

    @Test func resync_needsTwoConsecutiveCodes_andBurnsThem() throws {
        let setup = try Setup(phone: false)
        let code = { (ahead: Int64) in try setup.code(setup.first, ahead: ahead) }
        let apart = try setup.daemon.ctl(
            ["2fa", "resync", "amy", "--label", "default"],
            input: "\(try code(5))\n\(try code(7))\n"
        )
        #expect(apart.status == 1)
        #expect(apart.standardError.contains("not consecutive"), "\(apart.standardError)")
        let resynced = try setup.daemon.ctl(
            ["2fa", "resync", "amy", "--label", "default"],
            input: "\(try code(5))\n\(try code(6))\n"
        )
        #expect(resynced.status == 0, "\(resynced.standardError)")
        #expect(try !setup.login(try code(6)))
        #expect(try setup.login(try code(7)), "\(setup.daemon.log())")
        // The same pair again is a replay.
        let again = try setup.daemon.ctl(
            ["2fa", "resync", "amy", "--label", "default"],
            input: "\(try code(5))\n\(try code(6))\n"
        )
        #expect(again.status == 1)
        let audit = try setup.daemon.ctl(["audit", "amy"]).standardOutput
        #expect(audit.contains("resync"), "\(audit)")
    }

    @Test(.enabled(if: runningAsRoot, notRootMessage))
    func pam_acceptsTheSecondAuthenticator_once() throws {
        let setup = try Setup()
        let phone = try #require(setup.phone)
        let module = try PAMModule.copy(into: setup.daemon.directory)
        let service = try PAMService(["auth required \(module) socket=\(setup.daemon.socketPath)"])
        let code = try setup.code(phone, ahead: 1)
        let result = try service.authenticate("amy", input: "pw-amy-secret\n\(code)\n")
        #expect(result.authenticated, "\(result.standardError)\n\(setup.daemon.log())")
        #expect(try !service.authenticate("amy", input: "pw-amy-secret\n\(code)\n").authenticated)
        // The first authenticator's code for the same step is its own, unused one.
        #expect(
            try service.authenticate("amy", input: "pw-amy-secret\n\(try setup.code(setup.first, ahead: 1))\n")
                .authenticated
        )
    }
}
