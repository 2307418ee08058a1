import Foundation
import Testing
import TestSupport

/// The enrollment a pending account's login offers (the otpauth URI behind its QR code) is kept, and offered again
/// to the next login while it lasts (`--enrollment-lifetime`), so that one scan is enough. It is shown to whoever
/// has the password: after a password change, whoever had the old one must not hold the secret of the
/// authenticator the account's owner then enrolls.
@Suite struct EnrollmentOfferTests {
    @Test func anOfferShownBeforeAPasswordChange_isNotOfferedAgain_andItsCodesFinishNothing() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        let added = try daemon.ctl(
            ["user", "add", "erin", "--require-2fa", "--password-stdin"],
            input: "pw-erin-old-secret\n"
        )
        #expect(added.status == 0, "\(added.standardError)")

        // Someone with the old password logs in, as the local user nobody, and keeps the secret shown.
        let stolen = try daemon.login("erin", password: "pw-erin-old-secret", uid: 65534)
        let stolenURI = try #require(line(after: "URI: ", in: stolen.standardError), "\(stolen.standardError)")
        let stolenSecret = try #require(secretParameter(ofURI: stolenURI))

        let changed = try daemon.ctl(["user", "passwd", "erin", "--password-stdin"], input: "pw-erin-new-secret\n")
        #expect(changed.status == 0, "\(changed.standardError)")

        // The owner, with the new password, is shown a secret of its own.
        let owner = try daemon.login("erin", password: "pw-erin-new-secret")
        let ownerURI = try #require(line(after: "URI: ", in: owner.standardError), "\(owner.standardError)")
        let ownerSecret = try #require(secretParameter(ofURI: ownerURI))
        #expect(ownerSecret != stolenSecret, "the enrollment shown with the old password was offered again")

        // A code of the old offer finishes no enrollment, even with the new password.
        let code = try OathTool.code(secret: stolenSecret, at: unixNow())
        let finished = try daemon.login("erin", password: "pw-erin-new-secret", code: code)
        #expect(finished.status != 0, "\(finished.standardError)")
        let shown = try daemon.ctl(["user", "show", "erin", "--json"]).standardOutput
        #expect(shown.contains("\"twoFactor\":\"pending\""), "\(shown)")
    }

    /// `2fa add --begin` keeps the authenticator being added the same way, for the session that confirms it.
    @Test func anAuthenticatorBeingAddedBeforeAPasswordChange_isNotOfferedAgain() throws {
        let daemon = try DaemonProcess()
        try daemon.start()
        _ = try daemon.enrolledAccount("amy", password: "pw-amy-old-secret")
        let secretOfferedBy = { (step: String) throws -> String in
            let begun = try daemon.ctl(["2fa", "add", "amy", "--label", "phone", "--begin"])
            let uri = begun.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            return try #require(secretParameter(ofURI: uri), "\(step): \(begun.standardError)")
        }
        let before = try secretOfferedBy("before")
        #expect(try secretOfferedBy("again") == before, "a live offer is offered again while nothing changed")

        let changed = try daemon.ctl(["user", "passwd", "amy", "--password-stdin"], input: "pw-amy-new-secret\n")
        #expect(changed.status == 0, "\(changed.standardError)")
        #expect(try secretOfferedBy("after") != before, "the authenticator offered under the old password was kept")
    }
}
