import Foundation
import Testing
import TestSupport
import Wire

/// Every cell of docs/product.md "Who may do what", allowed and refused, through the real daemon,
/// `twofactorctl` and `twofactor`. The operator is this test process (root, or the daemon's own user).
@Suite struct WhoMayDoWhatTests {
    // MARK: enroll (scan QR, confirm code) -> on/self: the account itself only

    @Test func enroll_byTheAccountItself_withItsPassword_isOnSelf() throws {
        let org = try OrganizationFixture()
        let (_, _, codes) = try org.enable("ann")
        #expect(try org.state("ann") == "on/self")
        #expect(codes.count == 10)
        #expect(try org.show("ann")["recoveryCodes"] as? Int == 10)
    }

    @Test func enroll_withAWrongPassword_isRefused_andChangesNothing() throws {
        let org = try OrganizationFixture()
        // Without a code a wrong password is asked for one, like a right one: the denial comes after it.
        let result = try org.daemon.ctl(
            ["2fa", "enable", "--begin", "--as", "ann", "--password-stdin", "--code", "-"],
            input: "not-her-password\n000000\n"
        )
        #expect(result.status == 1)
        #expect(result.standardError.contains("the password or code for 'ann' is wrong"), "\(result.standardError)")
        #expect(try org.state("ann") == "off")
    }

    @Test func enroll_byTheAdmin_isRefused() throws {
        let org = try OrganizationFixture()
        let result = try org.ctl(["2fa", "enroll", "ann", "--begin"], as: "amy")
        #expect(result.status == 1)
        #expect(result.standardError.contains("only 'ann' can enroll"), "\(result.standardError)")
        #expect(try org.state("ann") == "off")
    }

    /// The operator's cell is "-": an operator may provision an authenticator for an account, but that is 2FA the
    /// account did not choose, so it is `on`/`enforced`, never `self`, and the account cannot turn it off alone.
    @Test func enroll_byAnOperator_isNeverSelf_theAccountCannotDisableItAlone() throws {
        let org = try OrganizationFixture()
        let begun = try org.daemon.ctl(["2fa", "enroll", "ann", "--begin", "--period", "3600"])
        let uri = begun.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let secret = try #require(secretParameter(ofURI: uri), "\(begun.standardError)")
        let now = unixNow()
        let code = try OathTool.code(secret: secret, at: now, period: 3600)
        let confirmed = try org.daemon.ctl(["2fa", "enroll", "ann", "--confirm", "-"], input: code + "\n")
        #expect(confirmed.status == 0, "\(confirmed.standardError)")
        #expect(try org.state("ann") == "on/enforced")

        let disabled = try org.ctl(
            ["2fa", "disable", "ann"],
            as: "ann",
            code: try org.nextCode(secret, after: now / 3600)
        )
        #expect(disabled.status == 1)
        #expect(disabled.standardError.contains("ask them to turn it off"), "\(disabled.standardError)")
        #expect(try org.state("ann") == "on/enforced")
    }

    // MARK: create an account, optionally with 2FA required

    @Test func create_byTheAdmin_inItsOrganization_isAllowed() throws {
        let org = try OrganizationFixture()
        let result = try org.ctl(["user", "add", "cid", "--require-2fa"], as: "amy", input: "cid-Passw0rd!\n")
        #expect(result.status == 0, "\(result.standardError)")
        let cid = try org.show("cid")
        #expect(cid["organization"] as? String == "acme")
        #expect(cid["twoFactor"] as? String == "pending")
        #expect((cid["stateSetBy"] as? [String: Any])?["account"] as? String == "amy")
    }

    @Test func create_byTheAdmin_elsewhereOrAsAdmin_isRefused() throws {
        let org = try OrganizationFixture()
        let elsewhere = try org.ctl(["user", "add", "cid", "--org", "other"], as: "amy", input: "cid-Passw0rd!\n")
        #expect(elsewhere.status == 1)
        #expect(elsewhere.standardError.contains("only an admin of 'other'"), "\(elsewhere.standardError)")
        let admin = try org.ctl(["user", "add", "cid", "--role", "admin"], as: "amy", input: "cid-Passw0rd!\n")
        #expect(admin.status == 1)
        #expect(admin.standardError.contains("only an operator can create admins"), "\(admin.standardError)")
        #expect(try org.daemon.ctl(["user", "show", "cid"]).status == 1)
    }

