import Foundation
import Testing
import TestSupport

/// The stories of the service twofactord replaces, walked end to end with the real binaries.
@Suite struct ProductStoriesTests {
    /// An admin forces 2FA on an agent; the agent scans the QR code at its next login; the agent cannot
    /// turn it off; the admin can.
    @Test func adminForcesTwoFactor_agentEnrollsAtLogin_cannotDisable_adminCan() throws {
        let org = try OrganizationFixture()
        #expect(try org.ctl(["2fa", "force", "ann"], as: "amy").status == 0)
        #expect(try org.state("ann") == "pending")

        // The password alone no longer logs in: the client shows the QR code and asks for the first code.
        let (login, scanned) = try org.loginEnrolling("ann")
        #expect(login.status == 0, "\(login.standardError)")
        #expect(login.standardError.contains("Recovery codes"), "\(login.standardError)")
        let secret = try #require(scanned)
        #expect(try org.state("ann") == "on/enforced")

        let step = unixNow() / 30
        let code = try OathTool.code(secret: secret, at: (step + 1) * 30)
        let refused = try org.ctl(["2fa", "disable", "ann"], as: "ann", code: code)
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("ask them to turn it off"), "\(refused.standardError)")
        #expect(try org.state("ann") == "on/enforced")

        #expect(try org.ctl(["2fa", "disable", "ann"], as: "amy").status == 0)
        #expect(try org.state("ann") == "off")
        #expect(try org.daemon.login("ann", password: org.password("ann")).status == 0)
    }

    /// An agent enables 2FA alone and turns it off with the password (and a code).
    @Test func agentEnablesTwoFactorAlone_andTurnsItOff() throws {
        let org = try OrganizationFixture()
        let (secret, step, _) = try org.enable("bob")
        #expect(try org.state("bob") == "on/self")
        #expect(try org.daemon.login("bob", password: org.password("bob")).status == 1, "a code is needed now")
        let code = try org.nextCode(secret, after: step)
        #expect(try org.ctl(["2fa", "disable", "bob"], as: "bob", code: code).status == 0)
        #expect(try org.state("bob") == "off")
        #expect(try org.daemon.login("bob", password: org.password("bob")).status == 0)
        let trail = try org.audit(as: "bob")
        #expect(trail.contains { $0["action"] as? String == "disable" && $0["outcome"] as? String == "ok" })
    }

    /// An admin loses the phone and the recovery codes; the operator resets it; the admin enrolls again.
    @Test func adminLosesThePhone_operatorRecoversTheAccount() throws {
        let org = try OrganizationFixture()
        _ = try org.enable("amy")
        #expect(try org.daemon.login("amy", password: org.password("amy")).status == 1)
        // Without an authenticator the admin cannot act, not even on its own agents.
        let stuck = try org.ctl(["2fa", "force", "ann"], as: "amy", code: "000000")
        #expect(stuck.status == 1)

        #expect(try org.daemon.ctl(["2fa", "reset", "amy"]).status == 0)
        #expect(try org.state("amy") == "pending")
        let (login, _) = try org.loginEnrolling("amy")
        #expect(login.status == 0, "\(login.standardError)")
        #expect(try org.state("amy") == "on/enforced")
        let trail = try org.audit(["amy"])
        #expect(
            trail.contains { $0["action"] as? String == "reset" && ($0["actor"] as? [String: Any])?["operator"] != nil }
        )
    }

    /// An organization that requires 2FA: its members without it are asked at their next login.
    @Test func organizationRequiresTwoFactor_membersEnrollAtNextLogin() throws {
        let org = try OrganizationFixture()
        #expect(try org.daemon.ctl(["org", "set", "acme", "--require-2fa"]).status == 0)
        #expect(try org.state("bob") == "pending")
        #expect(try org.state("olga") == "off")
        let shown = try org.daemon.ctl(["org", "show", "acme"]).standardOutput
        #expect(shown.contains("2fa required: yes") && shown.contains("members:      3"), "\(shown)")
        let (login, _) = try org.loginEnrolling("bob")
        #expect(login.status == 0, "\(login.standardError)")
        #expect(try org.state("bob") == "on/enforced")
        let removal = try org.daemon.ctl(["org", "remove", "acme"])
        #expect(removal.status == 1)
        #expect(removal.standardError.contains("still has 3 account(s)"), "\(removal.standardError)")
    }
}
