import AccountService
import AccountStore
import Authentication
import Synchronization
import Testing

// An admin's request reads its target, decides, then writes: each test here removes the target and makes another
// account of its name in another organization between the two (the service's clock, read in between, runs it).

@Suite struct StaleAdminWriteTests {
    enum Request: String, CaseIterable, CustomTestStringConvertible {
        case setPassword, forceTwoFactor, resetTwoFactor, removeAccount, unlock
        var testDescription: String { rawValue }

        func run(_ service: AccountService, as caller: Caller, on name: String) throws {
            switch self {
            case .setPassword:
                try service.setPassword(caller: caller, name: name, password: Array("admins-choice-42".utf8))
            case .forceTwoFactor: try service.forceTwoFactor(caller: caller, name: name)
            case .resetTwoFactor: try service.resetTwoFactor(caller: caller, name: name)
            case .removeAccount: try service.removeAccount(caller: caller, name: name)
            case .unlock: try service.unlock(caller: caller, name: name)
            }
        }
    }

    /// An admin of alpha acts on its agent bob; between the admin's read of bob and its write, the operator removes
    /// bob and makes another bob in beta. The admin's write must not land on beta's bob: it is refused, and beta's
    /// bob is left as it was, its failed logins included. Before, the write re-checked only the name and changed (or
    /// removed) beta's account, and an unlock cleared its failures.
    @Test(arguments: Request.allCases)
    func anAdminsWrite_whenItsTargetIsRemovedAndMadeAgainInAnotherOrganization_isRefused(request: Request) throws {
        let fixture = try Fixture()
        try fixture.addOrganizations("alpha", "beta")
        try fixture.add("amy", organization: "alpha", role: .admin)
        try fixture.add("bob", organization: "alpha")
        let admin = try fixture.caller("amy")
        let service = fixture.service
        // Something for an unlock to clear: a failed login of alpha's bob, and (in the race) one of beta's bob.
        let wrong = Array("not-bobs-password".utf8)
        _ = try service.login(user: "bob", password: wrong, code: .none, origin: .peer(uid: 4242))
        let betasFailure = ThrottleKey(subject: "bob", origin: .peer(uid: 4243))
        let armed = Atomic(false)
        let racing = fixture.racing(when: { armed.load(ordering: .relaxed) }) {
            try service.removeAccount(caller: root, name: "bob")
            _ = try service.addAccount(
                caller: root,
                name: "bob",
                organization: "beta",
                role: .agent,
                requireTwoFactor: false,
                password: Array("betas-own-secret-7".utf8)
            )
            _ = try service.login(user: "bob", password: wrong, code: .none, origin: .peer(uid: 4243))
        }
        armed.store(true, ordering: .relaxed)
        let reply = answer { try request.run(racing, as: admin, on: "bob") }
        let betasBob = try #require(try fixture.stored("bob"), "beta's bob was removed by alpha's admin")
        #expect(betasBob.organization.value == "beta", "the race did not happen")
        #expect(reply.hasPrefix("noSuchAccount: the account 'bob' was removed while this request ran"), "\(reply)")
        #expect(betasBob.twoFactor == .off)
        #expect(try fixture.store.throttleRecord(betasFailure).failures == 1, "beta's bob's failure was cleared")
        #expect(
            try fixture.service.login(user: "bob", password: Array("betas-own-secret-7".utf8), code: .none) == .ok
        )
    }
}
