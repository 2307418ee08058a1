import AccountService
import AccountStore
import Authentication
import OneTimePassword
import Testing

/// The rules of docs/product.md through the service and a real LMDB store: who set a state decides
/// who may undo it, recovery codes work once, organizations require 2FA, the audit trail is scoped.
@Suite struct TwoFactorRulesTests {
    static let password = "Tr1cky-Passw0rd"
    let fixture: Fixture

    init() throws {
        fixture = try Fixture()
        _ = try fixture.service.addOrganization(caller: root, name: "acme", requireTwoFactor: false)
        _ = try fixture.service.addOrganization(caller: root, name: "other", requireTwoFactor: false)
        try add("amy", role: .admin)
        try add("ann")
        try add("olga", organization: "other")
    }

    func add(_ name: String, organization: String = "acme", role: Role = .agent, required: Bool = false) throws {
        _ = try fixture.service.addAccount(
            caller: root,
            name: name,
            organization: organization,
            role: role,
            requireTwoFactor: required,
            password: Array(Self.password.utf8)
        )
    }

    func caller(_ name: String) throws -> Caller { .account(try #require(try fixture.stored(name))) }

    /// Enrolls `name` as `caller`; returns the secret and the recovery codes.
    @discardableResult
    func enroll(_ name: String, as caller: Caller) throws -> (secret: [UInt8], codes: [String]) {
        let offer = try fixture.service.beginEnrollment(caller: caller, name: name, parameters: .standard)
        let secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
        let codes = try fixture.service.confirmEnrollment(
            caller: caller,
            name: name,
            code: try oathtool(secret, at: fixture.clock.now)
        ).recoveryCodes
        return (secret, codes)
    }

    func kind(_ body: () throws(ServiceError) -> Void) -> ServiceError.Kind? {
        do {
            try body()
            return nil
        } catch {
            return error.kind
        }
    }

    @Test func selfEnrollment_isSelf_andTheAccountMayDisableIt() throws {
        try enroll("ann", as: try caller("ann"))
        let ann = try #require(try fixture.stored("ann"))
        #expect(ann.twoFactor == .on(.self))
        #expect(ann.twoFactorChange?.actor == .account(ann.name))
        #expect(
            kind { () throws(ServiceError) in try fixture.service.disableTwoFactor(caller: .account(ann), name: "ann") }
                == nil
        )
        #expect(try fixture.stored("ann")?.twoFactor == .off)
    }

    @Test func forcedByTheAdmin_theAgentCannotDisable_theAdminCan() throws {
        try fixture.service.forceTwoFactor(caller: try caller("amy"), name: "ann")
        var ann = try #require(try fixture.stored("ann"))
        #expect(ann.twoFactor == .pending)
        #expect(ann.twoFactorChange?.actor == .account(try AccountName("amy")))
        // The agent enrolls at its next login; the result stays enforced.
        let offer = try fixture.service.login(user: "ann", password: Array(Self.password.utf8), code: .none)
        guard case .enroll(let uri) = offer else { Issue.record("a pending login did not offer enrollment"); return }
        let secret = try OTPAuthURI(parsing: uri).secret
        let first = try oathtool(secret, at: fixture.clock.now)
        guard
            case .enrolled = try fixture.service.login(
                user: "ann",
                password: Array(Self.password.utf8),
                code: .totp(first)
            )
        else { Issue.record("the first code did not finish enrollment"); return }
        ann = try #require(try fixture.stored("ann"))
        #expect(ann.twoFactor == .on(.enforced))
        // Who required it is still who set it, not the agent that enrolled.
        #expect(ann.twoFactorChange?.actor == .account(try AccountName("amy")))

        let refused = kind { () throws(ServiceError) in
            try fixture.service.disableTwoFactor(caller: .account(ann), name: "ann")
        }
        #expect(refused == .notPermitted)
        #expect(try fixture.stored("ann")?.twoFactor == .on(.enforced), "a refused action changes nothing")
        // Nor can the agent get around it by enrolling again: the state stays enforced.
        fixture.clock.advance(by: 30)
        try enroll("ann", as: .account(ann))
        #expect(try fixture.stored("ann")?.twoFactor == .on(.enforced))

        try fixture.service.disableTwoFactor(caller: try caller("amy"), name: "ann")
        #expect(try fixture.stored("ann")?.twoFactor == .off)
    }

    @Test func force_onSelf_becomesEnforced() throws {
        try enroll("ann", as: try caller("ann"))
        try fixture.service.forceTwoFactor(caller: root, name: "ann")
        #expect(try fixture.stored("ann")?.twoFactor == .on(.enforced))
        #expect(try fixture.stored("ann")?.twoFactorChange?.actor == .operator(uid: 0))
    }

    /// An agent that enabled 2FA itself asks to disable it; between its decision and its write, an admin forces 2FA.
    /// The write refuses (the agent's session ended with the admin's change, and the policy refuses the forced state
    /// anyway), and the state stays enforced.
    @Test func disable_byTheAgent_whenAnAdminForcesDuringIt_isRefused() throws {
        try enroll("ann", as: try caller("ann"))
        let amy = try caller("amy")
        let service = fixture.racing(when: { true }) { try fixture.service.forceTwoFactor(caller: amy, name: "ann") }
        let reply = answer { try service.disableTwoFactor(caller: try caller("ann"), name: "ann") }
        #expect(reply.hasPrefix("notPermitted"), "\(reply)")
        #expect(try fixture.stored("ann")?.twoFactor == .on(.enforced))
    }

    @Test func adminOfAnotherOrganization_isRefused_andNothingChanges() throws {
        let amy = try caller("amy")
        let refused = kind { () throws(ServiceError) in try fixture.service.forceTwoFactor(caller: amy, name: "olga") }
        #expect(refused == .notPermitted)
        #expect(try fixture.stored("olga")?.twoFactor == .off)
        // An unknown name gets the same refusal, so an admin cannot probe other organizations.
        let unknown = kind { () throws(ServiceError) in try fixture.service.forceTwoFactor(caller: amy, name: "ghost") }
        #expect(unknown == .notPermitted)
        // Both refusals are audited alike under the admin's own organization, never in the other one's trail,
        // naming what was asked for only in the detail, and saying why, as the caller was told.
        let trail = { (organization: String) throws in
            try fixture.service.auditTrail(
                caller: root,
                account: nil,
                organization: organization,
                since: nil,
                before: nil,
                limit: 10
            )
        }
        #expect(try trail("other").allSatisfy { $0.outcome != .refused })
        let refusals = try trail("acme").filter { $0.outcome == .refused }
        #expect(
            refusals.map(\.detail) == ["ghost", "olga"].map { "\($0): no such account in your organization 'acme'" }
        )
        let actor = Actor.account(try AccountName("amy"))
        #expect(refusals.allSatisfy { $0.action == .force && $0.target == nil && $0.actor == actor })
    }

