import AccountService
import AccountStore
import Authentication
import OneTimePassword
import Testing

/// Several authenticators per account (issue 11, item 2), over a real store with an injected clock.
@Suite struct AuthenticatorTests {
    let password = Array("pass-phrase".utf8)

    /// Adds authenticator `label` to `name` (as `caller`), confirmed with its code at the clock's step.
    func add(_ fixture: Fixture, _ name: String, _ label: String, as caller: Caller = root) throws -> [UInt8] {
        let offer = try fixture.service.beginAuthenticator(
            caller: caller,
            name: name,
            label: label,
            parameters: .standard
        )
        let secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
        try fixture.service.confirmAuthenticator(
            caller: caller,
            name: name,
            label: label,
            code: try oathtool(secret, at: fixture.clock.now)
        )
        return secret
    }

    func login(_ fixture: Fixture, _ name: String, _ code: String) throws -> LoginResult {
        try fixture.service.login(user: name, password: password, code: .totp(code))
    }

    func kind(_ body: () throws(ServiceError) -> Void) -> ServiceError.Kind? {
        do {
            try body()
            return nil
        } catch {
            return error.kind
        }
    }

    @Test func twoAuthenticators_bothLogIn_andNeitherReplays() throws {
        let fixture = try Fixture()
        let first = try fixture.enrolled("amy")
        let phone = try add(fixture, "amy", "phone")
        fixture.clock.advance(by: 30)
        let firstCode = try oathtool(first, at: fixture.clock.now)
        let phoneCode = try oathtool(phone, at: fixture.clock.now)
        #expect(try login(fixture, "amy", firstCode) == .ok)
        #expect(try login(fixture, "amy", firstCode) == .denied)
        // The same step on the other authenticator is its own, unused step.
        #expect(try login(fixture, "amy", phoneCode) == .ok)
        #expect(try login(fixture, "amy", phoneCode) == .denied)
        let stored = try #require(try fixture.stored("amy"))
        #expect(stored.authenticators.map(\.label.value) == ["default", "phone"])
        #expect(stored.authenticators.allSatisfy { $0.lastAcceptedStep == UInt64(fixture.clock.now / 30) })
        // Recovery codes stay per account: adding did not replace them.
        #expect(stored.recoveryCodes.count == 10)
    }

