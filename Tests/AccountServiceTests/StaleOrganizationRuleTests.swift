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

    /// An admin adds an agent under a name its organization allows; the operator withdraws that name while the new
    /// password is hashed. The account is not created, and the refusal names the rules as they are now. Before, the
    /// decision taken on the names read before the hash stood, and the account was created.
    @Test func anAdminsNewAgent_whenItsNameIsWithdrawnDuringTheHash_isRefused() throws {
        let fixture = try Fixture()
        try fixture.addOrganizations("acme")
        try fixture.add("amy", organization: "acme", role: .admin)
        let service = fixture.service
        _ = try service.setOrganizationAccess(
            caller: root,
            name: "acme",
            gracePeriod: nil,
            trustedNetworks: nil,
            agentNames: ["acme-*"]
        )
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
        let fixture = try Fixture()
        try fixture.addOrganizations("acme")
        try fixture.add("amy", organization: "acme", role: .admin)
        let service = fixture.service
        _ = try service.setOrganizationAccess(
            caller: root,
            name: "acme",
            gracePeriod: nil,
            trustedNetworks: nil,
            agentNames: ["acme-*"]
        )
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
}