    @Test func aRefusalsAuditDetail_isClippedToWhatAuditListCarries() throws {
        // Long names make the refusal longer than the 128 bytes an AuditList detail may hold.
        let organization = String(repeating: "o", count: 60)
        let agent = String(repeating: "a", count: 60)
        _ = try fixture.service.addOrganization(caller: root, name: organization, requireTwoFactor: false)
        try add(agent, organization: organization, required: true)
        let itself = try caller(agent)
        let refused = kind { () throws(ServiceError) in
            try fixture.service.disableTwoFactor(caller: itself, name: agent)
        }
        #expect(refused == .notPermitted)
        let audit = try fixture.service.auditTrail(
            caller: root,
            account: agent,
            organization: nil,
            since: nil,
            before: nil,
            limit: 10
        )
        let detail = try #require(audit.first { $0.outcome == .refused }?.detail)
        #expect(detail.utf8.count <= 128 && detail.utf8.count > 100, "\(detail)")
        #expect(detail.hasPrefix("two-factor on '\(agent)' was required by an admin of 'ooo"), "\(detail)")
    }

    @Test func agentCallingAnAdminAction_isRefused() throws {
        try add("bob")
        let ann = try caller("ann")
        let refused = kind { () throws(ServiceError) in try fixture.service.resetTwoFactor(caller: ann, name: "bob") }
        #expect(refused == .notPermitted)
    }

