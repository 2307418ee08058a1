import AccountService
import AccountStore
import Authentication
import Logging
import OneTimePassword
import PasswordHashing
import Synchronization
import Testing

// A login decided on an earlier read: it hashes its password outside the write that accepts it. Each test runs a
// change between the read and the write (`Fixture.racing`, or `RacingStore` for the logins of several writes), on
// the real LMDB store.

private let oldPassword = Array("pass-phrase".utf8)

extension Fixture {
    /// `racing`, once the login's password has been hashed (and its account read).
    func racingAfterTheHash(_ race: @escaping @Sendable () throws -> Void) -> AccountService {
        let (hasher, before) = (hasher, hasher.derivationCount)
        return racing(when: { hasher.derivationCount > before }, race)
    }
}

@Suite struct StaleLoginTests {
    /// Who knew the old password must not get in once the new one is set, even with a login already hashing it
    /// then: the login's write checks the hash it verified against. Before, it was answered `ok`.
    @Test(arguments: [false, true])
    func aLoginWithTheOldPassword_whenAPasswordChangeCommitsDuringItsHash_isDenied(withACode: Bool) throws {
        let fixture = try Fixture()
        let user = withACode ? "ada" : "abe"
        let secret = withACode ? try fixture.enrolled(user) : nil
        if !withACode { try fixture.add(user) }
        fixture.clock.advance(by: 30)
        let service = fixture.service
        let racing = fixture.racingAfterTheHash {
            try service.setPassword(caller: root, name: user, password: Array("a-new-pass-phrase".utf8))
        }
        let before = try #require(try fixture.stored(user))
        let code: CodeInput = try secret.map { .totp(try oathtool($0, at: fixture.clock.now)) } ?? .none
        let answer = try racing.login(user: user, password: oldPassword, code: code, origin: .peer(uid: 7001))
        #expect(answer == .denied)
        let after = try #require(try fixture.stored(user))
        #expect(after.passwordHash != before.passwordHash, "the password was not changed during the login")
        #expect(after.lastLoginAt == before.lastLoginAt)
        #expect(after.lastAcceptedStep == before.lastAcceptedStep)
        // Denied as a wrong password is: counted, and audited as a denial.
        let key = ThrottleKey(subject: user, origin: .peer(uid: 7001))
        #expect(try fixture.store.throttleRecord(key).failures == 1)
        let newest = try fixture.store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first
        #expect(newest?.action == .login && newest?.outcome == .denied)
        // The new password works.
        let code2: CodeInput = try secret.map { .totp(try oathtool($0, at: fixture.clock.now + 30)) } ?? .none
        fixture.clock.advance(by: 30)
        let next = try fixture.service.login(
            user: user,
            password: Array("a-new-pass-phrase".utf8),
            code: code2,
            origin: .peer(uid: 7001)
        )
        #expect(next == .ok)
    }

    /// An account removed and made again under its name, with the same password, while a login hashes it: the
    /// new account has a new hash (a new salt), so the login decided on the old one is denied, not let into the
    /// new one.
    @Test func aLogin_whenItsAccountIsRemovedAndMadeAgainDuringItsHash_isDenied() throws {
        let fixture = try Fixture()
        try fixture.addOrganizations("beta")
        try fixture.add("cal")
        let service = fixture.service
        let racing = fixture.racingAfterTheHash {
            try service.removeAccount(caller: root, name: "cal")
            _ = try service.addAccount(
                caller: root,
                name: "cal",
                organization: "beta",
                role: .agent,
                requireTwoFactor: false,
                password: oldPassword
            )
        }
        let answer = try racing.login(user: "cal", password: oldPassword, code: .none, origin: .peer(uid: 7002))
        #expect(answer == .denied)
        #expect(try fixture.stored("cal")?.organization.value == "beta")
        #expect(try fixture.stored("cal")?.lastLoginAt == nil)
    }

    /// Two-factor login required while a password-only login hashes: the login decided on `off` is denied, not
    /// let in without the enrollment that is now required.
    @Test func aPasswordOnlyLogin_when2FAIsForcedDuringItsHash_isDenied() throws {
        let fixture = try Fixture()
        try fixture.add("dot")
        let service = fixture.service
        let racing = fixture.racingAfterTheHash { try service.forceTwoFactor(caller: root, name: "dot") }
        let answer = try racing.login(user: "dot", password: oldPassword, code: .none, origin: .peer(uid: 7003))
        #expect(answer == .denied)
        #expect(try fixture.stored("dot")?.twoFactor == .pending)
        #expect(try fixture.stored("dot")?.lastLoginAt == nil)
    }

    /// The organization made to require two-factor login while a member's password-only login hashes: the login
    /// decided on a rule that no longer holds is denied, not let in without the enrollment now required.
    @Test func aPasswordOnlyLogin_whenTheOrganizationRequires2FADuringItsHash_isDenied() throws {
        let fixture = try Fixture()
        try fixture.addOrganizations("gamma")
        try fixture.add("fox", organization: "gamma")
        let service = fixture.service
        let racing = fixture.racingAfterTheHash {
            _ = try service.setOrganization(caller: root, name: "gamma", requireTwoFactor: true)
        }
        let answer = try racing.login(user: "fox", password: oldPassword, code: .none, origin: .peer(uid: 7005))
        #expect(answer == .denied)
        #expect(try fixture.stored("fox")?.lastLoginAt == nil)
        #expect(try fixture.store.throttleRecord(ThrottleKey(subject: "fox", origin: .peer(uid: 7005))).failures == 1)
    }

