import AccountService
import PasswordHashing
import Testing

@Suite struct UnknownUserCostThroughServiceTests {
    @Test func login_unknownUser_usesTheStoredCost_afterTheConfiguredCostWasRaised() throws {
        let old = ScryptCost(logN: 10, r: 8, p: 1)
        let first = try Fixture(cost: old)
        _ = try first.add("ann")
        // The same store served by a daemon restarted with a higher --scrypt-log-n.
        let hasher = PasswordHasher(cost: ScryptCost(logN: 12, r: 8, p: 1))
        let service = first.service(hashingWith: hasher)
        #expect(try service.login(user: "nobody-here", password: Array("pw".utf8), code: .none) == .codeNeeded)
        #expect(hasher.unknownUserCost == old, "the dummy scrypt must cost what ann's stored hash costs")
    }

    /// Before, every verify took a place of the 64-cost sample, so one account whose hash already had the new
    /// cost could log in 64 times and make the new cost the unknown-user cost: then every account still at
    /// the old cost answered faster than a name without an account (7 ms against 70 ms in the review).
    @Test func login_oneAccountsLogins_doNotSteerTheUnknownUserCost() throws {
        let old = ScryptCost(logN: 10, r: 8, p: 1)
        let first = try Fixture(cost: old)
        for name in ["u1", "u2", "u3"] { _ = try first.add(name) }
        let hasher = PasswordHasher(cost: ScryptCost(logN: 11, r: 8, p: 1))
        let service = first.service(hashingWith: hasher)
        let password = Array("mallory's own pass-phrase".utf8)
        _ = try service.addAccount(
            caller: .operator(uid: 0),
            name: "mallory",
            organization: nil,
            role: .agent,
            requireTwoFactor: false,
            password: password
        )
        for _ in 0..<80 { #expect(try service.login(user: "mallory", password: password, code: .none) == .ok) }
        #expect(hasher.unknownUserCost == old, "3 accounts of 4 still have the old cost")
    }

    /// Only logins that got in teach the cost: before, anyone's wrong password for an account counted, so a
    /// stranger could try one on each account created after a cost change and make the unknown-user cost the
    /// new one, which every account still at the old cost then stood out from (2.7 against 40 ms in review).
    @Test func login_wrongPasswordsForManyAccounts_doNotSteerTheUnknownUserCost() throws {
        let old = ScryptCost(logN: 10, r: 8, p: 1)
        let first = try Fixture(cost: old)
        // The first 64 names, the store's sample at the first login, all have the old cost.
        for index in 0..<64 { _ = try first.add("a\(index)") }
        let hasher = PasswordHasher(cost: ScryptCost(logN: 11, r: 8, p: 1))
        let service = first.service(hashingWith: hasher)
        let later = (0..<65).map { "z\($0)" }
        for name in later {
            _ = try service.addAccount(
                caller: .operator(uid: 0),
                name: name,
                organization: nil,
                role: .agent,
                requireTwoFactor: false,
                password: Array("\(name)'s own pass-phrase".utf8)
            )
        }
        for name in later {
            #expect(
                try service.login(user: name, password: Array("a guess".utf8), code: .none, origin: .peer(uid: 4242))
                    == .codeNeeded
            )
        }
        #expect(hasher.unknownUserCost == old, "64 of the 129 accounts have the old cost, and none logged in since")
    }
}
