import AccountService
import AccountStore
import Authentication
import Testing

// What an admin can make the shared, capped audit trail and the disk do (security re-review of 2026-12-06, N3 and
// N4): a request that changes nothing writes and audits nothing; an admin's changes to other accounts are
// bounded per minute, an operator's are not; and the refusal records of one organization's accounts are capped
// per organization, so they cannot hold back another organization's.

/// How a request ended, as the caller sees it.
@Suite struct AdminCostTests {
    /// acme: `adm`, its admin, and the agents `alice` (2FA off) and `bob` (2FA pending); other: `oz`, an agent.
    private func fixture() throws -> Fixture {
        let fixture = try Fixture()
        try fixture.addOrganizations("acme", "other")
        for (name, organization, role) in [
            ("adm", "acme", Role.admin), ("alice", "acme", .agent), ("bob", "acme", .agent), ("oz", "other", .agent),
        ] {
            try fixture.add(name, organization: organization, role: role)
        }
        try fixture.service.forceTwoFactor(caller: root, name: "bob")
        return fixture
    }

    /// N3: Unlock of an account with nothing to unlock, Reset of an account already pending with nothing to
    /// discard, ExemptAdd of the exemption already there, ExemptRemove of one that is not, and an operator's
    /// OrganizationSet and OrganizationAccessSet to the settings already in place answer as before and commit and
    /// audit nothing. Before: Unlock 3 synced commits and an `ok` record each, Reset and ExemptAdd 2 and one
    /// (2,500 and 3,357 records a second from one admin), the organization requests 2 and one.
    @Test func adminRequestsThatChangeNothing_commitNothingAndAuditNothing() throws {
        let fixture = try fixture()
        let adm = try fixture.caller("adm")
        let until: UnixTime = fixture.clock.now + 86_400
        try fixture.service.addExemption(caller: adm, name: "alice", service: "cron", until: until, fromUID: 7)
        _ = try fixture.service.setOrganizationAccess(
            caller: root,
            name: "acme",
            gracePeriod: .some(600),
            trustedNetworks: ["192.0.2.0/24"]
        )
        let sequence = try fixture.newestAuditSequence()
        let commits = fixture.store.durableCommits
        for _ in 0..<20 {
            try fixture.service.unlock(caller: adm, name: "alice")
            try fixture.service.resetTwoFactor(caller: adm, name: "bob")
            try fixture.service.addExemption(caller: adm, name: "alice", service: "cron", until: until, fromUID: 7)
            let missing = answer { try fixture.service.removeExemption(caller: adm, name: "alice", service: "sshd") }
            #expect(missing == "invalidArgument: 'alice' has no exemption for service 'sshd': see `exempt list alice`")
            let status = try fixture.service.setOrganization(caller: root, name: "acme", requireTwoFactor: false)
            #expect(status.members == 3 && !status.organization.requiresTwoFactor)
            let access = try fixture.service.setOrganizationAccess(
                caller: root,
                name: "acme",
                gracePeriod: .some(600),
                trustedNetworks: ["192.0.2.0/24"]
            )
            #expect(access.gracePeriod == 600 && access.trustedNetworks.map(\.description) == ["192.0.2.0/24"])
            _ = try fixture.service.setOrganizationAccess(
                caller: root,
                name: "acme",
                gracePeriod: nil,
                trustedNetworks: nil
            )
        }
        #expect(fixture.store.durableCommits == commits)
        #expect(try fixture.auditRecords(after: sequence).isEmpty)
        #expect(try fixture.stored("bob")?.twoFactor == .pending)
        #expect(try fixture.stored("alice")?.exemptions.map(\.grantedAt) == [fixture.clock.now])

        // Each of them still changes what there is to change, once.
        _ = try fixture.service.login(user: "alice", password: Array("wrong".utf8), code: .none, origin: .local)
        try fixture.service.unlock(caller: adm, name: "alice")
        try fixture.service.addExemption(caller: adm, name: "alice", service: "cron", until: until + 1, fromUID: 7)
        _ = try fixture.service.setOrganization(caller: root, name: "acme", requireTwoFactor: true)
        // A disable there leaves the member pending, which it is already: nothing to write or audit.
        try fixture.service.disableTwoFactor(caller: root, name: "alice")
        #expect(try fixture.stored("alice")?.twoFactor == .pending)
        // Required, but a member left off since (no request does that any more: a restore of an older store, a
        // race with the requirement): the same request moves it to pending again.
        try fixture.store.update(try AccountName("alice")) { $0.twoFactor = .off }
        _ = try fixture.service.setOrganization(caller: root, name: "acme", requireTwoFactor: true)
        #expect(try fixture.stored("alice")?.twoFactor == .pending)
        let changes = try fixture.auditRecords(after: sequence).map(\.action)
        #expect(
            changes.filter { $0 != .login } == [.organizationSet, .organizationSet, .exemptionAdd, .unlock],
            "\(changes)"
        )
    }

    /// N3: an admin's changes to other accounts (here Force and Disable back and forth, each a real change) are
    /// bounded per minute; past the bound they are refused with the seconds to wait, commit nothing and audit
    /// nothing, and the next minute they are served again. An operator's are not bounded. Before: 1,349 real
    /// changes a second from one admin, each audited.
    @Test func anAdminsChangesToOtherAccounts_areBoundedPerMinute_anOperatorsAreNot() throws {
        let fixture = try fixture()
        let adm = try fixture.caller("adm")
        let budget = AccountLimits.adminChangesPerAccount
        var sequence = try fixture.newestAuditSequence()
        for index in 0..<budget {
            if index.isMultiple(of: 2) {
                try fixture.service.forceTwoFactor(caller: adm, name: "alice")
            } else {
                try fixture.service.disableTwoFactor(caller: adm, name: "alice")
            }
        }
        #expect(try fixture.auditRecords(after: sequence).count == budget)
        let commits = fixture.store.durableCommits
        sequence = try fixture.newestAuditSequence()
        let refusals = [
            answer { try fixture.service.forceTwoFactor(caller: adm, name: "alice") },
            answer { try fixture.service.resetTwoFactor(caller: adm, name: "alice") },
            answer {
                try fixture.service.setPassword(caller: adm, name: "bob", password: Array("a new pass-phrase".utf8))
            },
            answer {
                try fixture.service.addExemption(
                    caller: adm,
                    name: "bob",
                    service: "cron",
                    until: fixture.clock.now + 3600,
                    fromUID: nil
                )
            },
        ]
        for refused in refusals {
            #expect(
                refused.hasPrefix(
                    "notPermitted: 'adm' changed accounts of its organization \(budget) times within a minute: try again in "
                ),
                "\(refused)"
            )
        }
        // A request that changes nothing is still answered.
        try fixture.service.disableTwoFactor(caller: adm, name: "alice")
        #expect(fixture.store.durableCommits == commits)
        #expect(try fixture.auditRecords(after: sequence).isEmpty)
        #expect(try fixture.stored("alice")?.twoFactor == .off)

        // An operator is not bounded.
        for index in 0..<budget * 2 {
            if index.isMultiple(of: 2) {
                try fixture.service.forceTwoFactor(caller: root, name: "alice")
            } else {
                try fixture.service.disableTwoFactor(caller: root, name: "alice")
            }
        }
        #expect(try fixture.auditRecords(after: sequence).count == budget * 2)

        fixture.clock.advance(by: AccountLimits.interval)
        try fixture.service.forceTwoFactor(caller: adm, name: "alice")
        #expect(try fixture.stored("alice")?.twoFactor == .pending)
    }

    /// N4: the refusal records of one organization's accounts are capped per organization: acme's agents refusing
    /// past acme's cap leave another organization's refusals audited. Before, the cap was one for all
    /// organizations: 20 agents of one admin, 6 refusals each, held back every other organization's refusal
    /// records for the rest of the minute.
    @Test func refusalsPastOneOrganizationsCap_doNotHoldBackAnothersRecords() throws {
        let fixture = try fixture()
        let perAccount = AccountLimits.refusalRecordsPerAccount
        let agents = AccountLimits.refusalRecordsPerOrganization / perAccount + 5
        let sequence = try fixture.newestAuditSequence()
        for index in 0..<agents {
            try fixture.add("flood\(index)", organization: "acme")
            let agent = try fixture.caller("flood\(index)")
            for _ in 0..<perAccount + 1 {
                _ = answer { try fixture.service.forceTwoFactor(caller: agent, name: "alice") }
            }
        }
        let acme = try fixture.auditRecords(after: sequence).filter { $0.outcome == .refused }
        #expect(acme.count == AccountLimits.refusalRecordsPerOrganization)
        #expect(acme.allSatisfy { $0.organization?.value == "acme" })

        let oz = try fixture.caller("oz")
        let refused = answer { try fixture.service.forceTwoFactor(caller: oz, name: "alice") }
        #expect(refused == "notPermitted: an agent may act only on its own account 'oz'")
        let others = try fixture.auditRecords(after: sequence).filter { $0.organization?.value == "other" }
        #expect(others.map(\.outcome) == [.refused], "\(others)")
    }
}
