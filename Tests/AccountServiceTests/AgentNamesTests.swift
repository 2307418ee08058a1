import AccountService
import AccountStore
import Authentication
import Testing

/// An admin adds agents only under the names an operator allowed its organization (`org set --agent-name`):
/// an account's name is its login on the hosts that ask twofactord, so a name an admin chose freely could be
/// `root`'s, or any user's who has no account yet.
@Suite struct AgentNamesTests {
    let fixture: Fixture

    init() throws {
        fixture = try Fixture()
        try fixture.addOrganizations("acme", "other")
        try fixture.add("amy", organization: "acme", role: .admin)
        try fixture.add("olga", organization: "other")
    }

    func addAsAmy(_ name: String) throws -> String {
        let amy = try fixture.caller("amy")
        return answer {
            _ = try fixture.service.addAccount(
                caller: amy,
                name: name,
                organization: nil,
                role: .agent,
                requireTwoFactor: false,
                password: Array("Agent-Passw0rd!".utf8)
            )
        }
    }

    func allow(_ patterns: [String]?, in organization: String = "acme") throws {
        _ = try fixture.service.setOrganizationAccess(
            caller: root,
            name: organization,
            gracePeriod: nil,
            trustedNetworks: nil,
            agentNames: patterns
        )
    }

    @Test func aNewOrganizationsAdmin_addsNoAccount_andTheRefusalIsAuditedAndSaysWhoMay() throws {
        let before = try fixture.newestAuditSequence()
        let refused = try addAsAmy("root")
        #expect(refused.hasPrefix("notPermitted: an admin of 'acme' may not add 'root'"), "\(refused)")
        #expect(refused.contains("an operator adds its accounts"), "\(refused)")
        #expect(refused.contains("twofactorctl org set acme --agent-name PATTERN"), "\(refused)")
        #expect(try fixture.stored("root") == nil)
        let records = try fixture.auditRecords(after: before)
        #expect(records.map(\.action) == [.accountAdd] && records.map(\.outcome) == [.refused])
        #expect(records.first?.organization?.value == "acme")
        // An operator still adds any name, in any organization.
        try fixture.add("root", organization: "acme")
        #expect(try fixture.stored("root")?.organization.value == "acme")
    }

    @Test func anAdmin_addsOnlyNamesItsPatternsMatch() throws {
        try allow(["acme-*", "ann"])
        #expect(try addAsAmy("acme-bob") == "done")
        #expect(try addAsAmy("ann") == "done")
        for name in ["root", "anna", "acme", "bob-acme-x"] {
            let refused = try addAsAmy(name)
            #expect(refused.contains("the names its admin may add are acme-* ann"), "\(name): \(refused)")
            #expect(try fixture.stored(name) == nil)
        }
        // Cleared again, the organization is back to operators only; the agents added stay.
        try allow([])
        #expect(try addAsAmy("acme-cid").hasPrefix("notPermitted"))
        #expect(try fixture.stored("acme-bob")?.organization.value == "acme")
    }

    @Test func aNameOutsideThePatterns_isRefusedAlike_whetherAnotherOrganizationHoldsItOrNot() throws {
        try allow(["a*"])
        let taken = try addAsAmy("olga")
        let free = try addAsAmy("oscar")
        #expect(
            taken.replacingOccurrences(of: "olga", with: "NAME") == free.replacingOccurrences(of: "oscar", with: "NAME")
        )
        // Within the patterns, a taken name is told by the add itself, as before.
        try allow(["*"])
        #expect(try addAsAmy("olga").hasPrefix("accountExists"))
    }

    @Test func patterns_areCheckedAndKept_andOnlyAnOperatorSetsThem() throws {
        for bad in ["a b", "-x*", String(repeating: "a", count: 65)] {
            #expect(answer { try allow([bad]) }.hasPrefix("invalidArgument"), "\(bad)")
        }
        let tooMany = (0...AccountService.maximumAgentNames).map { "n\($0)" }
        #expect(answer { try allow(tooMany) }.hasPrefix("invalidArgument"))
        try allow(["b*", "a", "b*"])
        let stored = try #require(try fixture.store.organization(named: try OrganizationName("acme")))
        #expect(stored.agentNames.map(\.value) == ["b*", "a"])
        // Left as they are when not given.
        _ = try fixture.service.setOrganizationAccess(
            caller: root,
            name: "acme",
            gracePeriod: .some(60),
            trustedNetworks: nil
        )
        #expect(
            try fixture.store.organization(named: try OrganizationName("acme"))?.agentNames.map(\.value) == ["b*", "a"]
        )

        let amy = try fixture.caller("amy")
        let byAdmin = answer {
            _ = try fixture.service.setOrganizationAccess(
                caller: amy,
                name: "acme",
                gracePeriod: nil,
                trustedNetworks: nil,
                agentNames: ["*"]
            )
        }
        #expect(byAdmin.hasPrefix("notPermitted"), "\(byAdmin)")
    }
}
