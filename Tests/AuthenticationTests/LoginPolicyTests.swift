import AccountStore
import OneTimePassword
import Testing

@testable import Authentication

private let now: UnixTime = 1_800_000_000
private let credential = TOTPCredential(secret: Array(repeating: 7, count: 20), parameters: .standard)

private func account(_ state: TwoFactorState, pending: PendingEnrollment? = nil) throws -> Account {
    let isOn: Bool = if case .on = state { true } else { false }
    return Account(
        name: try AccountName("alice"),
        passwordHash: "$scrypt$unused",
        twoFactor: state,
        totp: isOn ? credential : nil,
        pendingEnrollment: pending,
        createdAt: now - 100,
        updatedAt: now - 100
    )
}

@Suite struct LoginPolicyTests {
    @Test func decide_unknownUser_withoutACode_isAskedForOne_withACode_isDenied() {
        #expect(
            LoginPolicy.decide(account: nil, organization: nil, passwordMatches: true, code: .none, now: now)
                == .askForCode
        )
        #expect(
            LoginPolicy.decide(account: nil, organization: nil, passwordMatches: true, code: .totp("123456"), now: now)
                == .deny
        )
    }

    /// No password oracle: without a code, a wrong password gets what a right one gets on an account with
    /// 2FA on, and what an unknown user gets.
    @Test(arguments: [TwoFactorState.off, .pending, .on(.self), .on(.enforced)])
    func decide_wrongPasswordWithoutACode_isAskedForACode(_ state: TwoFactorState) throws {
        let decision = LoginPolicy.decide(
            account: try account(state),
            organization: nil,
            passwordMatches: false,
            code: .none,
            now: now
        )
        #expect(decision == .askForCode)
        #expect(
            decision
                == LoginPolicy.decide(account: nil, organization: nil, passwordMatches: false, code: .none, now: now)
        )
    }

    @Test(arguments: [TwoFactorState.off, .pending, .on(.self), .on(.enforced)])
    func decide_wrongPassword_isDeniedInEveryState(state: TwoFactorState) throws {
        let decision = LoginPolicy.decide(
            account: try account(state),
            organization: nil,
            passwordMatches: false,
            code: .totp("123456"),
            now: now
        )
        #expect(decision == .deny)
    }

    @Test func decide_off_succeedsOnPasswordAlone() throws {
        #expect(
            LoginPolicy.decide(
                account: try account(.off),
                organization: nil,
                passwordMatches: true,
                code: .none,
                now: now
            ) == .succeed
        )
    }

    @Test(arguments: [EnabledBy.`self`, .enforced])
    func decide_on_withoutCode_asksForCode(enabledBy: EnabledBy) throws {
        let decision = LoginPolicy.decide(
            account: try account(.on(enabledBy)),
            organization: nil,
            passwordMatches: true,
            code: .none,
            now: now
        )
        #expect(decision == .askForCode)
    }

    @Test func decide_on_withCode_verifiesAgainstEnrolledCredential() throws {
        let decision = LoginPolicy.decide(
            account: try account(.on(.self)),
            organization: nil,
            passwordMatches: true,
            code: .totp("123456"),
            now: now
        )
        #expect(decision == .verifyCode("123456", credential))
    }

    @Test func decide_on_withRecoveryCode_asksToUseIt() throws {
        let decision = LoginPolicy.decide(
            account: try account(.on(.self)),
            organization: nil,
            passwordMatches: true,
            code: .recovery("abcd-efgh"),
            now: now
        )
        #expect(decision == .useRecoveryCode("abcd-efgh"))
    }

    @Test func decide_recoveryCode_withWrongPasswordOrPendingState_isDenied() throws {
        let wrongPassword = LoginPolicy.decide(
            account: try account(.on(.self)),
            organization: nil,
            passwordMatches: false,
            code: .recovery("abcd-efgh"),
            now: now
        )
        #expect(wrongPassword == .deny)
        let pending = LoginPolicy.decide(
            account: try account(.pending),
            organization: nil,
            passwordMatches: true,
            code: .recovery("abcd-efgh"),
            now: now
        )
        #expect(pending == .deny)
    }

    @Test func decide_on_withoutStoredCredential_isDenied() throws {
        var broken = try account(.on(.self))
        broken.totp = nil
        #expect(
            LoginPolicy.decide(
                account: broken,
                organization: nil,
                passwordMatches: true,
                code: .totp("123456"),
                now: now
            ) == .deny
        )
    }

    @Test func decide_pending_withoutCode_startsEnrollment() throws {
        let decision = LoginPolicy.decide(
            account: try account(.pending),
            organization: nil,
            passwordMatches: true,
            code: .none,
            now: now
        )
        #expect(decision == .startEnrollment(existing: nil))
    }

    @Test func decide_pending_reusesLiveEnrollment() throws {
        let live = PendingEnrollment(credential: credential, expiresAt: now + 60)
        let decision = LoginPolicy.decide(
            account: try account(.pending, pending: live),
            organization: nil,
            passwordMatches: true,
            code: .none,
            now: now
        )
        #expect(decision == .startEnrollment(existing: live))
    }

    @Test func decide_pending_withCode_finishesLiveEnrollment() throws {
        let live = PendingEnrollment(credential: credential, expiresAt: now + 60)
        let decision = LoginPolicy.decide(
            account: try account(.pending, pending: live),
            organization: nil,
            passwordMatches: true,
            code: .totp("654321"),
            now: now
        )
        #expect(decision == .finishEnrollment("654321", live))
    }

    @Test func decide_pending_withCodeForExpiredEnrollment_startsAnew() throws {
        let expired = PendingEnrollment(credential: credential, expiresAt: now)
        let decision = LoginPolicy.decide(
            account: try account(.pending, pending: expired),
            organization: nil,
            passwordMatches: true,
            code: .totp("654321"),
            now: now
        )
        #expect(decision == .startEnrollment(existing: nil))
    }

    @Test func decide_off_ignoresPendingEnrollmentStartedByAnOperator() throws {
        let live = PendingEnrollment(credential: credential, expiresAt: now + 60)
        let decision = LoginPolicy.decide(
            account: try account(.off, pending: live),
            organization: nil,
            passwordMatches: true,
            code: .none,
            now: now
        )
        #expect(decision == .succeed)
    }

    /// An `off` member of an organization that requires 2FA is decided as `pending`: it enrolls, and never logs
    /// in with its password alone. Another organization's requirement, or none, leaves `off` as it is.
    @Test func decide_offInAnOrganizationRequiringTwoFactor_isDecidedAsPending() throws {
        let requiring = Organization(name: .default, requiresTwoFactor: true, createdAt: now, updatedAt: now)
        let off = try account(.off)
        #expect(
            LoginPolicy.decide(account: off, organization: requiring, passwordMatches: true, code: .none, now: now)
                == .startEnrollment(existing: nil)
        )
        #expect(
            LoginPolicy.decide(
                account: off,
                organization: requiring,
                passwordMatches: true,
                code: .totp("123456"),
                now: now
            ) == .startEnrollment(existing: nil)
        )
        let live = PendingEnrollment(credential: credential, expiresAt: now + 60)
        #expect(
            LoginPolicy.decide(
                account: try account(.off, pending: live),
                organization: requiring,
                passwordMatches: true,
                code: .totp("123456"),
                now: now
            ) == .finishEnrollment("123456", live)
        )
        #expect(
            LoginPolicy.decide(
                account: off,
                organization: requiring,
                passwordMatches: true,
                code: .recovery("x"),
                now: now
            ) == .deny
        )
        #expect(
            LoginPolicy.decide(account: off, organization: requiring, passwordMatches: false, code: .none, now: now)
                == .askForCode,
            "a wrong password is still asked for a code, as everywhere"
        )
        var elsewhere = requiring
        elsewhere.name = try OrganizationName("other")
        var notRequiring = requiring
        notRequiring.requiresTwoFactor = false
        for organization in [elsewhere, notRequiring] {
            #expect(
                LoginPolicy.decide(
                    account: off,
                    organization: organization,
                    passwordMatches: true,
                    code: .none,
                    now: now
                ) == .succeed
            )
        }
    }

    @Test func organizationRequirement_leavesAMemberPendingWithoutASecondFactor_andOnlyItsOwn() throws {
        let requiring = Organization(name: .default, requiresTwoFactor: true, createdAt: now, updatedAt: now)
        let on = try account(.on(.self))
        #expect(OrganizationRequirement.stateWithoutSecondFactor(of: on, in: requiring) == .pending)
        #expect(OrganizationRequirement.stateWithoutSecondFactor(of: on, in: nil) == .off)
        #expect(OrganizationRequirement.effectiveState(of: on, in: requiring) == .on(.self))
        #expect(OrganizationRequirement.effectiveState(of: try account(.off), in: requiring) == .pending)
        var other = requiring
        other.name = try OrganizationName("other")
        #expect(OrganizationRequirement.stateWithoutSecondFactor(of: on, in: other) == .off)
        #expect(OrganizationRequirement.refusalToTurnOff(on).contains("'default' requires two-factor authentication"))
    }
}

