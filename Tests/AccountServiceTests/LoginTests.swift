import AccountService
import AccountStore
import Authentication
import PasswordHashing
import Testing

@Suite struct LoginTests {
    @Test func login_off_passwordAlone_isOk() throws {
        let fixture = try Fixture()
        try fixture.add("ann")
        #expect(try fixture.service.login(user: "ann", password: Array("pass-phrase".utf8), code: .none) == .ok)
        // A wrong password is not told apart without a code: it is asked for one, then denied.
        #expect(try fixture.service.login(user: "ann", password: Array("pass-Phrase".utf8), code: .none) == .codeNeeded)
        #expect(
            try fixture.service.login(user: "ann", password: Array("pass-Phrase".utf8), code: .totp("123456")) == .denied
        )
    }

    @Test func login_on_needsCode_thenAcceptsNextStepOnce() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("bea")
        #expect(try fixture.service.login(user: "bea", password: Array("pass-phrase".utf8), code: .none) == .codeNeeded)

        fixture.clock.advance(by: 30)
        let code = try oathtool(secret, at: fixture.clock.now)
        #expect(try fixture.service.login(user: "bea", password: Array("pass-phrase".utf8), code: .totp(code)) == .ok)
        #expect(
            try fixture.service.login(user: "bea", password: Array("pass-phrase".utf8), code: .totp(code)) == .denied
        )
    }

    @Test func login_refusesStepsAtOrBeforeLastAccepted() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("cid")
        // The confirming code's own step, and the step before it (still inside the ±1 window).
        for offset in [0, -30] as [Int64] {
            let code = try oathtool(secret, at: fixture.clock.now + offset)
            #expect(
                try fixture.service.login(user: "cid", password: Array("pass-phrase".utf8), code: .totp(code))
                    == .denied
            )
        }
    }

    @Test func login_acceptsOneStepOfDrift_notTwo() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("dan")
        fixture.clock.advance(by: 300)
        let twoAhead = try oathtool(secret, at: fixture.clock.now + 60)
        #expect(
            try fixture.service.login(user: "dan", password: Array("pass-phrase".utf8), code: .totp(twoAhead))
                == .denied
        )
        let oneAhead = try oathtool(secret, at: fixture.clock.now + 30)
        #expect(
            try fixture.service.login(user: "dan", password: Array("pass-phrase".utf8), code: .totp(oneAhead)) == .ok
        )
    }

    @Test func login_wrongCode_wrongPassword_unknownUser_allDenied_andCounted() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("eve")
        fixture.clock.advance(by: 30)
        let good = try oathtool(secret, at: fixture.clock.now)
        let bad = good == "000000" ? "000001" : "000000"

        #expect(
            try fixture.service.login(user: "eve", password: Array("pass-phrase".utf8), code: .totp(bad)) == .denied
        )
        #expect(try fixture.service.login(user: "eve", password: Array("nope".utf8), code: .totp(good)) == .denied)
        #expect(
            try fixture.service.login(user: "nobody", password: Array("pass-phrase".utf8), code: .totp(good)) == .denied
        )
        #expect(
            try fixture.service.login(user: "../etc/passwd", password: Array("pass-phrase".utf8), code: .none)
                == .codeNeeded
        )
        #expect(try fixture.stored("eve")?.failureCount == 2)

        #expect(try fixture.service.login(user: "eve", password: Array("pass-phrase".utf8), code: .totp(good)) == .ok)
        #expect(try fixture.stored("eve")?.failureCount == 0, "a success resets the count")
    }

    @Test(arguments: ["", "12345", "1234567", "12a456", "１２３４５６"])
    func login_malformedCode_isDenied(code: String) throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("fay")
        #expect(
            try fixture.service.login(user: "fay", password: Array("pass-phrase".utf8), code: .totp(code)) == .denied
        )
    }

    @Test func login_afterFreeFailures_isLockedWithoutCheckingPassword_untilDelayPasses() throws {
        let fixture = try Fixture()
        try fixture.add("gus")
        for _ in 0..<ThrottlePolicy.standard.freeFailures {
            #expect(try fixture.service.login(user: "gus", password: Array("x".utf8), code: .none) == .codeNeeded)
        }
        #expect(
            try fixture.service.login(user: "gus", password: Array("pass-phrase".utf8), code: .none)
                == .locked(retryAfter: 30)
        )
        fixture.clock.advance(by: 30)
        #expect(try fixture.service.login(user: "gus", password: Array("pass-phrase".utf8), code: .none) == .ok)
    }

    @Test func login_pending_enrollsWithFirstCode() throws {
        let fixture = try Fixture()
        try fixture.add("hal", requireTwoFactor: true)
        guard
            case .enroll(let uri) = try fixture.service.login(
                user: "hal",
                password: Array("pass-phrase".utf8),
                code: .none
            )
        else {
            Issue.record("a pending account must be asked to enroll")
            return
        }
        // Asking again shows the same secret while the enrollment lives.
        #expect(
            try fixture.service.login(user: "hal", password: Array("pass-phrase".utf8), code: .none)
                == .enroll(otpauthURI: uri)
        )
        let secret = try #require(try fixture.stored("hal")?.pendingEnrollment?.credential.secret)

        let wrong = try oathtool(secret, at: fixture.clock.now + 3600)
        #expect(
            try fixture.service.login(user: "hal", password: Array("pass-phrase".utf8), code: .totp(wrong)) == .denied
        )
        #expect(try fixture.stored("hal")?.twoFactor == .pending, "a wrong code leaves the old state standing")

        let code = try oathtool(secret, at: fixture.clock.now)
        guard
            case .enrolled(let recoveryCodes) = try fixture.service.login(
                user: "hal",
                password: Array("pass-phrase".utf8),
                code: .totp(code)
            )
        else {
            Issue.record("the first code did not finish the enrollment")
            return
        }
        #expect(recoveryCodes.count == 10)
        let account = try #require(try fixture.stored("hal"))
        #expect(account.recoveryCodes.count == 10)
        #expect(account.twoFactor == .on(.enforced))
        #expect(account.pendingEnrollment == nil)
        #expect(
            try fixture.service.login(user: "hal", password: Array("pass-phrase".utf8), code: .totp(code)) == .denied
        )
    }

    @Test func login_upgradesHashMadeWithOldCost() throws {
        let old = try Fixture(cost: ScryptCost(logN: 10, r: 8, p: 1))
        try old.add("ida")
        let upgraded = AccountServiceFactory.service(
            store: old.store,
            cost: ScryptCost(logN: 11, r: 8, p: 1),
            clock: old.clock
        )
        #expect(try upgraded.login(user: "ida", password: Array("pass-phrase".utf8), code: .none) == .ok)
        let hash = try #require(try old.stored("ida")?.passwordHash)
        #expect(hash.hasPrefix("$scrypt$ln=11,r=8,p=1$"))
        #expect(try upgraded.login(user: "ida", password: Array("pass-phrase".utf8), code: .none) == .ok)
    }
}
