import AccountService
import AccountStore
import Authentication
import Foundation
import LMDBAccountStore
import Logging
import OneTimePassword
import PasswordHashing
import Testing
import TestSupport

/// Clock drift and resync (issue 11, item 3), over a real store with an injected clock. Codes at other
/// times come from oathtool; no test waits for a window.
@Suite struct DriftTests {
    let password = Array("pass-phrase".utf8)

    func login(_ fixture: Fixture, _ name: String, _ code: String) throws -> LoginResult {
        try fixture.service.login(user: name, password: password, code: .totp(code))
    }

    /// The code `steps` steps away from the fixture's clock.
    func code(_ secret: [UInt8], _ fixture: Fixture, steps: Int64) throws -> String {
        try oathtool(secret, at: fixture.clock.now + 30 * steps)
    }

    func drift(_ fixture: Fixture, _ name: String) throws -> Int32? {
        try fixture.stored(name)?.authenticators.first?.drift
    }

    func resync(
        _ fixture: Fixture,
        _ name: String,
        _ first: String,
        _ second: String,
        as caller: Caller = root
    )
        -> ServiceError.Kind?
    {
        do {
            try fixture.service.resyncAuthenticator(
                caller: caller,
                name: name,
                label: "default",
                first: first,
                second: second,
                peerUID: 1000
            )
            return nil
        } catch {
            return error.kind
        }
    }

