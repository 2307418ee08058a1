import AccountStore
import Testing

@testable import Authentication

// One test per cell of docs/product.md "Who may do what", allowed and refused, plus the edges the
// table implies: another organization, an agent asking for an admin action, an admin acting on itself.

private func member(_ name: String, _ organization: String, _ role: Role, _ state: TwoFactorState = .off) -> Account {
    Account(
        name: try! AccountName(name),
        organization: try! OrganizationName(organization),
        role: role,
        passwordHash: "$scrypt$unused",
        twoFactor: state,
        createdAt: 1,
        updatedAt: 1
    )
}

private let acmeAdmin = member("amy", "acme", .admin, .on(.enforced))
private let otherAdmin = member("oz", "other", .admin, .on(.self))
private let root = Caller.operator(uid: 0)

private func isAllowed(_ decision: AccessDecision, as capacity: Capacity) -> Bool {
    decision == .allowed(capacity)
}

private func isRefused(_ decision: AccessDecision, saying words: String) -> Bool {
    guard case .refused(let message) = decision else { return false }
    return message.contains(words)
}

@Suite struct AccessPolicyTests {
    // MARK: enroll (scan QR, confirm code): the account itself only

    @Test func enroll_byTheAccountItself_isAllowedAsOwnAccount() {
        let ann = member("ann", "acme", .agent)
        #expect(isAllowed(AccessPolicy.decide(.account(ann), .enroll, target: ann), as: .ownAccount))
    }

    @Test func enroll_byItsAdmin_isRefused_theAccountEnrollsItself() {
        let ann = member("ann", "acme", .agent, .pending)
        #expect(isRefused(AccessPolicy.decide(.account(acmeAdmin), .enroll, target: ann), saying: "only 'ann'"))
    }

    @Test func enroll_byAnOperator_isAllowed_andCountsAsOperator() {
        let ann = member("ann", "acme", .agent)
        #expect(isAllowed(AccessPolicy.decide(root, .enroll, target: ann), as: .operator))
    }

    // MARK: create an account

    @Test func createAccount_byTheOrganizationsAdmin_isAllowedForAgents() {
        let operation = Operation.createAccount(organization: acmeAdmin.organization, role: .agent)
        #expect(isAllowed(AccessPolicy.decide(.account(acmeAdmin), operation, target: nil), as: .admin))
    }