@Suite struct ThrottlePolicyTests {
    let policy = ThrottlePolicy.standard

    @Test func delay_freeFailures_costNothing() {
        for failures in 0..<policy.freeFailures {
            #expect(policy.delay(afterFailures: failures) == 0)
        }
    }

    @Test func delay_doublesAfterFreeFailures_upToMaximum() {
        #expect(policy.delay(afterFailures: 5) == 30)
        #expect(policy.delay(afterFailures: 6) == 60)
        #expect(policy.delay(afterFailures: 7) == 120)
        #expect(policy.delay(afterFailures: 11) == 1920)
        #expect(policy.delay(afterFailures: 12) == 3600)
        #expect(policy.delay(afterFailures: UInt32.max) == 3600)
    }

    @Test func lock_isReportedUntilDelayPassed() throws {
        var locked = try account(.off)
        locked.failureCount = 6
        locked.lastFailureAt = now - 10
        #expect(policy.retryAfter(for: locked, now: now) == 50)
        #expect(policy.retryAfter(for: locked, now: now + 50) == nil)
    }

    @Test func lock_neverForUnknownUserOrFewFailures() throws {
        var tried = try account(.off)
        tried.failureCount = 4
        tried.lastFailureAt = now
        #expect(policy.retryAfter(for: tried, now: now) == nil)
        #expect(policy.retryAfter(failures: 0, lastFailure: nil, now: now) == nil)
    }
}
