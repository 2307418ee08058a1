import AccountService
import AccountStore
import Authentication
import OneTimePassword
import Testing

// A refused administrative request must not tell a caller whether an account it may not see exists: the same
// answer, the same durable commits (LMDBAccountStore.durableCommits, as in DenialCostTests) and the same audit
// record for an account outside its scope and for a name without one (security review of 2026-12-06, findings
// A, B and E). Refusals are audited under the caller's own organization (finding C), at most a few per account
// a minute (finding B), and a self-service request that changes nothing writes nothing (finding D).

private let password = Array("pass-phrase".utf8)

/// One request as the service serves it, with `name` as its target.
private struct Request: Sendable {
    var label: String
    /// Whether a refusal of it is audited (reads are not).
    var audited: Bool = true
    var run: @Sendable (AccountService, Caller, String) throws -> Void
}

/// How a request ended, as the caller sees it.
/// Every request that names an account, each with the authenticator label `label` where it takes one.
private func requestsNaming(label: String) -> [Request] {
    [
        Request(label: "UserRemove") { try $0.removeAccount(caller: $1, name: $2) },
        Request(label: "UserSetPassword") {
            try $0.setPassword(caller: $1, name: $2, password: Array("another pass-phrase".utf8))
        },
        Request(label: "TwoFactorDisable") { try $0.disableTwoFactor(caller: $1, name: $2) },
        Request(label: "TwoFactorForce") { try $0.forceTwoFactor(caller: $1, name: $2) },
        Request(label: "TwoFactorReset") { try $0.resetTwoFactor(caller: $1, name: $2) },
        Request(label: "RecoveryCodesIssue") { _ = try $0.issueRecoveryCodes(caller: $1, name: $2) },
        Request(label: "Unlock") { try $0.unlock(caller: $1, name: $2) },
        Request(label: "EnrollBegin") { _ = try $0.beginEnrollment(caller: $1, name: $2, parameters: .standard) },
        Request(label: "EnrollConfirm") { _ = try $0.confirmEnrollment(caller: $1, name: $2, code: "123456") },
        Request(label: "GraceRevoke") { try $0.revokeGraces(caller: $1, name: $2) },
        Request(label: "ExemptAdd") {
            try $0.addExemption(caller: $1, name: $2, service: "cron", until: 2_000_000_000, fromUID: nil)
        },
        Request(label: "ExemptRemove") { try $0.removeExemption(caller: $1, name: $2, service: "cron") },
        Request(label: "AuthenticatorAddBegin \(label)") {
            _ = try $0.beginAuthenticator(caller: $1, name: $2, label: label, parameters: .standard)
        },
        Request(label: "AuthenticatorAddConfirm \(label)") {
            try $0.confirmAuthenticator(caller: $1, name: $2, label: label, code: "123456")
        },
        Request(label: "AuthenticatorRemove \(label)") {
            try $0.removeAuthenticator(caller: $1, name: $2, label: label)
        },
        Request(label: "AuthenticatorResync \(label)") {
            try $0.resyncAuthenticator(
                caller: $1,
                name: $2,
                label: label,
                first: "123456",
                second: "654321",
                peerUID: 1000
            )
        },
        Request(label: "UserShow", audited: false) { _ = try $0.status(caller: $1, name: $2, originLocksShown: 20) },
        Request(label: "AuthenticatorList", audited: false) { _ = try $0.authenticators(caller: $1, name: $2) },
        Request(label: "AccessShow", audited: false) { _ = try $0.accessGrants(caller: $1, name: $2) },
        Request(label: "AuditQuery user", audited: false) {
            _ = try $0.auditTrail(caller: $1, account: $2, organization: nil, since: nil, before: nil, limit: 10)
        },
    ]
}

/// Every request that names an organization.
private let requestsNamingAnOrganization: [Request] = [
    Request(label: "UserAdd") {
        _ = try $0.addAccount(
            caller: $1,
            name: "newcomer",
            organization: $2,
            role: .agent,
            requireTwoFactor: false,
            password: password
        )
    },
    Request(label: "OrganizationAdd") { _ = try $0.addOrganization(caller: $1, name: $2, requireTwoFactor: true) },
    Request(label: "OrganizationSet") { _ = try $0.setOrganization(caller: $1, name: $2, requireTwoFactor: true) },
    Request(label: "OrganizationRemove") { try $0.removeOrganization(caller: $1, name: $2) },
    Request(label: "OrganizationAccessSet") {
        _ = try $0.setOrganizationAccess(caller: $1, name: $2, gracePeriod: .some(600), trustedNetworks: nil)
    },
    Request(label: "OrganizationShow", audited: false) { _ = try $0.organization(caller: $1, name: $2) },
]