    @Test func recoveryCode_worksOnce_andCountsDown() throws {
        let (_, codes) = try enroll("ann", as: try caller("ann"))
        #expect(codes.count == 10)
        #expect(Set(codes).count == 10)
        for code in codes {
            #expect(code.count == 19 && code.split(separator: "-").count == 4, "\(code)")
        }
        let password = Array(Self.password.utf8)
        #expect(
            try fixture.service.login(user: "ann", password: password, code: .recovery(codes[3]))
                == .recovered(remaining: 9)
        )
        #expect(try fixture.service.login(user: "ann", password: password, code: .recovery(codes[3])) == .denied)
        // Typed in lower case and without dashes, another code still works.
        let relaxed = codes[4].lowercased().replacingOccurrences(of: "-", with: "")
        #expect(
            try fixture.service.login(user: "ann", password: password, code: .recovery(relaxed))
                == .recovered(remaining: 8)
        )
        // A right recovery code with a wrong password is denied and not used up.
        #expect(
            try fixture.service.login(user: "ann", password: Array("wrong-password".utf8), code: .recovery(codes[5]))
                == .denied
        )
        #expect(try fixture.stored("ann")?.recoveryCodes.count == 8)
        let stored = try #require(try fixture.stored("ann"))
        for code in codes { #expect(!stored.recoveryCodes.contains { $0.digest == Array(code.utf8) }) }
    }

    @Test func newRecoveryCodes_replaceTheOldOnes() throws {
        let (_, old) = try enroll("ann", as: try caller("ann"))
        let new = try fixture.service.issueRecoveryCodes(caller: try caller("ann"), name: "ann")
        #expect(Set(new).isDisjoint(with: old))
        let password = Array(Self.password.utf8)
        #expect(try fixture.service.login(user: "ann", password: password, code: .recovery(old[0])) == .denied)
        #expect(
            try fixture.service.login(user: "ann", password: password, code: .recovery(new[0]))
                == .recovered(remaining: 9)
        )
    }

    @Test func reset_discardsSecretAndCodes_andTheOldCodeNoLongerLogsIn() throws {
        let (secret, codes) = try enroll("amy", as: try caller("amy"))
        try fixture.service.resetTwoFactor(caller: root, name: "amy")
        let amy = try #require(try fixture.stored("amy"))
        #expect(amy.twoFactor == .pending && amy.totp == nil && amy.recoveryCodes.isEmpty)
        fixture.clock.advance(by: 30)
        let password = Array(Self.password.utf8)
        let code = try oathtool(secret, at: fixture.clock.now)
        guard case .enroll = try fixture.service.login(user: "amy", password: password, code: .none) else {
            Issue.record("after a reset the next login must enroll")
            return
        }
        #expect(try fixture.service.login(user: "amy", password: password, code: .totp(code)) == .denied)
        #expect(try fixture.service.login(user: "amy", password: password, code: .recovery(codes[0])) == .denied)
    }

    @Test func organizationRequiringTwoFactor_movesOffMembersToPending_andNewMembersStartPending() throws {
        try enroll("ann", as: try caller("ann"))
        try add("bob")
        let status = try fixture.service.setOrganization(caller: root, name: "acme", requireTwoFactor: true)
        #expect(status.organization.requiresTwoFactor && status.members == 3)
        #expect(try fixture.stored("bob")?.twoFactor == .pending)
        #expect(try fixture.stored("amy")?.twoFactor == .pending)
        #expect(try fixture.stored("ann")?.twoFactor == .on(.self), "an enrolled member is left as it is")
        #expect(try fixture.stored("olga")?.twoFactor == .off, "other organizations are untouched")
        try add("cid")
        #expect(try fixture.stored("cid")?.twoFactor == .pending)
    }

    @Test func unknownOrganization_isAClearError() throws {
        do {
            _ = try fixture.service.addAccount(
                caller: root,
                name: "zed",
                organization: "nowhere",
                role: .agent,
                requireTwoFactor: false,
                password: Array(Self.password.utf8)
            )
            Issue.record("an account was created in an unknown organization")
        } catch {
            #expect(error.kind == .noSuchOrganization)
            #expect(error.message.contains("org add nowhere"))
        }
    }

    @Test func auditTrail_isScoped_andHoldsNoSecret() throws {
        let (secret, _) = try enroll("ann", as: try caller("ann"))
        _ = try fixture.service.login(user: "olga", password: Array(Self.password.utf8), code: .none)
        _ = try fixture.service.login(user: "ann", password: Array("not-the-password".utf8), code: .totp("123456"))
        let own = try fixture.service.auditTrail(
            caller: try caller("ann"),
            account: nil,
            organization: nil,
            since: nil,
            before: nil,
            limit: 50
        )
        #expect(!own.isEmpty && own.allSatisfy { $0.target?.value == "ann" })
        #expect(own.contains { $0.action == .enable && $0.outcome == .ok })
        #expect(own.contains { $0.action == .login && $0.outcome == .denied })
        let organization = try fixture.service.auditTrail(
            caller: try caller("amy"),
            account: nil,
            organization: nil,
            since: nil,
            before: nil,
            limit: 50
        )
        #expect(organization.allSatisfy { $0.organization?.value == "acme" })
        #expect(!organization.contains { $0.target?.value == "olga" })
        let all = try fixture.service.auditTrail(
            caller: root,
            account: nil,
            organization: nil,
            since: nil,
            before: nil,
            limit: 50
        )
        #expect(all.contains { $0.target?.value == "olga" })
        let base32 = Base32.encode(secret)
        for record in all {
            #expect(!record.detail.contains(Self.password) && !record.detail.contains(base32))
        }
    }

    /// A name made again after its account was removed does not bring the old account's records with it:
    /// not from another organization, for the account or its admin, and not from before it was made, for
    /// the account itself.
    @Test func auditTrail_ofAReusedName_showsNoRecordOfTheEarlierAccount() throws {
        try add("ola", organization: "other", role: .admin)
        try add("kim")
        try fixture.service.forceTwoFactor(caller: root, name: "kim")
        try fixture.service.removeAccount(caller: root, name: "kim")
        fixture.clock.advance(by: 60)
        try add("kim", organization: "other")
        func trail(_ caller: Caller, account: String? = nil, organization: String? = nil) throws -> [AuditRecord] {
            try fixture.service.auditTrail(
                caller: caller,
                account: account,
                organization: organization,
                since: nil,
                before: nil,
                limit: 50
            )
        }
        let everything = try trail(root, account: "kim")
        #expect(everything.map(\.action) == [.accountAdd, .accountRemove, .force, .accountAdd])
        let newKim = try caller("kim")
        #expect(try trail(newKim).map(\.action) == [.accountAdd])
        #expect(try trail(newKim, account: "kim").map(\.action) == [.accountAdd])
        #expect(try trail(newKim, organization: "acme").isEmpty)
        #expect(try trail(try caller("ola"), account: "kim").map(\.action) == [.accountAdd])

        // Made again in the same organization: its admin reads the name's history there, the account only
        // its own.
        try fixture.service.removeAccount(caller: root, name: "kim")
        fixture.clock.advance(by: 60)
        try add("kim", organization: "other")
        #expect(try trail(try caller("kim")).map(\.action) == [.accountAdd])
        #expect(
            try trail(try caller("ola"), account: "kim").map(\.action) == [.accountAdd, .accountRemove, .accountAdd]
        )
    }

    /// An organization removed and made again under its name is a new organization: its admin and its accounts
    /// read none of the earlier organization's records, under a name both had an account of neither.
    @Test func auditTrail_ofAReusedOrganizationName_showsNoRecordOfTheEarlierOrganization() throws {
        try add("ola", organization: "other", role: .admin)
        _ = try fixture.service.login(user: "olga", password: Array(Self.password.utf8), code: .none)
        for name in ["olga", "ola"] { try fixture.service.removeAccount(caller: root, name: name) }
        try fixture.service.removeOrganization(caller: root, name: "other")
        fixture.clock.advance(by: 60)
        _ = try fixture.service.addOrganization(caller: root, name: "other", requireTwoFactor: false)
        try add("ola", organization: "other", role: .admin)
        try add("olga", organization: "other")
        func trail(_ caller: Caller, account: String? = nil) throws -> [AuditRecord] {
            try fixture.service.auditTrail(
                caller: caller,
                account: account,
                organization: nil,
                since: nil,
                before: nil,
                limit: 50
            )
        }
        let made = fixture.clock.now
        for records in [try trail(try caller("ola")), try trail(try caller("ola"), account: "olga")] {
            #expect(!records.isEmpty && records.allSatisfy { $0.time >= made }, "\(records)")
        }
        #expect(try trail(root, account: "olga").contains { $0.action == .login && $0.time < made })
    }

    @Test func enrollmentOffer_isTheSameSecretUntilItExpires() throws {
        try fixture.service.forceTwoFactor(caller: root, name: "ann")
        let password = Array(Self.password.utf8)
        let first = try fixture.service.login(user: "ann", password: password, code: .none)
        fixture.clock.advance(by: 14 * 60)
        #expect(try fixture.service.login(user: "ann", password: password, code: .none) == first)
        fixture.clock.advance(by: 2 * 60)
        #expect(try fixture.service.login(user: "ann", password: password, code: .none) != first)
    }
}