    @Test func create_byAnAgent_isRefused() throws {
        let org = try OrganizationFixture()
        let result = try org.ctl(["user", "add", "cid"], as: "ann", input: "cid-Passw0rd!\n")
        #expect(result.status == 1)
        #expect(try org.daemon.ctl(["user", "show", "cid"]).status == 1)
    }

    @Test func create_byAnOperator_withTwoFactorRequired_isPending_andAnUnknownOrganizationIsAnError() throws {
        let org = try OrganizationFixture()
        let added = try org.daemon.ctl(
            ["user", "add", "cid", "--org", "other", "--require-2fa", "--password-stdin"],
            input: "cid-Passw0rd!\n"
        )
        #expect(added.status == 0, "\(added.standardError)")
        #expect(try org.state("cid") == "pending")
        let unknown = try org.daemon.ctl(
            ["user", "add", "dee", "--org", "nowhere", "--password-stdin"],
            input: "dee-Passw0rd!\n"
        )
        #expect(unknown.status == 1)
        #expect(unknown.standardError.contains("no organization named 'nowhere'"), "\(unknown.standardError)")
    }

    // MARK: force 2FA on (off -> pending; on/self -> on/enforced)

    @Test func force_byTheAdmin_offBecomesPending() throws {
        let org = try OrganizationFixture()
        let result = try org.ctl(["2fa", "force", "ann"], as: "amy")
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try org.state("ann") == "pending")
    }

    @Test func force_byAnOperator_onSelfBecomesEnforced() throws {
        let org = try OrganizationFixture()
        _ = try org.enable("bob")
        #expect(try org.daemon.ctl(["2fa", "force", "bob"]).status == 0)
        #expect(try org.state("bob") == "on/enforced")
        let shown = try org.daemon.ctl(["user", "show", "bob"]).standardOutput
        #expect(shown.contains("only an admin or operator may turn it off"), "\(shown)")
        #expect(shown.contains("2fa set by:     operator (uid"), "\(shown)")
    }

    @Test func force_byAnAgent_orByTheAdminOfAnotherOrganization_isRefused() throws {
        let org = try OrganizationFixture()
        let agent = try org.ctl(["2fa", "force", "bob"], as: "ann")
        #expect(agent.status == 1)
        #expect(
            agent.standardError.contains("an agent may act only on its own account 'ann'"),
            "\(agent.standardError)"
        )
        let outsider = try org.ctl(["2fa", "force", "olga"], as: "amy")
        #expect(outsider.status == 1)
        #expect(outsider.standardError.contains("no such account in your organization 'acme'"))
        let unknown = try org.ctl(["2fa", "force", "ghost"], as: "amy")
        #expect(unknown.standardError == outsider.standardError.replacingOccurrences(of: "olga", with: "ghost"))
        #expect(try org.state("bob") == "off")
        #expect(try org.state("olga") == "off")
    }

    /// "no account named 'ghost'" left the operator with nothing to do next, unlike a missing organization's "create
    /// it with ...". The refusal now names the command that lists the names there are: for an admin the same words
    /// for another organization's account as for a name without one, so that it learns nothing from them.
    @Test func unknownAccount_namesTheListToCheck_andTellsAnAdminNothingOfOtherOrganizations() throws {
        let org = try OrganizationFixture()
        let byOperator = try org.ctl(["2fa", "force", "ghost"])
        #expect(byOperator.status == 1)
        #expect(
            byOperator.standardError.contains(
                "no account named 'ghost': check the name with `twofactorctl user list`, or add the account with "
                    + "`twofactorctl user add ghost`"
            ),
            "\(byOperator.standardError)"
        )
        let outsider = try org.ctl(["2fa", "force", "olga"], as: "amy")
        let unknown = try org.ctl(["2fa", "force", "ghost"], as: "amy")
        #expect(outsider.status == 1 && unknown.status == 1)
        #expect(
            unknown.standardError.contains(
                "no such account in your organization 'acme': check the name with `twofactorctl user list --as amy`"
            ),
            "\(unknown.standardError)"
        )
        #expect(unknown.standardError == outsider.standardError.replacingOccurrences(of: "olga", with: "ghost"))
        #expect(!outsider.standardError.contains("other"), "\(outsider.standardError)")
    }

    /// The account itself: "-", through the daemon as for the admin's cells (AccessPolicyTests has the pure rule).
    @Test func force_byTheAccountItself_isRefused_andChangesNothing() throws {
        let org = try OrganizationFixture()
        let agent = try org.ctl(["2fa", "force", "ann"], as: "ann")
        #expect(agent.status == 1)
        #expect(agent.standardError.contains("an account cannot do this to itself"), "\(agent.standardError)")
        #expect(try org.state("ann") == "off")
        let admin = try org.ctl(["2fa", "force", "amy"], as: "amy")
        #expect(admin.status == 1)
        #expect(admin.standardError.contains("an admin cannot do this to its own account"), "\(admin.standardError)")
        #expect(try org.state("amy") == "off")
    }

    // MARK: disable 2FA when it is self

    @Test func disable_whenSelf_byTheAccountItself_withPasswordAndCode() throws {
        let org = try OrganizationFixture()
        let (secret, step, _) = try org.enable("ann")
        let result = try org.ctl(["2fa", "disable", "ann"], as: "ann", code: try org.nextCode(secret, after: step))
        #expect(result.status == 0, "\(result.standardError)")
        #expect(try org.state("ann") == "off")
    }

    /// `twofactorctl --as ann 2fa enable` needs no name, so neither may the commands an account runs on itself
    /// after it: show, passwd, grace revoke, and 2fa disable with the password and a code.
    @Test func selfServiceCommands_withoutAName_actOnTheAsAccount() throws {
        let org = try OrganizationFixture()
        let (secret, step, recoveryCodes) = try org.enable("ann")
        let shown = try org.ctl(["user", "show", "--json"], as: "ann", code: try org.nextCode(secret, after: step))
        #expect(shown.status == 0, "\(shown.standardError)")
        #expect(shown.standardOutput.contains("\"user\":\"ann\""), "\(shown.standardOutput)")
        // The app's one code of the hour is spent: the next logins use recovery codes.
        let revoked = try org.ctl(["grace", "revoke"], as: "ann", code: recoveryCodes[0])
        #expect(revoked.status == 0, "\(revoked.standardError)")
        let disabled = try org.ctl(["2fa", "disable"], as: "ann", code: recoveryCodes[1])
        #expect(disabled.status == 0, "\(disabled.standardError)")
        #expect(try org.state("ann") == "off")
        let changed = try org.ctl(["user", "passwd"], as: "ann", input: "ann-N3w-Passw0rd!\n")
        #expect(changed.status == 0, "\(changed.standardError)")
        #expect(changed.standardOutput.contains("'ann'"), "\(changed.standardOutput)")
        // Without --as there is no account to fall back on: a usage error naming both ways out.
        let nameless = try org.daemon.ctl(["2fa", "disable"])
        #expect(nameless.status == 64)
        #expect(
            nameless.standardError.contains("name the account, or act as it with --as"),
            "\(nameless.standardError)"
        )
    }

    @Test func disable_whenSelf_withAWrongCode_isRefused() throws {
        let org = try OrganizationFixture()
        let (secret, step, _) = try org.enable("ann")
        let stale = try OathTool.code(secret: secret, at: step * 3600, period: 3600)
        let result = try org.ctl(["2fa", "disable", "ann"], as: "ann", code: stale)
        #expect(result.status == 1)
        #expect(result.standardError.contains("the password or code for 'ann' is wrong"))
        #expect(try org.state("ann") == "on/self")
    }

    @Test func disable_whenSelf_byTheAdminAndByAnOperator() throws {
        let org = try OrganizationFixture()
        _ = try org.enable("ann")
        _ = try org.enable("olga")
        #expect(try org.ctl(["2fa", "disable", "ann"], as: "amy").status == 0)
        #expect(try org.state("ann") == "off")
        #expect(try org.daemon.ctl(["2fa", "disable", "olga"]).status == 0)
        #expect(try org.state("olga") == "off")
    }

    // MARK: disable 2FA when it is enforced or pending

    @Test func disable_whenEnforced_byTheAccountItself_isRefused_sayingToAskTheAdmin() throws {
        let org = try OrganizationFixture()
        let (secret, step, _) = try org.enable("ann")
        #expect(try org.ctl(["2fa", "force", "ann"], as: "amy").status == 0)
        let result = try org.ctl(["2fa", "disable", "ann"], as: "ann", code: try org.nextCode(secret, after: step))
        #expect(result.status == 1)
        #expect(
            result.standardError.contains("two-factor on 'ann' was required by an admin of 'acme'"),
            "\(result.standardError)"
        )
        #expect(result.standardError.contains("ask them to turn it off"))
        #expect(try org.state("ann") == "on/enforced")
    }

    @Test func disable_whenPending_byTheAccountItself_isRefused() throws {
        let org = try OrganizationFixture()
        #expect(try org.ctl(["2fa", "force", "ann"], as: "amy").status == 0)
        let result = try org.ctl(["2fa", "disable", "ann"], as: "ann")
        #expect(result.status == 1)
        #expect(result.standardError.contains("only an admin or operator can lift"), "\(result.standardError)")
        #expect(try org.state("ann") == "pending")
    }

    @Test func disable_whenEnforcedOrPending_byTheAdminAndByAnOperator() throws {
        let org = try OrganizationFixture()
        #expect(try org.ctl(["2fa", "force", "ann"], as: "amy").status == 0)
        #expect(try org.ctl(["2fa", "disable", "ann"], as: "amy").status == 0)
        #expect(try org.state("ann") == "off")
        _ = try org.enable("bob")
        #expect(try org.daemon.ctl(["2fa", "force", "bob"]).status == 0)
        #expect(try org.daemon.ctl(["2fa", "disable", "bob"]).status == 0)
        #expect(try org.state("bob") == "off")
    }

    // MARK: disable 2FA in an organization that requires it: never back to the password alone

    /// Security review of 2026-12-07, hole A: with `org set --require-2fa` (which moves only `off` members to
    /// `pending`), a member enrolled on its own turned 2FA off and logged in with its password alone. Now the
    /// member is refused, saying to ask its admin; the admin's disable leaves it `pending`, and says so; its next
    /// login enrolls, and no `twofactor login` with the password alone gets in. On both stores.
    @Test(arguments: [false, true])
    func disable_inAnOrganizationRequiringTwoFactor_neverLeavesAPasswordOnlyLogin(postgresql: Bool) throws {
        let org = try OrganizationFixture(postgresql: postgresql)
        let (secret, step, _) = try org.enable("ann")
        let (amySecret, amyStep, _) = try org.enable("amy")
        _ = try org.enable("bob")
        let required = try org.ctl(["org", "set", "acme", "--require-2fa"])
        #expect(required.status == 0, "\(required.standardError)")
        #expect(try org.state("ann") == "on/self", "the requirement moves only off members")

        let itself = try org.ctl(["2fa", "disable", "ann"], as: "ann", code: try org.nextCode(secret, after: step))
        #expect(itself.status == 1)
        #expect(
            itself.standardError.contains("'acme' requires two-factor authentication of its members"),
            "\(itself.standardError)"
        )
        #expect(itself.standardError.contains("ask an admin of 'acme' or an operator"), "\(itself.standardError)")
        #expect(try org.state("ann") == "on/self")
        let passwordOnly = try org.daemon.login("ann", password: org.password("ann"))
        #expect(passwordOnly.status != 0, "ann logged in with the password alone:\n\(passwordOnly.standardOutput)")

        let byAdmin = try org.ctl(
            ["2fa", "disable", "ann"],
            as: "amy",
            code: try org.nextCode(amySecret, after: amyStep)
        )
        #expect(byAdmin.status == 0, "\(byAdmin.standardError)")
        #expect(byAdmin.standardOutput.contains("'ann' is pending"), "\(byAdmin.standardOutput)")
        #expect(try org.state("ann") == "pending")
        let afterAdmin = try org.daemon.login("ann", password: org.password("ann"))
        #expect(afterAdmin.status != 0, "ann logged in with the password alone:\n\(afterAdmin.standardOutput)")

        // The operator's removal of bob's last authenticator leaves bob pending too (JSON says so).
        let removed = try org.daemon.ctl(["2fa", "remove", "bob", "--label", "default", "--json"])
        #expect(removed.status == 0, "\(removed.standardError)")
        #expect(removed.standardOutput.contains("\"twoFactor\""), "\(removed.standardOutput)")
        #expect(removed.standardOutput.contains("\"pending\""), "\(removed.standardOutput)")
        #expect(try org.state("bob") == "pending")
        #expect(try org.daemon.login("bob", password: org.password("bob")).status != 0)

        // ann's next login shows the QR code, and the first code finishes the enrollment: required, so enforced.
        let (enrolled, _) = try org.loginEnrolling("ann")
        #expect(enrolled.status == 0, "\(enrolled.standardError)")
        #expect(try org.state("ann") == "on/enforced")
    }

    // MARK: reset (discard the secret; re-enroll at next login)

    @Test func reset_byTheAdminAndByAnOperator_thenTheNextLoginEnrolls() throws {
        let org = try OrganizationFixture()
        _ = try org.enable("ann")
        #expect(try org.ctl(["2fa", "reset", "ann"], as: "amy").status == 0)
        #expect(try org.state("ann") == "pending")
        #expect(try org.show("ann")["recoveryCodes"] as? Int == 0)
        let (login, secret) = try org.loginEnrolling("ann")
        #expect(login.status == 0, "\(login.standardError)")
        #expect(secret != nil)
        #expect(try org.state("ann") == "on/enforced")
        #expect(try org.daemon.ctl(["2fa", "reset", "ann"]).status == 0)
        #expect(try org.state("ann") == "pending")
    }

    @Test func reset_byTheAccountItself_isRefused() throws {
        let org = try OrganizationFixture()
        let (secret, step, _) = try org.enable("ann")
        let result = try org.ctl(["2fa", "reset", "ann"], as: "ann", code: try org.nextCode(secret, after: step))
        #expect(result.status == 1)
        #expect(result.standardError.contains("cannot do this to itself"), "\(result.standardError)")
        #expect(try org.state("ann") == "on/self")
    }

    // MARK: recover an admin who lost the authenticator

    @Test func recover_byTheAdminItself_withARecoveryCode_once() throws {
        let org = try OrganizationFixture()
        let (_, _, codes) = try org.enable("amy")
        let first = try org.daemon.login("amy", password: org.password("amy"), code: codes[0])
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.standardError.contains("9 remain"), "\(first.standardError)")
        let again = try org.daemon.login("amy", password: org.password("amy"), code: codes[0])
        #expect(again.status == 1)
        #expect(try org.show("amy")["recoveryCodes"] as? Int == 9)
        // A step-up that ends before its login, for want of the new password it reads first, spends no code.
        let noPassword = try org.ctl(["user", "passwd", "ann"], as: "amy", code: codes[1])
        #expect(noPassword.status == 64, "\(noPassword.standardError)")
        #expect(try org.show("amy")["recoveryCodes"] as? Int == 9)
        // With a recovery code the admin can also act: it replaces its codes.
        let renewed = try org.ctl(["2fa", "recovery-codes", "--json"], as: "amy", code: codes[1])
        #expect(renewed.status == 0, "\(renewed.standardError)")
        #expect(try org.show("amy")["recoveryCodes"] as? Int == 10)
        #expect(try org.daemon.login("amy", password: org.password("amy"), code: codes[2]).status == 1)
    }

    @Test func recover_anAdmin_byAnOperator_butNotByAnotherAdminOrItsAgents() throws {
        let org = try OrganizationFixture()
        _ = try org.enable("amy")
        let agent = try org.ctl(["2fa", "reset", "amy"], as: "ann")
        #expect(agent.status == 1)
        // Another admin: of another organization, and none in amy's own, which has one admin.
        try org.add("oz", organization: "other", role: "admin")
        let otherAdmin = try org.ctl(["2fa", "reset", "amy"], as: "oz")
        #expect(otherAdmin.status == 1)
        let secondAdmin = try org.daemon.ctl(
            ["user", "add", "amos", "--org", "acme", "--role", "admin", "--password-stdin"],
            input: "amos-Passw0rd!\n"
        )
        #expect(secondAdmin.status == 1)
        #expect(
            secondAdmin.standardError.contains("'acme' already has an admin, 'amy'"),
            "\(secondAdmin.standardError)"
        )
        #expect(try org.daemon.ctl(["user", "show", "amos"]).status != 0)
        #expect(try org.state("amy") == "on/self")
        #expect(try org.daemon.ctl(["2fa", "reset", "amy"]).status == 0)
        let (login, _) = try org.loginEnrolling("amy")
        #expect(login.status == 0, "\(login.standardError)")
        #expect(login.standardError.contains("Logged in as 'amy'."), "\(login.standardError)")
        #expect(try org.state("amy") == "on/enforced")
    }

    // MARK: unlock after too many failures

    @Test func unlock_byTheAdminAndByAnOperator_butNotByAnAgent() throws {
        let org = try OrganizationFixture()
        for _ in 0..<5 { _ = try org.daemon.login("bob", password: "wrong-guess") }
        #expect(try org.daemon.login("bob", password: org.password("bob")).status == 2)
        #expect(try org.show("bob")["lockedUntil"] is Int)
        let agent = try org.ctl(["unlock", "bob"], as: "ann")
        #expect(agent.status == 1)
        #expect(try org.daemon.login("bob", password: org.password("bob")).status == 2)
        #expect(try org.ctl(["unlock", "bob"], as: "amy").status == 0)
        #expect(try org.show("bob")["lockedUntil"] is NSNull)
        #expect(try org.daemon.login("bob", password: org.password("bob")).status == 0)
        for _ in 0..<5 { _ = try org.daemon.login("olga", password: "wrong-guess") }
        #expect(try org.daemon.ctl(["unlock", "olga"]).status == 0)
        #expect(try org.daemon.login("olga", password: org.password("olga")).status == 0)
    }

    /// The account itself: "-". Its own login clears its failures anyway; an unlock of its own is refused.
    @Test func unlock_byTheAccountItself_isRefused() throws {
        let org = try OrganizationFixture()
        let result = try org.ctl(["unlock", "bob"], as: "bob")
        #expect(result.status == 1)
        #expect(result.standardError.contains("an account cannot do this to itself"), "\(result.standardError)")
    }

    // MARK: --as with a wrong password: the daemon asks for a code (no password oracle), and none comes

    @Test func asAnAccount_withAWrongPasswordAndNoCode_isRefused_sayingACodeIsNeeded() throws {
        let org = try OrganizationFixture()
        let wrong = try org.daemon.ctl(
            ["--as", "bob", "--password-stdin", "user", "show", "bob"],
            input: "not-bobs-password\n"
        )
        #expect(wrong.status == 1)
        #expect(wrong.standardError.contains("'bob' needs a code, and none was given: nothing was done"))
        #expect(try org.daemon.login("bob", password: org.password("bob")).status == 0)
    }

    // MARK: see status: own, own organization, all

    @Test func status_ownForAnAgent_organizationForAnAdmin_allForAnOperator() throws {
        let org = try OrganizationFixture()
        #expect(try org.ctl(["user", "show", "ann"], as: "ann").status == 0)
        #expect(try org.ctl(["user", "show", "bob"], as: "ann").status == 1)
        #expect(try org.ctl(["user", "list"], as: "ann").status == 1)
        #expect(try org.ctl(["user", "show", "bob"], as: "amy").status == 0)
        #expect(try org.ctl(["user", "show", "olga"], as: "amy").status == 1)
        let listed = try org.ctl(["user", "list", "--json"], as: "amy")
        let names = try (JSONSerialization.jsonObject(with: Data(listed.standardOutput.utf8)) as? [[String: Any]])?
            .compactMap { $0["user"] as? String }
        #expect(names == ["amy", "ann", "bob"])
        #expect(try org.ctl(["user", "list", "--org", "other"], as: "amy").status == 1)
        let all = try org.daemon.ctl(["user", "list"]).standardOutput
        #expect(all.contains("olga") && all.contains("amy"))
        let shown = try org.ctl(["user", "show", "ann"], as: "ann").standardOutput
        for field in ["organization:   acme", "role:           agent", "2fa:            off", "last login:"] {
            #expect(shown.contains(field), "\(field) in \(shown)")
        }
    }

    // MARK: read the audit trail: own, own organization, all

    @Test func audit_ownForAnAgent_organizationForAnAdmin_allForAnOperator() throws {
        let org = try OrganizationFixture()
        _ = try org.enable("ann")
        _ = try org.ctl(["2fa", "force", "olga"], as: "amy")  // refused, and recorded
        _ = try org.daemon.login("olga", password: org.password("olga"))
        let own = try org.audit(as: "bob")
        #expect(own.allSatisfy { $0["target"] as? String == "bob" })
        let organization = try org.audit(as: "amy")
        #expect(!organization.isEmpty && organization.allSatisfy { $0["organization"] as? String == "acme" })
        // The detail names the state as docs/product.md does, not as Swift prints the enum.
        #expect(
            organization.contains {
                $0["action"] as? String == "enable" && $0["target"] as? String == "ann"
                    && $0["detail"] as? String == "on/self"
            },
            "\(organization)"
        )
        let all = try org.audit()
        #expect(all.contains { $0["target"] as? String == "olga" && $0["action"] as? String == "login" })
        #expect(
            all.contains {
                $0["action"] as? String == "force" && $0["outcome"] as? String == "refused"
                    && ($0["actor"] as? [String: Any])?["account"] as? String == "amy"
            }
        )
        let since = try org.audit(["--since", "\(unixNow() + 3600)"])
        #expect(since.isEmpty)
        let text = try org.daemon.ctl(["audit", "ann"]).standardOutput
        #expect(!text.contains(org.password("ann")))
    }

    /// An organization removed and made again under its name is a new organization: its admin reads none of the
    /// earlier organization's records, neither in the organization's trail nor under a name both had an account of.
    @Test func audit_ofAReusedOrganizationName_showsItsNewAdminNoRecordOfTheEarlierOrganization() throws {
        let org = try OrganizationFixture()
        _ = try org.daemon.login("olga", password: org.password("olga"))
        for step in [["user", "remove", "olga"], ["org", "remove", "other"]] {
            let done = try org.ctl(step)
            try #require(done.status == 0, "\(step): \(done.standardError)")
        }
        let earlier = try #require(org.audit().first?["sequence"] as? Int)
        // Records carry whole seconds: the new organization is made after the second of the earlier one's last.
        let removedAt = unixNow()
        while unixNow() == removedAt { usleep(20_000) }
        try #require(try org.ctl(["org", "add", "other"]).status == 0)
        try org.add("oscar", organization: "other", role: "admin")
        try org.add("olga", organization: "other")
        for arguments in [[], ["olga"]] {
            let trail = try org.audit(as: "oscar", arguments)
            #expect(!trail.isEmpty && trail.allSatisfy { ($0["sequence"] as? Int ?? 0) > earlier }, "\(trail)")
        }
        #expect(try org.audit(["olga"]).contains { $0["action"] as? String == "account-remove" })
    }

    /// A removed account's failed logins go with it: an account made again under its name, here by the admin of
    /// another organization, is neither locked by them nor shows them (the hosts and uids that failed) to its admin.
    @Test func status_ofAReusedName_showsNoLockOfTheEarlierAccount() throws {
        let org = try OrganizationFixture()
        let client = try #require(WireClient(path: org.daemon.socketPath))
        let sshd = LoginOrigin(service: "sshd", remoteHost: "192.0.2.7")
        try #require(client.lockOutFromSSHD("olga"), "the sixth wrong login from 192.0.2.7 was not locked")
        try #require(try org.ctl(["user", "remove", "olga"]).status == 0)
        let added = try org.ctl(["user", "add", "olga"], as: "amy", input: org.password("olga") + "\n")
        try #require(added.status == 0, "\(added.standardError)")

        let shown = try org.ctl(["user", "show", "olga", "--json"], as: "amy")
        let status = try JSONSerialization.jsonObject(with: Data(shown.standardOutput.utf8)) as? [String: Any]
        #expect(status?["lockedOrigins"] as? Int == 0, "\(shown.standardOutput)")
        #expect(!shown.standardOutput.contains("192.0.2.7"), "\(shown.standardOutput)")
        let login = client.call(
            .loginFrom(
                user: "olga",
                password: Array(org.password("olga").utf8),
                codeKind: .none,
                code: "",
                origin: sshd
            )
        )
        guard case .loginResult(.ok, _, _)? = login else {
            Issue.record("the new olga's right password from 192.0.2.7 was not ok: \(String(describing: login))")
            return
        }
    }

    // MARK: organization rules: operators only

    /// `org set` with the requirement and an access setting the daemon refuses: the organization stays as it was,
    /// the requirement included, and its members stay as they were.
    @Test(arguments: [["--trusted-network", "office.example"], ["--grace-period", "90000"], ["--agent-name", "a/b"]])
    func orgSet_withARefusedAccessSetting_changesNothing_notEvenTheRequirement(refused: [String]) throws {
        let org = try OrganizationFixture()
        let set = try org.ctl(["org", "set", "acme", "--require-2fa"] + refused)
        #expect(set.status == 1, "\(set.standardOutput)")
        let shown = try org.ctl(["org", "show", "acme", "--json"])
        let info = try JSONSerialization.jsonObject(with: Data(shown.standardOutput.utf8)) as? [String: Any]
        #expect(info?["requiresTwoFactor"] as? Bool == false, "\(shown.standardOutput)")
        #expect(try org.state("ann") == "off")
        #expect(try org.audit().first?["action"] as? String == "account-add")
    }
}
