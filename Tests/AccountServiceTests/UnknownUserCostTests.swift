import AccountService
import Logging
import PasswordHashing
import Testing

@Suite struct UnknownUserCostThroughServiceTests {
    @Test func login_unknownUser_usesTheStoredCost_afterTheConfiguredCostWasRaised() throws {
        let old = ScryptCost(logN: 10, r: 8, p: 1)
        let first = try Fixture(cost: old)
        _ = try first.add("ann")
        // The same store served by a daemon restarted with a higher --scrypt-log-n.
        let hasher = PasswordHasher(cost: ScryptCost(logN: 12, r: 8, p: 1))
        let service = AccountService(
            store: first.store,
            hasher: hasher,
            clock: { first.clock.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        #expect(try service.login(user: "nobody-here", password: Array("pw".utf8), code: .none) == .codeNeeded)
        #expect(hasher.unknownUserCost == old, "the dummy scrypt must cost what ann's stored hash costs")
    }
}
