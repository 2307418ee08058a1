import AccountService
import AccountStore
import Authentication
import LMDBAccountStore
import Logging
import OneTimePassword
import PasswordHashing
import PostgresAccountStore
import StoredRecords
import Testing
import TestSupport

/// An organization's two-factor requirement (docs/product.md: `off` is "password only (unless the organization
/// requires 2FA: then `pending`)"), through the service: the account itself cannot turn it off, an admin or
/// operator who does leaves it `pending`, and a member left `off` anyway (a restore, a race with the
/// requirement) is taken for `pending` by a Login and a code check alike, on LMDB and PostgreSQL.
/// Security review of 2026-12-07, hole A.
/// The stores these tests run against.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case lmdb
    case postgresql

    var testDescription: String { rawValue }

    /// A fresh store of this kind, its files (and a PostgreSQL store's secrets key) in `directory`.
    func openStore(in directory: TemporaryDirectory) throws -> any AccountStore {
        switch self {
        case .lmdb:
            return try LMDBAccountStore(directory: directory.path + "/state")
        case .postgresql:
            let cluster = try PostgresCluster.shared.get()
            return try PostgresAccountStore(
                location: try PostgresLocation(url: try cluster.makeDatabase()),
                password: try PostgresPassword.load(file: cluster.passwordFile),
                secretsKey: SecretsKey.random(path: directory.path + "/secrets.key"),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
        }
    }
}

@Suite struct OrganizationRequirementTests {
    static let password = Array("Tr1cky-Passw0rd".utf8)

    /// The service over a fresh store of `backend`: `acme` requires 2FA, with its admin `amy` and agents `ann`
    /// and `bob`, all enrolled on their own (`on`/`self`, enrolled before the requirement).
    final class Setup {
        let directory = TemporaryDirectory(prefix: "organization-requirement-tests")
        let store: any AccountStore
        let clock = TestClock(1_900_000_000)
        let service: AccountService
        var secrets: [String: [UInt8]] = [:]

        init(_ backend: Backend = .lmdb) throws {
            store = try backend.openStore(in: directory)
            let clock = self.clock
            service = AccountService(
                store: store,
                hasher: PasswordHasher(cost: ScryptCost(logN: 10, r: 8, p: 1)),
                clock: { clock.now },
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            _ = try service.addOrganization(caller: root, name: "acme", requireTwoFactor: false)
            for (name, role) in [("amy", Role.admin), ("ann", .agent), ("bob", .agent)] {
                _ = try service.addAccount(
                    caller: root,
                    name: name,
                    organization: "acme",
                    role: role,
                    requireTwoFactor: false,
                    password: OrganizationRequirementTests.password
                )
                let itself = try caller(name)
                let offer = try service.beginEnrollment(caller: itself, name: name, parameters: .standard)
                let secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
                try service.confirmEnrollment(caller: itself, name: name, code: try oathtool(secret, at: clock.now))
                secrets[name] = secret
            }
            let status = try service.setOrganization(caller: root, name: "acme", requireTwoFactor: true)
            #expect(status.organization.requiresTwoFactor)
            for name in ["amy", "ann", "bob"] { #expect(try stored(name).twoFactor == .on(.self)) }
            clock.advance(by: 30)
        }

        func stored(_ name: String) throws -> Account {
            try #require(try store.account(named: try AccountName(name)))
        }

        func caller(_ name: String) throws -> Caller { .account(try stored(name)) }

        /// The refusal's kind and message, or "done".
        func outcome(_ body: () throws(ServiceError) -> Void) -> String {
            do throws(ServiceError) {
                try body()
                return "done"
            } catch {
                return "\(error.kind): \(error.message)"
            }
        }

        func login(_ name: String, code: CodeInput = .none) throws -> LoginResult {
            try service.login(user: name, password: OrganizationRequirementTests.password, code: code)
        }

        func newestAudit() throws -> AuditRecord? {
            try store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first
        }
    }

    static let refusal =
        "notPermitted: 'acme' requires two-factor authentication of its members, so 'ann' cannot turn it off: "
        + "ask an admin of 'acme' or an operator"

    @Test func disable_byTheAccountItself_whileItsOrganizationRequiresIt_isRefused_andTheCodeStaysNeeded() throws {
        let setup = try Setup()
        let ann = try setup.caller("ann")
        #expect(
            setup.outcome { () throws(ServiceError) in try setup.service.disableTwoFactor(caller: ann, name: "ann") }
                == Self.refusal
        )
        #expect(try setup.stored("ann").twoFactor == .on(.self), "a refused action changes nothing")
        let audited = try #require(try setup.newestAudit())
        #expect(audited.action == .disable && audited.outcome == .refused && audited.target?.value == "ann")
        #expect(try setup.login("ann") == .codeNeeded, "the password alone does not log in")
    }

    @Test func removingTheLastAuthenticator_byTheAccountItself_whileRequired_isRefused() throws {
        let setup = try Setup()
        let ann = try setup.caller("ann")
        let removed = setup.outcome { () throws(ServiceError) in
            try setup.service.removeAuthenticator(caller: ann, name: "ann", label: "default")
        }
        #expect(removed == Self.refusal)
        #expect(try setup.stored("ann").twoFactor == .on(.self))
        #expect(try setup.stored("ann").authenticators.count == 1)
        #expect(try setup.login("ann") == .codeNeeded)
    }