/// What one request cost and left behind.
private struct Cost: Equatable, CustomStringConvertible {
    /// The answer, with the name it asked for written as NAME (a refusal may repeat it).
    var answer: String
    var commits: Int
    /// The audit records it appended, the name it asked for written as NAME.
    var records: [String]

    var description: String { "\(answer); \(commits) commits; \(records)" }
}

@Suite struct RefusalCostTests {
    /// acme: an admin, an agent with 2FA off and one with 2FA on (authenticator `default`); default: `mallory`
    /// (the reviewer's agent) and `carol`; other: `oz`, an admin.
    private func fixtureWithTwoOrganizations() throws -> Fixture {
        let fixture = try Fixture()
        try fixture.addOrganizations("acme", "other")
        for (name, organization, role) in [
            ("adm", "acme", Role.admin), ("alice", "acme", .agent), ("bob", "acme", .agent), ("oz", "other", .admin),
        ] {
            try fixture.add(name, organization: organization, role: role)
        }
        try fixture.add("mallory")
        try fixture.add("carol")
        let offer = try fixture.service.beginEnrollment(caller: root, name: "bob", parameters: .standard)
        let secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
        try fixture.service.confirmEnrollment(
            caller: root,
            name: "bob",
            code: try oathtool(secret, at: fixture.clock.now)
        )
        return fixture
    }

    /// Runs `request` on `name` as `caller` in a fresh minute (so the caller's audit budget is whole) and says
    /// what it cost, with the name it asked for written as NAME.
    private func cost(_ fixture: Fixture, _ request: Request, as caller: Caller, on name: String) throws -> Cost {
        fixture.clock.advance(by: AccountLimits.interval)
        let sequence = try fixture.newestAuditSequence()
        let commits = fixture.store.durableCommits
        let answer = answer { try request.run(fixture.service, caller, name) }
        let appended = try fixture.auditRecords(after: sequence).map {
            "\($0.actor) \($0.action.rawValue) \($0.outcome.rawValue) target=\($0.target?.value ?? "-") "
                + "org=\($0.organization?.value ?? "-") \($0.detail.replacing(name, with: "NAME"))"
        }
        return Cost(
            answer: answer.replacing(name, with: "NAME"),
            commits: fixture.store.durableCommits - commits,
            records: appended
        )
    }

    /// Findings A, B and E: for an agent and for an admin of another organization, every request naming an
    /// account answers, commits and audits alike for accounts it may not see (2FA on or off, an admin, an
    /// account of its own organization that is not its own) and for a name without an account. Labels that are
    /// invalid, absent or present tell nothing either. Before, an existing account's refusal made one more
    /// synced commit, and the label was checked before the caller was.
    @Test(arguments: ["-bad", "zz", "default"])
    func outOfScope_answersCommitsAndAuditsAlike_forAnAccountAndANameWithoutOne(label: String) throws {
        let fixture = try fixtureWithTwoOrganizations()
        for callerName in ["mallory", "oz"] {
            let caller = try fixture.caller(callerName)
            // None of these is the caller's to see: oz, the admin of `other`, may see mallory no more than the rest.
            let targets = ["alice", "bob", "adm", "carol"] + (callerName == "oz" ? ["mallory"] : []) + ["ghost"]
            for request in requestsNaming(label: label) {
                var costs: [String: Cost] = [:]
                for target in targets {
                    costs[target] = try cost(fixture, request, as: caller, on: target)
                }
                let unknown = try #require(costs["ghost"])
                #expect(unknown.answer.hasPrefix("notPermitted: "), "\(callerName) \(request.label): \(unknown)")
                // A refused request is audited (one record, one commit); a refused read is not.
                #expect(unknown.commits == (request.audited ? 1 : 0), "\(callerName) \(request.label): \(unknown)")
                #expect(unknown.records.count == (request.audited ? 1 : 0), "\(callerName) \(request.label)")
                for (target, cost) in costs where cost != unknown {
                    Issue.record(
                        "\(callerName) \(request.label) \(target): \(cost), a name without an account: \(unknown)"
                    )
                }
            }
        }
        // Nothing changed for anyone.
        #expect(try fixture.stored("alice") != nil && fixture.stored("bob")?.twoFactor == .on(.enforced))
    }