    @Test func add_confirmingCode_cannotLogIn() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("ben")
        let phone = try add(fixture, "ben", "phone")
        #expect(try login(fixture, "ben", try oathtool(phone, at: fixture.clock.now)) == .denied)
        #expect(try login(fixture, "ben", try oathtool(phone, at: fixture.clock.now + 30)) == .ok)
    }

    @Test func add_refusesAnAccountWithout2FA_aTakenLabel_andABadLabel() throws {
        let fixture = try Fixture()
        try fixture.add("cal")
        #expect(
            kind { () throws(ServiceError) in
                _ = try fixture.service.beginAuthenticator(
                    caller: root,
                    name: "cal",
                    label: "phone",
                    parameters: .standard
                )
            } == .invalidArgument
        )
        _ = try fixture.enrolled("dot")
        _ = try add(fixture, "dot", "phone")
        for (label, expected) in [
            ("phone", ServiceError.Kind.authenticatorExists), ("default", .authenticatorExists),
            ("-x", .invalidArgument), ("a/b", .invalidArgument),
        ] {
            #expect(
                kind { () throws(ServiceError) in
                    _ = try fixture.service.beginAuthenticator(
                        caller: root,
                        name: "dot",
                        label: label,
                        parameters: .standard
                    )
                } == expected
            )
        }
    }

    @Test func add_byAnAdminForAnother_isRefused_byTheAccountItself_isAllowed() throws {
        let fixture = try Fixture()
        _ = try fixture.service.addAccount(
            caller: root,
            name: "boss",
            organization: nil,
            role: .admin,
            requireTwoFactor: false,
            password: password
        )
        _ = try fixture.enrolled("eve")
        let boss = Caller.account(try #require(try fixture.stored("boss")))
        #expect(
            kind { () throws(ServiceError) in
                _ = try fixture.service.beginAuthenticator(
                    caller: boss,
                    name: "eve",
                    label: "phone",
                    parameters: .standard
                )
            } == .notPermitted
        )
        let eve = Caller.account(try #require(try fixture.stored("eve")))
        _ = try add(fixture, "eve", "phone", as: eve)
        #expect(try fixture.stored("eve")?.authenticators.count == 2)
    }

    @Test func remove_oneOfTwo_stopsItsCodes_theOtherStillWorks() throws {
        let fixture = try Fixture()
        let first = try fixture.enrolled("fay")
        let phone = try add(fixture, "fay", "phone")
        try fixture.service.removeAuthenticator(caller: root, name: "fay", label: "default")
        fixture.clock.advance(by: 30)
        #expect(try login(fixture, "fay", try oathtool(first, at: fixture.clock.now)) == .denied)
        #expect(try login(fixture, "fay", try oathtool(phone, at: fixture.clock.now)) == .ok)
        let stored = try #require(try fixture.stored("fay"))
        #expect(stored.twoFactor == .on(.enforced))
        #expect(stored.authenticators.map(\.label.value) == ["phone"])
        #expect(
            kind { () throws(ServiceError) in
                try fixture.service.removeAuthenticator(caller: root, name: "fay", label: "default")
            } == .noSuchAuthenticator
        )
    }

    @Test func remove_oneOfTwo_endsTheAccountsGraces() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("fox")
        _ = try add(fixture, "fox", "phone")
        let grace = Grace(
            key: .remoteHost("192.0.2.7"),
            grantedAt: fixture.clock.now,
            expiresAt: fixture.clock.now + 600
        )
        try fixture.store.update(try AccountName("fox")) { $0.graces = [grace] }
        // The phone may be the one that was lost: no login may ride on a grace it earned.
        try fixture.service.removeAuthenticator(caller: root, name: "fox", label: "phone")
        #expect(try fixture.stored("fox")?.graces == [])
    }

    @Test func remove_theLastOfAnEnforcedAccount_isRefusedToItself_likeDisable() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("gus")  // enrolled by an operator: enforced
        let gus = Caller.account(try #require(try fixture.stored("gus")))
        #expect(
            kind { () throws(ServiceError) in
                try fixture.service.removeAuthenticator(caller: gus, name: "gus", label: "default")
            } == .notPermitted
        )
        #expect(try fixture.stored("gus")?.twoFactor == .on(.enforced))
        // With a second one, the account may remove either: it stays protected.
        _ = try add(fixture, "gus", "phone", as: gus)
        // A caller is the account as it logged in (its session's stamp): now the account with two authenticators.
        let added = Caller.account(try #require(try fixture.stored("gus")))
        try fixture.service.removeAuthenticator(caller: added, name: "gus", label: "default")
        #expect(try fixture.stored("gus")?.authenticators.map(\.label.value) == ["phone"])
        // The operator may remove the last one: two-factor is then off, as after `2fa disable`.
        try fixture.service.removeAuthenticator(caller: root, name: "gus", label: "phone")
        let stored = try #require(try fixture.stored("gus"))
        #expect(stored.twoFactor == .off)
        #expect(stored.authenticators.isEmpty)
        #expect(stored.recoveryCodes.isEmpty)
    }

    @Test func enroll_againStartsOverWithOneAuthenticator() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("hal")
        let phone = try add(fixture, "hal", "phone")
        fixture.clock.advance(by: 30)
        let offer = try fixture.service.beginEnrollment(caller: root, name: "hal", parameters: .standard)
        let secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
        try fixture.service.confirmEnrollment(
            caller: root,
            name: "hal",
            code: try oathtool(secret, at: fixture.clock.now)
        )
        #expect(try fixture.stored("hal")?.authenticators.map(\.label.value) == ["default"])
        fixture.clock.advance(by: 30)
        #expect(try login(fixture, "hal", try oathtool(phone, at: fixture.clock.now)) == .denied)
    }

    @Test func enroll_againInTheSameTimeStep_isRefusedWithAMessageThatSaysWhy() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("hal")
        let offer = try fixture.service.beginEnrollment(caller: root, name: "hal", parameters: .standard)
        let secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
        // The new secret's code has never been used, but its step is the one the account last accepted.
        #expect {
            try fixture.service.confirmEnrollment(
                caller: root,
                name: "hal",
                code: try oathtool(secret, at: fixture.clock.now)
            )
        } throws: { error in
            (error as? ServiceError)?.message.contains("already used a code of this time step") == true
        }
        #expect(try fixture.stored("hal")?.pendingEnrollment != nil)
        fixture.clock.advance(by: 30)
        try fixture.service.confirmEnrollment(
            caller: root,
            name: "hal",
            code: try oathtool(secret, at: fixture.clock.now)
        )
    }

    @Test func codeCheck_acceptsEveryAuthenticator_once() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("ida")
        let phone = try add(fixture, "ida", "phone")
        fixture.clock.advance(by: 30)
        let code = try oathtool(phone, at: fixture.clock.now)
        #expect(try fixture.service.checkCode(user: "ida", code: .totp(code)) == .ok)
        #expect(try fixture.service.checkCode(user: "ida", code: .totp(code)) == .denied)
    }

    @Test func list_showsLabels_andAnAgentSeesOnlyItsOwn() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("jo")
        _ = try add(fixture, "jo", "backup")
        let list = try fixture.service.authenticators(caller: root, name: "jo")
        #expect(list.map(\.label.value) == ["default", "backup"])
        #expect(list.allSatisfy { $0.enrolledAt == fixture.clock.now })
        try fixture.add("kim")
        let kim = Caller.account(try #require(try fixture.stored("kim")))
        #expect(
            kind { () throws(ServiceError) in _ = try fixture.service.authenticators(caller: kim, name: "jo") }
                == .notPermitted
        )
    }
}
