import AccountService
import AccountStore
import Authentication
import Logging
import Testing

// An organization's rules read before a password hash and changed by an operator during it (`org set` runs between
// the hash and the write, through `RacingStore`): the write must decide on the rules as stored then.

@Suite struct StaleOrganizationRuleTests {
    func service(
        _ fixture: Fixture,
        before point: RacingStore.Point,
        racing race: @escaping @Sendable () throws -> Void
    ) -> AccountService {
        let clock = fixture.clock
        return AccountService(
            store: RacingStore(fixture.store, before: point, race),
            hasher: fixture.hasher,
            clock: { clock.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
    }

    /// Organization acme, whose admin amy may add agents named acme-*.
    func acmeWithAnAdmin() throws -> Fixture {
        let fixture = try Fixture()
        try fixture.addOrganizations("acme")
        try fixture.add("amy", organization: "acme", role: .admin)
        _ = try fixture.service.setOrganizationAccess(
            caller: root,
            name: "acme",
            gracePeriod: nil,
            trustedNetworks: nil,
            agentNames: ["acme-*"]
        )
        return fixture
    }

    /// An admin adds an agent under a name its organization allows; the operator withdraws that name while the new
    /// password is hashed. The account is not created, and the refusal names the rules as they are now. Before, the
    /// decision taken on the names read before the hash stood, and the account was created.
    @Test func anAdminsNewAgent_whenItsNameIsWithdrawnDuringTheHash_isRefused() throws {
        let fixture = try acmeWithAnAdmin()
        let service = fixture.service
        let racing = self.service(fixture, before: .creatingAnAccount) {
            _ = try service.setOrganizationAccess(
                caller: root,
                name: "acme",
                gracePeriod: nil,
                trustedNetworks: nil,
                agentNames: ["ops-*"]
            )
        }
        let amy = try fixture.caller("amy")
        let before = try fixture.newestAuditSequence()
        let reply = answer {
            _ = try racing.addAccount(
                caller: amy,
                name: "acme-bob",
                organization: nil,
                role: .agent,
                requireTwoFactor: false,
                password: Array("Agent-Passw0rd!".utf8)
            )
        }
        #expect(try fixture.store.organization(named: OrganizationName("acme"))?.agentNames.map(\.value) == ["ops-*"])
        #expect(reply.hasPrefix("notPermitted: an admin of 'acme' may not add 'acme-bob'"), "\(reply)")
        #expect(reply.contains("the names its admin may add are ops-*"), "\(reply)")
        #expect(try fixture.stored("acme-bob") == nil)
        let records = try fixture.auditRecords(after: before).filter { $0.action == .accountAdd }
        #expect(records.map(\.outcome) == [.refused])
    }

    /// The organization made to require two-factor login while an admin's new agent is hashed: the agent starts in
    /// `pending`, as every member does now. Before, it was created `off`, after `org set` had moved the others.
    @Test func aNewAgent_whenTheOrganizationRequires2FADuringTheHash_startsPending() throws {
        let fixture = try acmeWithAnAdmin()
        let service = fixture.service
        let racing = self.service(fixture, before: .creatingAnAccount) {
            _ = try service.setOrganization(caller: root, name: "acme", requireTwoFactor: true)
        }
        let added = try racing.addAccount(
            caller: try fixture.caller("amy"),
            name: "acme-cid",
            organization: nil,
            role: .agent,
            requireTwoFactor: false,
            password: Array("Agent-Passw0rd!".utf8)
        )
        #expect(added.twoFactor == .pending)
        #expect(try fixture.stored("acme-cid")?.twoFactor == .pending)
    }

    /// Two operators make an admin of beta at once: the second account is created while the first one's password
    /// is hashed, after the first found no admin. The first is refused, naming the admin that won, and nothing of it
    /// is stored. Before, both were created, and beta had two admins.
    @Test func anAdmin_whenAnotherIsCreatedDuringTheHash_isRefused() throws {
        let fixture = try Fixture()
        try fixture.addOrganizations("beta")
        let racing = self.service(fixture, before: .creatingAnAccount) {
            try fixture.add("ben", organization: "beta", role: .admin)
        }
        let reply = answer {
            _ = try racing.addAccount(
                caller: root,
                name: "bea",
                organization: "beta",
                role: .admin,
                requireTwoFactor: false,
                password: Array("Admin-Passw0rd!".utf8)
            )
        }
        #expect(
            reply == "invalidArgument: 'beta' already has an admin, 'ben': an organization has one admin "
                + "(remove that account first, or add this one as an agent)"
        )
        #expect(try fixture.stored("bea") == nil)
        let admins = try fixture.store.accounts(in: OrganizationName("beta"), after: nil, limit: 10)
            .filter { $0.role == .admin }.map(\.name.value)
        #expect(admins == ["ben"])
    }

    /// A login with a code from sshd earns a grace of the organization's period; the operator turns the period off
    /// (0) or shortens it (60 s) while the login's password is hashed. The grace the login starts is the new
    /// period's: none, or 60 s. Before, it was the old period's hour.
    @Test(arguments: [0, 60] as [Int64])
    func aGraceStartedByALogin_whenThePeriodIsShortenedDuringTheHash_hasTheNewLength(seconds: Int64) throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("ivy")
        let service = fixture.service
        _ = try service.setOrganizationAccess(caller: root, name: "default", gracePeriod: 3_600, trustedNetworks: nil)
        let racing = self.service(fixture, before: .checkingAnAttempt) {
            _ = try service.setOrganizationAccess(
                caller: root,
                name: "default",
                gracePeriod: seconds,
                trustedNetworks: nil
            )
        }
        fixture.clock.advance(by: 30)
        let start = fixture.clock.now
        let code = try oathtool(secret, at: start)
        let answer = try racing.login(user: "ivy", password: password, code: .totp(code), context: sshd)
        #expect(answer == .ok)
        #expect(try fixture.store.organization(named: .default)?.gracePeriod == seconds)
        let graces = try #require(try fixture.stored("ivy")).activeGraces(at: start)
        #expect(graces.map(\.expiresAt) == (seconds == 0 ? [] : [start + seconds]))
        fixture.clock.advance(by: 90)
        #expect(try service.login(user: "ivy", password: password, code: .none, context: sshd) == .codeNeeded)
    }