    @Test func disable_byTheAdminOrAnOperator_whileRequired_leavesTheAccountPending_andItsNextLoginEnrolls() throws {
        let setup = try Setup()
        let amy = try setup.caller("amy")
        let disabled = try setup.service.disableTwoFactor(caller: amy, name: "ann")
        #expect(disabled.twoFactor == .pending && disabled.authenticators.isEmpty && disabled.recoveryCodes.isEmpty)
        #expect(try setup.stored("ann").twoFactorChange?.actor == .account(try AccountName("amy")))
        let audited = try #require(try setup.newestAudit())
        #expect(audited.action == .disable && audited.outcome == .ok)
        #expect(audited.detail == "pending: 'acme' requires two-factor authentication")
        guard case .enroll = try setup.login("ann") else {
            Issue.record("a member turned off in an organization that requires 2FA did not enroll at its login")
            return
        }

        try setup.service.disableTwoFactor(caller: root, name: "bob")
        #expect(try setup.stored("bob").twoFactor == .pending)
        // Disabling again changes nothing: pending, with nothing to discard, is where the requirement leaves it.
        let before = try setup.stored("bob")
        try setup.service.disableTwoFactor(caller: root, name: "bob")
        #expect(try setup.stored("bob") == before)
        guard case .enroll = try setup.login("bob") else { Issue.record("bob did not enroll"); return }
    }

    @Test func removingTheLastAuthenticator_byTheAdmin_whileRequired_leavesTheAccountPending() throws {
        let setup = try Setup()
        let amy = try setup.caller("amy")
        let removed = try setup.service.removeAuthenticator(caller: amy, name: "ann", label: "default")
        #expect(removed.twoFactor == .pending && removed.authenticators.isEmpty)
        let audited = try #require(try setup.newestAudit())
        #expect(audited.action == .authenticatorRemove)
        #expect(audited.detail == "default, the last: two-factor pending: 'acme' requires two-factor authentication")
        guard case .enroll = try setup.login("ann") else { Issue.record("ann did not enroll"); return }
    }

    /// Once the organization no longer requires it, everything is as before: the account itself may turn off
    /// what it turned on, and is then `off`.
    @Test func withoutTheRequirement_theAccountItselfTurnsItOff() throws {
        let setup = try Setup()
        _ = try setup.service.setOrganization(caller: root, name: "acme", requireTwoFactor: false)
        let ann = try setup.caller("ann")
        #expect(
            setup.outcome { () throws(ServiceError) in try setup.service.disableTwoFactor(caller: ann, name: "ann") }
                == "done"
        )
        #expect(try setup.stored("ann").twoFactor == .off)
        #expect(try setup.login("ann") == .ok)
    }

    /// Defence in depth: a member left `off` while its organization requires 2FA (no request does that; a restore
    /// or a race with the requirement could) never logs in with its password alone, on either store. Its Login
    /// enrolls (and records it `pending`, set by the daemon), as does a code check, which before answered `ok`
    /// without a code; the enrollment it finishes is `enforced`.
    @Test(arguments: Backend.allCases)
    func anOffMember_ofAnOrganizationRequiringTwoFactor_isTakenForPending(_ backend: Backend) throws {
        let setup = try Setup(backend)
        for name in ["ann", "bob"] {
            // What a disable did before the requirement was kept: no secret, no codes, `off`.
            try setup.store.update(try AccountName(name)) { account in
                account.authenticators = []
                account.recoveryCodes = []
                account.enrolledAt = nil
                account.twoFactor = .off
            }
        }
        // A code check that may not enroll (pam_twofactor.so without `enroll`) is refused, not answered `ok`.
        let refused = setup.outcome { () throws(ServiceError) in
            _ = try setup.service.checkCode(user: "bob", code: .none, mayEnroll: { false })
        }
        #expect(refused.hasPrefix("notPermitted: 'bob' has no authenticator yet"), "\(refused)")
        guard case .enroll = try setup.service.checkCode(user: "bob", code: .none) else {
            Issue.record("a code check of an off member of a requiring organization did not enroll")
            return
        }
        #expect(try setup.stored("bob").twoFactor == .pending)

        let offer = try setup.login("ann")
        guard case .enroll(let uri) = offer else {
            Issue.record("an off member of a requiring organization got \(offer), not an enrollment")
            return
        }
        var ann = try setup.stored("ann")
        #expect(ann.twoFactor == .pending && ann.twoFactorChange?.actor == .system)
        let audited = try #require(try setup.newestAudit())
        #expect(audited.action == .force && audited.actor == .system && audited.target?.value == "ann")
        let secret = try OTPAuthURI(parsing: uri).secret
        guard case .enrolled = try setup.login("ann", code: .totp(try oathtool(secret, at: setup.clock.now))) else {
            Issue.record("the first code did not finish the enrollment")
            return
        }
        ann = try setup.stored("ann")
        #expect(ann.twoFactor == .on(.enforced))
        #expect(try setup.login("ann") == .codeNeeded)
    }
}