    @Test func drift_withinTheBound_isFollowed_beyondItRefused() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("amy")
        // The device's clock runs ahead, a step more every two logins: the first code at a new offset
        // moves nothing, the second does.
        for (ahead, learned) in [(1, 1), (2, 2), (3, 2)] as [(Int64, Int32)] {
            let before = try drift(fixture, "amy")
            fixture.clock.advance(by: 300)
            #expect(try login(fixture, "amy", try code(secret, fixture, steps: ahead)) == .ok)
            #expect(try drift(fixture, "amy") == before)
            fixture.clock.advance(by: 300)
            #expect(try login(fixture, "amy", try code(secret, fixture, steps: ahead)) == .ok)
            #expect(try drift(fixture, "amy") == learned)
        }
        // The bound is 2: the window stays centred 2 steps ahead, so 4 ahead is out (an unbounded learner
        // would have moved to 3 and accepted it).
        fixture.clock.advance(by: 300)
        #expect(try login(fixture, "amy", try code(secret, fixture, steps: 4)) == .denied)
        #expect(try drift(fixture, "amy") == 2)
        #expect(try login(fixture, "amy", try code(secret, fixture, steps: 3)) == .ok)
    }

    @Test func drift_bound_isConfigurable() throws {
        let directory = TemporaryDirectory(prefix: "drift-tests")
        let clock = TestClock(1_900_000_000)
        let store = try LMDBAccountStore(directory: directory.path + "/state")
        let service = AccountService(
            store: store,
            hasher: PasswordHasher(cost: ScryptCost(logN: 10, r: 8, p: 1)),
            configuration: ServiceConfiguration(maximumDrift: 0),
            clock: { clock.now },
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        _ = try service.addAccount(
            caller: root,
            name: "bo",
            organization: nil,
            role: .agent,
            requireTwoFactor: false,
            password: password
        )
        let offer = try service.beginEnrollment(caller: root, name: "bo", parameters: .standard)
        let secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
        try service.confirmEnrollment(caller: root, name: "bo", code: try oathtool(secret, at: clock.now))
        clock.advance(by: 300)
        // One step ahead is in the window, but with a bound of 0 it teaches nothing: two ahead stays out.
        #expect(
            try service.login(user: "bo", password: password, code: .totp(try oathtool(secret, at: clock.now + 30)))
                == .ok
        )
        #expect(try store.account(named: try AccountName("bo"))?.authenticators.first?.drift == 0)
        clock.advance(by: 300)
        #expect(
            try service.login(user: "bo", password: password, code: .totp(try oathtool(secret, at: clock.now + 60)))
                == .denied
        )
    }

    /// A device whose clock is right, and codes typed late: one step late twice in a row moves the window
    /// a step back, which still holds the current step; a code two steps late after that is accepted but
    /// moves nothing, so the device's current code still works. (Learning from every code alone moved the
    /// window to [now-3, now-1], and the current code was refused until a resync.)
    @Test func lateCodes_neverWalkTheWindowOffTheCurrentStep() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("abe")
        for late in [-1, -1, -2] as [Int64] {
            fixture.clock.advance(by: 300)
            #expect(try login(fixture, "abe", try code(secret, fixture, steps: late)) == .ok)
        }
        #expect(try drift(fixture, "abe") == -1)
        fixture.clock.advance(by: 300)
        #expect(try login(fixture, "abe", try code(secret, fixture, steps: 0)) == .ok)
        #expect(try drift(fixture, "abe") == -1)
        // Two prompt codes in a row bring the window back.
        fixture.clock.advance(by: 300)
        #expect(try login(fixture, "abe", try code(secret, fixture, steps: 0)) == .ok)
        #expect(try drift(fixture, "abe") == 0)
    }

    @Test func failedCodes_teachNothing() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("cy")
        fixture.clock.advance(by: 300)
        // Codes two and three steps ahead are outside the window; refusing them moves nothing.
        #expect(try login(fixture, "cy", try code(secret, fixture, steps: 2)) == .denied)
        #expect(try login(fixture, "cy", try code(secret, fixture, steps: 3)) == .denied)
        #expect(try drift(fixture, "cy") == 0)
        #expect(try login(fixture, "cy", try code(secret, fixture, steps: 3)) == .denied)
    }

    @Test func resync_withTwoConsecutiveCodes_setsTheDrift_andBurnsBoth() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("dee")
        fixture.clock.advance(by: 300)
        let (first, second) = (try code(secret, fixture, steps: 6), try code(secret, fixture, steps: 7))
        #expect(resync(fixture, "dee", first, second) == nil)
        #expect(try drift(fixture, "dee") == 7)
        // Neither code logs in afterwards; the next one does, though it is beyond the learning bound.
        #expect(try login(fixture, "dee", first) == .denied)
        #expect(try login(fixture, "dee", second) == .denied)
        #expect(try login(fixture, "dee", try code(secret, fixture, steps: 8)) == .ok)
        #expect(try drift(fixture, "dee") == 7)
    }

    @Test func resync_refusesNonConsecutive_reversed_andOutOfRangeCodes() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("eli")
        fixture.clock.advance(by: 300)
        for (a, b) in [(5, 7), (6, 5), (11, 12), (-12, -11)] as [(Int64, Int64)] {
            #expect(
                resync(fixture, "eli", try code(secret, fixture, steps: a), try code(secret, fixture, steps: b))
                    == .wrongCode
            )
        }
        #expect(try drift(fixture, "eli") == 0)
    }

    @Test func resync_isForOperatorsAndAdmins_notTheAccountItself() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("flo")
        let flo = Caller.account(try #require(try fixture.stored("flo")))
        fixture.clock.advance(by: 300)
        let (first, second) = (try code(secret, fixture, steps: 3), try code(secret, fixture, steps: 4))
        #expect(resync(fixture, "flo", first, second, as: flo) == .notPermitted)
        #expect(resync(fixture, "flo", first, second) == nil)
    }

    /// LinOTP CVE-2019-12887: with auto-resync, a code already used could serve as one of the two resync
    /// codes and log in again. Here a resync whose codes include a used one is refused, and codes sent at
    /// login never resync anything.
    @Test func linOTP_reusedCode_neverResyncsNorLogsIn() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("gil")
        fixture.clock.advance(by: 300)
        let used = try code(secret, fixture, steps: 0)
        #expect(try login(fixture, "gil", used) == .ok)
        // The used code followed by the next one: consecutive, but the first was accepted already.
        #expect(resync(fixture, "gil", used, try code(secret, fixture, steps: 1)) == .wrongCode)
        // The code before the used one and the used one itself.
        #expect(resync(fixture, "gil", try code(secret, fixture, steps: -1), used) == .wrongCode)
        #expect(try login(fixture, "gil", used) == .denied)
        // Two consecutive codes sent at login, out of the window, are not an automatic resync.
        #expect(try login(fixture, "gil", try code(secret, fixture, steps: 5)) == .denied)
        #expect(try login(fixture, "gil", try code(secret, fixture, steps: 6)) == .denied)
        #expect(try login(fixture, "gil", try code(secret, fixture, steps: 7)) == .denied)
        #expect(try drift(fixture, "gil") == 0)
    }

    /// privacyIDEA PI#1408: a stored time shift made codes from 20 minutes ago valid. Here the shift a
    /// resync can set is bounded by its search range, 20-minute-old codes are refused before and after
    /// one, and no code at or before the resync's codes ever works.
    @Test func privacyIDEA_twentyMinuteOldCodes_areRefused_throughAnyShift() throws {
        let fixture = try Fixture()
        let secret = try fixture.enrolled("hob")
        fixture.clock.advance(by: 3_600)
        let twentyMinutesAgo = try code(secret, fixture, steps: -40)
        #expect(try login(fixture, "hob", twentyMinutesAgo) == .denied)
        // A resync to 20 minutes ago is out of its range.
        #expect(resync(fixture, "hob", twentyMinutesAgo, try code(secret, fixture, steps: -39)) == .wrongCode)
        // The furthest resync back there is: the device is 9 steps behind.
        #expect(
            resync(fixture, "hob", try code(secret, fixture, steps: -10), try code(secret, fixture, steps: -9)) == nil
        )
        #expect(try drift(fixture, "hob") == -9)
        #expect(try login(fixture, "hob", twentyMinutesAgo) == .denied)
        #expect(try login(fixture, "hob", try code(secret, fixture, steps: -10)) == .denied)
        #expect(try login(fixture, "hob", try code(secret, fixture, steps: -9)) == .denied)
        #expect(try login(fixture, "hob", try code(secret, fixture, steps: -8)) == .ok)
        // Twenty minutes later the shifted window has moved on with the clock: the old codes stay out.
        fixture.clock.advance(by: 1_200)
        #expect(try login(fixture, "hob", twentyMinutesAgo) == .denied)
        #expect(try login(fixture, "hob", try code(secret, fixture, steps: -40)) == .denied)
        #expect(try login(fixture, "hob", try code(secret, fixture, steps: -9)) == .ok)
    }

    @Test func eachAuthenticator_learnsItsOwnDrift() throws {
        let fixture = try Fixture()
        let first = try fixture.enrolled("ivy")
        let offer = try fixture.service.beginAuthenticator(
            caller: root,
            name: "ivy",
            label: "phone",
            parameters: .standard
        )
        let phone = try OTPAuthURI(parsing: offer.otpauthURI).secret
        try fixture.service.confirmAuthenticator(
            caller: root,
            name: "ivy",
            label: "phone",
            code: try oathtool(phone, at: fixture.clock.now)
        )
        for _ in 0..<2 {
            fixture.clock.advance(by: 300)
            #expect(try login(fixture, "ivy", try code(phone, fixture, steps: -1)) == .ok)
            #expect(try login(fixture, "ivy", try code(first, fixture, steps: 1)) == .ok)
        }
        let stored = try #require(try fixture.stored("ivy"))
        #expect(stored.authenticators.map(\.drift) == [1, -1])
    }
}