    /// A 2FA reset or disable during a login with a code: the code's authenticator is gone, so the login is denied
    /// (as before this review: the replay guard checks the credential), and counted once.
    @Test(arguments: [false, true])
    func aLoginWithACode_when2FAIsResetOrDisabledDuringItsHash_isDenied(disable: Bool) throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("eve")
        fixture.clock.advance(by: 30)
        let service = fixture.service
        let racing = fixture.racingAfterTheHash {
            if disable {
                try service.disableTwoFactor(caller: root, name: "eve")
            } else {
                try service.resetTwoFactor(caller: root, name: "eve")
            }
        }
        let code = try oathtool(secret, at: fixture.clock.now)
        let answer = try racing.login(user: "eve", password: oldPassword, code: .totp(code), origin: .peer(uid: 7004))
        #expect(answer == .denied)
        #expect(try fixture.store.throttleRecord(ThrottleKey(subject: "eve", origin: .peer(uid: 7004))).failures == 1)
    }
}

/// The logins decided in several writes (a recovery code, an enrollment) count their attempt first, after the hash:
/// the store runs the change just before that (`RacingStore`).
@Suite struct StaleLoginInSeveralWritesTests {
    func service(_ fixture: Fixture, racing race: @escaping @Sendable () throws -> Void) -> AccountService {
        let clock = fixture.clock
        return AccountService(
            store: RacingStore(fixture.store, beforeReservingAnAttempt: race),
            hasher: fixture.hasher,
            clock: { clock.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// A recovery code with the old password, while the password is changed: denied, and the code is not spent.
    @Test func aRecoveryCodeWithTheOldPassword_whenThePasswordChangesDuringTheLogin_isDenied_andNotSpent() throws {
        let fixture = try Fixture()
        try fixture.add("fay")
        let offer = try fixture.service.beginEnrollment(caller: root, name: "fay", parameters: .standard)
        let uri = try OTPAuthURI(parsing: offer.otpauthURI)
        let codes = try fixture.service.confirmEnrollment(
            caller: root,
            name: "fay",
            code: try oathtool(uri.secret, at: fixture.clock.now)
        ).recoveryCodes
        let service = fixture.service
        let racing = self.service(fixture) {
            try service.setPassword(caller: root, name: "fay", password: Array("a-new-pass-phrase".utf8))
        }
        let answer = try racing.login(user: "fay", password: oldPassword, code: .recovery(codes[0]))
        #expect(answer == .denied)
        #expect(try fixture.stored("fay")?.recoveryCodes.count == codes.count)
    }

    /// A pending account's login with the old password, while the password is changed: denied, and no QR code
    /// (the enrollment's secret) is shown, whether the enrollment is the one offered before or a new one.
    @Test(arguments: [false, true])
    func aPendingLoginWithTheOldPassword_whenThePasswordChangesDuringTheLogin_isDenied(offeredBefore: Bool) throws {
        let fixture = try Fixture()
        try fixture.add("gil", requireTwoFactor: true)
        if offeredBefore {
            guard case .enroll = try fixture.service.login(user: "gil", password: oldPassword, code: .none) else {
                Issue.record("no enrollment offered")
                return
            }
        }
        let service = fixture.service
        let racing = self.service(fixture) {
            try service.setPassword(caller: root, name: "gil", password: Array("a-new-pass-phrase".utf8))
        }
        let answer = try racing.login(user: "gil", password: oldPassword, code: .none)
        #expect(answer == .denied)
    }

    /// A login without a code from a trusted network, while the operator removes that network: the waiver is
    /// checked again in the write against the organization as stored then, so the login needs a code. Before, the
    /// write checked it against the organization as read before the hash, and the login was `ok`.
    @Test func aLoginFromATrustedNetwork_whenTheNetworkIsRemovedDuringTheLogin_needsACode() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("hal")
        _ = try fixture.service.setOrganizationAccess(
            caller: root,
            name: "default",
            gracePeriod: 0,
            trustedNetworks: ["192.0.2.0/24"]
        )
        let sshd = LoginContext(
            peerIsPrivileged: true,
            peerUID: 0,
            reportedRemoteHost: "192.0.2.9",
            service: "sshd",
            peerSession: nil
        )
        #expect(try fixture.service.login(user: "hal", password: oldPassword, code: .none, context: sshd) == .ok)
        let service = fixture.service
        let racing = self.service(fixture) {
            _ = try service.setOrganizationAccess(caller: root, name: "default", gracePeriod: nil, trustedNetworks: [])
        }
        let before = try fixture.stored("hal")?.lastLoginAt
        fixture.clock.advance(by: 30)
        let answer = try racing.login(user: "hal", password: oldPassword, code: .none, context: sshd)
        #expect(answer == .codeNeeded)
        #expect(try fixture.stored("hal")?.lastLoginAt == before)
    }
}