    @Test func createAccount_byAnAdmin_inAnotherOrganization_orAsAdmin_isRefused() {
        let elsewhere = Operation.createAccount(organization: otherAdmin.organization, role: .agent)
        #expect(
            isRefused(
                AccessPolicy.decide(.account(acmeAdmin), elsewhere, target: nil),
                saying: "only an admin of 'other'"
            )
        )
        let anotherAdmin = Operation.createAccount(organization: acmeAdmin.organization, role: .admin)
        #expect(
            isRefused(AccessPolicy.decide(.account(acmeAdmin), anotherAdmin, target: nil), saying: "only an operator")
        )
    }

    @Test func createAccount_byAnAgent_isRefused() {
        let ann = member("ann", "acme", .agent)
        let operation = Operation.createAccount(organization: ann.organization, role: .agent)
        #expect(isRefused(AccessPolicy.decide(.account(ann), operation, target: nil), saying: "only an admin"))
    }

    @Test func createAccount_byAnOperator_isAllowedAnywhere() {
        let operation = Operation.createAccount(organization: otherAdmin.organization, role: .admin)
        #expect(isAllowed(AccessPolicy.decide(root, operation, target: nil), as: .operator))
    }

    // MARK: another admin of the same organization (a store may hold two from before one admin per organization)

    @Test(arguments: [
        Operation.forceTwoFactor, .resetTwoFactor, .disableTwoFactor, .unlock, .removeAccount, .setPassword,
        .resyncAuthenticator, .removeAuthenticator(last: true),
    ])
    func changes_toAnotherAdminOfTheOrganization_areRefused_onlyAnOperatorMakesThem(_ operation: Operation) {
        let amos = member("amos", "acme", .admin, .on(.self))
        #expect(
            isRefused(AccessPolicy.decide(.account(acmeAdmin), operation, target: amos), saying: "only an operator")
        )
        #expect(isAllowed(AccessPolicy.decide(root, operation, target: amos), as: .operator))
    }

    @Test(arguments: [Operation.showAccount, .readAudit])
    func anotherAdminOfTheOrganization_isStillSeen(_ operation: Operation) {
        let amos = member("amos", "acme", .admin, .on(.self))
        #expect(isAllowed(AccessPolicy.decide(.account(acmeAdmin), operation, target: amos), as: .admin))
    }

    // MARK: force, reset, unlock: the organization's admin or an operator, never the account itself

    @Test(arguments: [Operation.forceTwoFactor, .resetTwoFactor, .unlock, .removeAccount])
    func adminActions_onAnAgentOfItsOrganization_areAllowed(_ operation: Operation) {
        let ann = member("ann", "acme", .agent, .on(.self))
        #expect(isAllowed(AccessPolicy.decide(.account(acmeAdmin), operation, target: ann), as: .admin))
        #expect(isAllowed(AccessPolicy.decide(root, operation, target: ann), as: .operator))
    }

    @Test(arguments: [Operation.forceTwoFactor, .resetTwoFactor, .unlock, .removeAccount, .disableTwoFactor])
    func adminActions_onAnotherOrganization_areRefused_likeAnUnknownAccount(_ operation: Operation) {
        let outsider = member("olga", "other", .agent, .on(.enforced))
        let refusal = AccessPolicy.decide(.account(acmeAdmin), operation, target: outsider)
        #expect(isRefused(refusal, saying: "no such account in your organization 'acme'"))
        #expect(refusal == AccessPolicy.decide(.account(acmeAdmin), operation, target: nil))
    }

    @Test(arguments: [Operation.forceTwoFactor, .resetTwoFactor, .unlock, .removeAccount])
    func adminActions_byAnAgent_onAnotherAccount_areRefused(_ operation: Operation) {
        let ann = member("ann", "acme", .agent)
        let bob = member("bob", "acme", .agent)
        #expect(
            isRefused(AccessPolicy.decide(.account(ann), operation, target: bob), saying: "only on its own account")
        )
    }

    @Test(arguments: [Operation.forceTwoFactor, .resetTwoFactor, .unlock, .removeAccount])
    func adminActions_onItself_areRefused_evenForAnAdmin(_ operation: Operation) {
        let ann = member("ann", "acme", .agent)
        #expect(
            isRefused(AccessPolicy.decide(.account(ann), operation, target: ann), saying: "cannot do this to itself")
        )
        // The admin is told whom to ask: not "an admin of acme", which it is.
        #expect(
            isRefused(
                AccessPolicy.decide(.account(acmeAdmin), operation, target: acmeAdmin),
                saying: "an admin cannot do this to its own account: ask an operator"
            )
        )
    }

    // MARK: disable

    @Test func disable_bySelf_whenSelf_isAllowed() {
        let ann = member("ann", "acme", .agent, .on(.self))
        #expect(isAllowed(AccessPolicy.decide(.account(ann), .disableTwoFactor, target: ann), as: .ownAccount))
    }

    @Test(arguments: [TwoFactorState.on(.enforced), .pending])
    func disable_bySelf_whenEnforcedOrPending_isRefused_sayingToAskTheAdmin(_ state: TwoFactorState) {
        let ann = member("ann", "acme", .agent, state)
        let decision = AccessPolicy.decide(.account(ann), .disableTwoFactor, target: ann)
        #expect(isRefused(decision, saying: "two-factor on 'ann' was required by an admin of 'acme'"))
        #expect(isRefused(decision, saying: "ask them to turn it off"))
    }

    @Test func disable_byAnAdminOnItself_whenEnforced_isRefused_likeAnyAccount() {
        #expect(
            isRefused(
                AccessPolicy.decide(.account(acmeAdmin), .disableTwoFactor, target: acmeAdmin),
                saying: "required by"
            )
        )
    }

    @Test(arguments: [TwoFactorState.on(.self), .on(.enforced), .pending])
    func disable_byTheAdminOrAnOperator_isAllowedInEveryState(_ state: TwoFactorState) {
        let ann = member("ann", "acme", .agent, state)
        #expect(isAllowed(AccessPolicy.decide(.account(acmeAdmin), .disableTwoFactor, target: ann), as: .admin))
        #expect(isAllowed(AccessPolicy.decide(root, .disableTwoFactor, target: ann), as: .operator))
    }

    // MARK: recovery codes

    @Test func recoveryCodes_bySelfWithTwoFactorOn_isAllowed_andNotByTheAdmin() {
        let ann = member("ann", "acme", .agent, .on(.enforced))
        #expect(isAllowed(AccessPolicy.decide(.account(ann), .issueRecoveryCodes, target: ann), as: .ownAccount))
        #expect(
            isRefused(AccessPolicy.decide(.account(acmeAdmin), .issueRecoveryCodes, target: ann), saying: "only 'ann'")
        )
        let off = member("ann", "acme", .agent, .off)
        #expect(
            isRefused(AccessPolicy.decide(.account(off), .issueRecoveryCodes, target: off), saying: "enroll one first")
        )
    }

    // MARK: status and audit: own, own organization, all

    @Test(arguments: [Operation.showAccount, .readAudit])
    func reads_areScoped_ownOrganizationAll(_ operation: Operation) {
        let ann = member("ann", "acme", .agent)
        let bob = member("bob", "acme", .agent)
        let olga = member("olga", "other", .agent)
        #expect(isAllowed(AccessPolicy.decide(.account(ann), operation, target: ann), as: .ownAccount))
        #expect(
            isRefused(AccessPolicy.decide(.account(ann), operation, target: bob), saying: "only on its own account")
        )
        #expect(isAllowed(AccessPolicy.decide(.account(acmeAdmin), operation, target: bob), as: .admin))
        #expect(isRefused(AccessPolicy.decide(.account(acmeAdmin), operation, target: olga), saying: "no such account"))
        #expect(isAllowed(AccessPolicy.decide(root, operation, target: olga), as: .operator))
    }

    @Test func listAccounts_adminOwnOrganizationOnly_agentNever() {
        let ann = member("ann", "acme", .agent)
        #expect(
            isAllowed(
                AccessPolicy.decide(.account(acmeAdmin), .listAccounts(organization: nil), target: nil),
                as: .admin
            )
        )
        #expect(
            isRefused(
                AccessPolicy.decide(
                    .account(acmeAdmin),
                    .listAccounts(organization: otherAdmin.organization),
                    target: nil
                ),
                saying: "only its own organization"
            )
        )
        #expect(
            isRefused(
                AccessPolicy.decide(.account(ann), .listAccounts(organization: nil), target: nil),
                saying: "agent"
            )
        )
    }

    // MARK: organizations and anonymous callers

    @Test func manageOrganizations_isForOperatorsOnly() {
        #expect(isAllowed(AccessPolicy.decide(root, .manageOrganizations, target: nil), as: .operator))
        #expect(
            isRefused(
                AccessPolicy.decide(.account(acmeAdmin), .manageOrganizations, target: nil),
                saying: "only an operator"
            )
        )
        #expect(
            isAllowed(
                AccessPolicy.decide(.account(acmeAdmin), .showOrganization(acmeAdmin.organization), target: nil),
                as: .admin
            )
        )
    }

    @Test(arguments: [Operation.showAccount, .enroll, .disableTwoFactor, .unlock, .manageOrganizations])
    func anonymousCaller_isRefusedEverything(_ operation: Operation) {
        let ann = member("ann", "acme", .agent, .on(.self))
        #expect(isRefused(AccessPolicy.decide(.anonymous, operation, target: ann), saying: "--as ACCOUNT"))
    }
    // MARK: grace revoke and exemptions (issue 11)

    @Test func revokeGraces_byTheAccountItself_itsAdmin_anOperator_isAllowed() {
        let ann = member("ann", "acme", .agent, .on(.self))
        #expect(isAllowed(AccessPolicy.decide(.account(ann), .revokeGraces, target: ann), as: .ownAccount))
        #expect(isAllowed(AccessPolicy.decide(.account(acmeAdmin), .revokeGraces, target: ann), as: .admin))
        #expect(isAllowed(AccessPolicy.decide(root, .revokeGraces, target: ann), as: .operator))
    }

    @Test func revokeGraces_byAnotherAgent_orAnotherOrganizationsAdmin_isRefused() {
        let ann = member("ann", "acme", .agent, .on(.self))
        let bob = member("bob", "acme", .agent)
        let byBob = AccessPolicy.decide(.account(bob), .revokeGraces, target: ann)
        #expect(isRefused(byBob, saying: "only on its own"))
        let byOtherAdmin = AccessPolicy.decide(.account(otherAdmin), .revokeGraces, target: ann)
        #expect(isRefused(byOtherAdmin, saying: "no such account"))
    }

    @Test func manageExemptions_byItsAdmin_andAnOperator_isAllowed() {
        let ann = member("ann", "acme", .agent, .on(.enforced))
        #expect(isAllowed(AccessPolicy.decide(.account(acmeAdmin), .manageExemptions, target: ann), as: .admin))
        #expect(isAllowed(AccessPolicy.decide(root, .manageExemptions, target: ann), as: .operator))
    }

    @Test func manageExemptions_byTheAccountItself_anAgent_orAnotherOrganization_isRefused() {
        let ann = member("ann", "acme", .agent, .on(.enforced))
        let bob = member("bob", "acme", .agent)
        let cases: [(Caller, Account, String)] = [
            (.account(ann), ann, "cannot do this to itself"),
            (.account(acmeAdmin), acmeAdmin, "cannot do this to its own account"),
            (.account(bob), ann, "only on its own"),
            (.account(otherAdmin), ann, "no such account"),
            (.anonymous, ann, "operator rights"),
        ]
        for (caller, target, words) in cases {
            let decision = AccessPolicy.decide(caller, .manageExemptions, target: target)
            #expect(isRefused(decision, saying: words), "\(caller)")
        }
    }
}