    /// Findings B and C: UserAdd and the organization requests of an agent and of another organization's admin
    /// answer, commit and audit alike for an existing organization and a name without one, and are audited
    /// under the caller's own organization with the requested one in the detail. Before, the record went to the
    /// organization the caller named: an agent of `default` wrote into acme's trail, which acme's admin reads.
    @Test func organizationRequests_areRefusedAlike_andAuditedUnderTheCallersOrganization() throws {
        let fixture = try fixtureWithTwoOrganizations()
        for callerName in ["mallory", "oz"] {
            let caller = try fixture.caller(callerName)
            let ownOrganization = callerName == "mallory" ? "default" : "other"
            for request in requestsNamingAnOrganization {
                let costs = try ["acme", "nowhere"].map { try cost(fixture, request, as: caller, on: $0) }
                #expect(costs[0] == costs[1], "\(callerName) \(request.label): \(costs)")
                #expect(costs[0].answer.hasPrefix("notPermitted: "), "\(callerName) \(request.label): \(costs)")
                #expect(costs[0].commits == (request.audited ? 1 : 0), "\(callerName) \(request.label): \(costs)")
                for record in costs[0].records {
                    #expect(record.contains(" org=\(ownOrganization) "), "\(record)")
                    #expect(record.contains("NAME"), "the detail names what was asked for: \(record)")
                }
            }
        }
        // acme's admin reads nothing of it.
        let acme = try fixture.service.auditTrail(
            caller: try fixture.caller("adm"),
            account: nil,
            organization: nil,
            since: nil,
            before: nil,
            limit: 1000
        )
        #expect(!acme.contains { $0.outcome == .refused }, "\(acme)")
    }

    /// Finding B: a flood of refusals of one account leaves at most `refusalRecordsPerAccount` records a
    /// minute; the next minute's first record says how many were not audited. Refusals of other accounts
    /// are audited meanwhile. Before, every refusal appended a record in its own synced commit (2,107 a second
    /// from one agent), replacing the whole capped trail in under a minute.
    @Test func aFloodOfRefusals_leavesAtMostTheBudgetOfRecords_andSaysHowManyWereNot() throws {
        let fixture = try fixtureWithTwoOrganizations()
        let mallory = try fixture.caller("mallory")
        let sequence = try fixture.newestAuditSequence()
        let commits = fixture.store.durableCommits
        let flood = 200
        for index in 0..<flood {
            let target = index.isMultiple(of: 2) ? "alice" : "ghost"
            let refused = answer { try fixture.service.forceTwoFactor(caller: mallory, name: target) }
            #expect(refused == "notPermitted: an agent may act only on its own account 'mallory'")
        }
        #expect(fixture.store.durableCommits - commits == AccountLimits.refusalRecordsPerAccount)
        #expect(try fixture.auditRecords(after: sequence).count == AccountLimits.refusalRecordsPerAccount)

        // Another account's refusal in the same minute is audited.
        let carol = try fixture.caller("carol")
        _ = answer { try fixture.service.forceTwoFactor(caller: carol, name: "alice") }
        #expect(try fixture.auditRecords(after: sequence).count == AccountLimits.refusalRecordsPerAccount + 1)

        fixture.clock.advance(by: AccountLimits.interval)
        _ = answer { try fixture.service.forceTwoFactor(caller: mallory, name: "alice") }
        let next = try #require(try fixture.auditRecords(after: sequence).first)
        let notAudited = flood - AccountLimits.refusalRecordsPerAccount
        #expect(next.actor == .account(try AccountName("mallory")) && next.outcome == .refused)
        #expect(next.detail.hasSuffix("(+\(notAudited) earlier not audited)"), "\(next.detail)")
        #expect(next.detail.utf8.count <= 128)
    }

    /// Finding B: wrong codes at the account's own enrollment are failures audited within the same budget.
    @Test func aFloodOfWrongEnrollmentCodes_leavesAtMostTheBudgetOfRecords() throws {
        let fixture = try fixtureWithTwoOrganizations()
        let mallory = try fixture.caller("mallory")
        _ = try fixture.service.beginEnrollment(caller: mallory, name: "mallory", parameters: .standard)
        let sequence = try fixture.newestAuditSequence()
        let commits = fixture.store.durableCommits
        for _ in 0..<100 {
            let wrong = answer {
                _ = try fixture.service.confirmEnrollment(caller: mallory, name: "mallory", code: "000000")
            }
            #expect(wrong.hasPrefix("wrongCode: "))
        }
        #expect(fixture.store.durableCommits - commits == AccountLimits.refusalRecordsPerAccount)
        let failures = try fixture.auditRecords(after: sequence)
        #expect(failures.count == AccountLimits.refusalRecordsPerAccount)
        #expect(failures.allSatisfy { $0.action == .enroll && $0.outcome == .failed })
    }

