import AccountService
import AccountStore
import Logging
import OneTimePassword
import PasswordHashing
import Testing

enum AccountServiceFactory {
    static func service(store: any AccountStore, cost: ScryptCost, clock: TestClock) -> AccountService {
        AccountService(
            store: store,
            hasher: PasswordHasher(cost: cost),
            clock: { clock.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }
}

@Suite struct AdministrationTests {
    @Test func addAccount_rejectsDuplicatesAndBadNames() throws {
        let fixture = try Fixture()
        _ = try fixture.service.addOrganization(caller: root, name: "acme", requireTwoFactor: false)
        _ = try fixture.service.addAccount(
            caller: root,
            name: "amy",
            organization: "acme",
            role: .admin,
            requireTwoFactor: false,
            password: Array("correct horse".utf8)
        )
        #expect(throws: ServiceError.self) {
            try fixture.service.addAccount(
                caller: root,
                name: "amy",
                organization: nil,
                role: .agent,
                requireTwoFactor: false,
                password: Array("long-enough-x".utf8)
            )
        }
        for bad in ["", "-rf", "a b", String(repeating: "x", count: 65)] {
            #expect(throws: ServiceError.self) {
                try fixture.service.addAccount(
                    caller: root,
                    name: bad,
                    organization: nil,
                    role: .agent,
                    requireTwoFactor: false,
                    password: Array("long-enough-x".utf8)
                )
            }
        }
        #expect(throws: ServiceError.self) {
            try fixture.service.addAccount(
                caller: root,
                name: "nul",
                organization: nil,
                role: .agent,
                requireTwoFactor: false,
                password: [0x61, 0, 0x62]
            )
        }
        let stored = try #require(try fixture.stored("amy"))
        #expect(stored.organization.value == "acme")
        #expect(stored.role == .admin)
        #expect(!stored.passwordHash.contains("correct horse"))
    }

    @Test func confirmEnrollment_wrongCode_leavesStateAsItWas() throws {
        let fixture = try Fixture()
        try fixture.add("ben")
        let offer = try fixture.service.beginEnrollment(caller: root, name: "ben", parameters: .standard)
        let secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
        let wrong = try oathtool(secret, at: fixture.clock.now + 120)
        do {
            try fixture.service.confirmEnrollment(caller: root, name: "ben", code: wrong)
            Issue.record("a wrong code must not finish enrollment")
        } catch {
            #expect(error.kind == .wrongCode)
        }
        #expect(try fixture.stored("ben")?.twoFactor == .off)
        try fixture.service.confirmEnrollment(caller: root, name: "ben", code: try oathtool(secret, at: fixture.clock.now))
        // An operator's enrollment is a requirement, not the account's own choice.
        #expect(try fixture.stored("ben")?.twoFactor == .on(.enforced))
    }

    @Test func confirmEnrollment_afterExpiry_isRefused() throws {
        let fixture = try Fixture()
        try fixture.add("cat")
        let offer = try fixture.service.beginEnrollment(caller: root, name: "cat", parameters: .standard)
        fixture.clock.advance(by: 901)
        let code = try oathtool(try OTPAuthURI(parsing: offer.otpauthURI).secret, at: fixture.clock.now)
        do {
            try fixture.service.confirmEnrollment(caller: root, name: "cat", code: code)
            Issue.record("an expired enrollment must not finish")
        } catch {
            #expect(error.kind == .noEnrollmentInProgress)
        }
    }

    @Test func beginEnrollment_honoursParameters_inTheURI() throws {
        let fixture = try Fixture()
        try fixture.add("dee")
        let parameters = TOTPParameters(algorithm: .sha256, digits: 8, period: 60)
        let offer = try fixture.service.beginEnrollment(caller: root, name: "dee", parameters: parameters)
        let uri = try OTPAuthURI(parsing: offer.otpauthURI)
        #expect(uri.parameters == parameters)
        #expect(uri.secret.count == 32)
        #expect(uri.issuer == "twofactord")
        #expect(uri.account == "dee")
        try fixture.service.confirmEnrollment(
            caller: root,
            name: "dee",
            code: try oathtool(uri.secret, at: fixture.clock.now, period: 60, digits: 8, algorithm: "sha256")
        )
        #expect(try fixture.stored("dee")?.totp?.parameters == parameters)
    }

    @Test func disableTwoFactor_thenPasswordAloneLogsIn() throws {
        let fixture = try Fixture()
        _ = try fixture.enrolled("eli")
        try fixture.service.disableTwoFactor(caller: root, name: "eli")
        #expect(try fixture.stored("eli")?.totp == nil)
        #expect(try fixture.service.login(user: "eli", password: Array("pass-phrase".utf8), code: .none) == .ok)
    }

    @Test func accounts_pageInNameOrder() throws {
        let fixture = try Fixture()
        _ = try fixture.service.addOrganization(caller: root, name: "other", requireTwoFactor: false)
        for name in ["u3", "u1", "u5", "u2", "u4"] {
            _ = try fixture.service.addAccount(
                caller: root,
                name: name,
                organization: name == "u4" ? "other" : nil,
                role: .agent,
                requireTwoFactor: false,
                password: Array("pass-phrase".utf8)
            )
        }
        let first = try fixture.service.accounts(caller: root, organization: nil, after: nil, limit: 2)
        #expect(first.accounts.map(\.account.name.value) == ["u1", "u2"])
        let second = try fixture.service.accounts(caller: root, organization: nil, after: first.next?.value, limit: 2)
        #expect(second.accounts.map(\.account.name.value) == ["u3", "u4"])
        let last = try fixture.service.accounts(caller: root, organization: nil, after: second.next?.value, limit: 2)
        #expect(last.accounts.map(\.account.name.value) == ["u5"])
        #expect(last.next == nil)
        #expect(
            try fixture.service.accounts(caller: root, organization: "other", after: nil, limit: 10).accounts.map(\.account.name.value) == [
                "u4"
            ]
        )
    }

    @Test func removeAccount_unknown_saysSo() throws {
        let fixture = try Fixture()
        do {
            try fixture.service.removeAccount(caller: root, name: "ghost")
            Issue.record("removing an unknown account must fail")
        } catch {
            #expect(error.kind == .noSuchAccount)
            #expect(error.message.contains("ghost"))
        }
    }
}