    /// Turning the grace period off, or shortening it, ends or shortens the members' running graces at once:
    /// each now ends the new period after it started. A longer period extends none. Before, a grace started under
    /// the old period ran to its end.
    @Test func runningGraces_whenTheGracePeriodIsShortenedOrTurnedOff_endByTheNewPeriod() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("jo")
        let service = fixture.service
        _ = try service.setOrganizationAccess(caller: root, name: "default", gracePeriod: 3_600, trustedNetworks: nil)
        fixture.clock.advance(by: 30)
        let start = fixture.clock.now
        let code = try oathtool(secret, at: start)
        #expect(try service.login(user: "jo", password: password, code: .totp(code), context: sshd) == .ok)
        #expect(try fixture.stored("jo")?.activeGraces(at: start).map(\.expiresAt) == [start + 3_600])
        fixture.clock.advance(by: 60)
        // Shortened to 10 minutes: the grace now ends 10 minutes after it started, and still lets a login in.
        _ = try service.setOrganizationAccess(caller: root, name: "default", gracePeriod: 600, trustedNetworks: nil)
        #expect(try fixture.stored("jo")?.activeGraces(at: start).map(\.expiresAt) == [start + 600])
        #expect(try service.login(user: "jo", password: password, code: .none, context: sshd) == .ok)
        // A longer period again does not give back what was taken.
        _ = try service.setOrganizationAccess(caller: root, name: "default", gracePeriod: 7_200, trustedNetworks: nil)
        #expect(try fixture.stored("jo")?.activeGraces(at: start).map(\.expiresAt) == [start + 600])
        // Off: the grace ends at once, and the next login needs a code.
        _ = try service.setOrganizationAccess(caller: root, name: "default", gracePeriod: 0, trustedNetworks: nil)
        #expect(try fixture.stored("jo")?.graces == [])
        #expect(try service.login(user: "jo", password: password, code: .none, context: sshd) == .codeNeeded)
    }
}

private let password = Array("pass-phrase".utf8)

/// sshd, through the PAM module, for a user logging in from 192.0.2.9.
private let sshd = LoginContext(
    peerIsPrivileged: true,
    peerUID: 0,
    reportedRemoteHost: "192.0.2.9",
    service: "sshd",
    peerSession: nil
)