    /// Finding B: many accounts of one organization flooding together are bounded as a whole too (per
    /// organization: `AdminCostTests.refusalsPastOneOrganizationsCap_doNotHoldBackAnothersRecords`).
    @Test func refusalsOfManyAccountsOfOneOrganization_areBoundedTogether() throws {
        let fixture = try Fixture()
        let accounts = AccountLimits.refusalRecordsPerOrganization / AccountLimits.refusalRecordsPerAccount + 5
        let sequence = try fixture.newestAuditSequence()
        for index in 0..<accounts {
            let agent = try fixture.add("agent\(index)")
            for _ in 0..<AccountLimits.refusalRecordsPerAccount * 2 {
                _ = answer {
                    try fixture.service.unlock(caller: .account(agent), name: "agent\(index)")
                }
            }
        }
        let refused = try fixture.auditRecords(after: sequence).filter { $0.outcome == .refused }
        #expect(refused.count == AccountLimits.refusalRecordsPerOrganization)
    }

    /// Finding D: a self-service request that changes nothing commits nothing and audits nothing: revoking
    /// graces when none runs, disabling 2FA that is off, forcing 2FA that is already required, asking again for
    /// the enrollment in progress. Before: 2 synced commits and an `ok` record each (659 and 798 records a
    /// second from one agent).
    @Test func aRequestThatChangesNothing_commitsNothing() throws {
        let fixture = try fixtureWithTwoOrganizations()
        var mallory = try fixture.caller("mallory")
        let adm = try fixture.caller("adm")
        try fixture.service.forceTwoFactor(caller: adm, name: "alice")
        _ = try fixture.service.beginEnrollment(caller: mallory, name: "mallory", parameters: .standard)
        // Disabling discards the enrollment in progress: a change, written once. The caller goes on with the
        // account as its own change left it, as its session does.
        mallory = .account(try fixture.service.disableTwoFactor(caller: mallory, name: "mallory"))
        #expect(try fixture.stored("mallory")?.pendingEnrollment == nil)
        let sequence = try fixture.newestAuditSequence()
        let commits = fixture.store.durableCommits
        for _ in 0..<20 {
            try fixture.service.revokeGraces(caller: mallory, name: "mallory")
            try fixture.service.disableTwoFactor(caller: mallory, name: "mallory")
            try fixture.service.forceTwoFactor(caller: adm, name: "alice")
            try fixture.service.revokeGraces(caller: root, name: "alice")
        }
        #expect(fixture.store.durableCommits == commits)
        #expect(try fixture.auditRecords(after: sequence).isEmpty)
        #expect(try fixture.stored("alice")?.twoFactor == .pending)
    }

    /// Finding D: an account's own changes that each write (a new enrollment with other parameters, new
    /// recovery codes, a new password, an authenticator being added) are bounded per minute; past the bound
    /// they are refused, write nothing and audit nothing, and the next minute they are served again. An
    /// operator or admin is not bounded. Before: 2,311 enrollments a second, each a synced commit.
    @Test func anAccountsOwnChanges_areBoundedPerMinute() throws {
        let fixture = try fixtureWithTwoOrganizations()
        let bob = try fixture.caller("bob")
        let budget = AccountLimits.selfServiceChangesPerAccount
        var commits = fixture.store.durableCommits
        let sequence = try fixture.newestAuditSequence()
        for index in 0..<budget * 3 {
            let parameters = TOTPParameters(algorithm: .sha1, digits: 6, period: 30 + index)
            let offer = answer {
                _ = try fixture.service.beginEnrollment(caller: bob, name: "bob", parameters: parameters)
            }
            #expect(offer.hasPrefix(index < budget ? "done" : "notPermitted: 'bob' changed its own"), "\(index)")
        }
        #expect(fixture.store.durableCommits - commits == budget)
        for change in ["recovery codes", "password", "authenticator"] {
            let refused = answer {
                switch change {
                case "recovery codes": _ = try fixture.service.issueRecoveryCodes(caller: bob, name: "bob")
                case "password":
                    try fixture.service.setPassword(caller: bob, name: "bob", password: Array("a new pass-phrase".utf8))
                default:
                    _ = try fixture.service.beginAuthenticator(
                        caller: bob,
                        name: "bob",
                        label: "phone",
                        parameters: .standard
                    )
                }
            }
            #expect(refused.hasPrefix("notPermitted: 'bob' changed its own"), "\(change): \(refused)")
        }
        #expect(fixture.store.durableCommits - commits == budget)
        #expect(try fixture.auditRecords(after: sequence).isEmpty)

        // An operator is not bounded.
        commits = fixture.store.durableCommits
        for _ in 0..<budget * 2 { _ = try fixture.service.issueRecoveryCodes(caller: root, name: "bob") }
        #expect(fixture.store.durableCommits - commits == budget * 4)

        fixture.clock.advance(by: AccountLimits.interval)
        #expect(try fixture.service.issueRecoveryCodes(caller: bob, name: "bob").count == 10)
    }
}
