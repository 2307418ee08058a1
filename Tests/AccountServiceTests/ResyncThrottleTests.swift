import AccountService
import AccountStore
import Authentication
import OneTimePassword
import Testing

/// An admin's resync is a code check: throttled as a login is, under a key of its own that no login of the
/// target counts against, its failures audited within the refusal caps (AccountService+Authenticators.swift).
@Suite struct ResyncThrottleTests {
    static let password = Array("pass-phrase".utf8)
    let fixture: Fixture
    let secret: [UInt8]

    /// `amy`, admin of `acme` (no second factor: each request needs no new code); `ann`, its agent, enrolled.
    init() throws {
        fixture = try Fixture()
        try fixture.addOrganizations("acme")
        try fixture.add("amy", organization: "acme", role: .admin)
        try fixture.add("ann", organization: "acme")
        let offer = try fixture.service.beginEnrollment(caller: root, name: "ann", parameters: .standard)
        secret = try OTPAuthURI(parsing: offer.otpauthURI).secret
        try fixture.service.confirmEnrollment(
            caller: root,
            name: "ann",
            code: try oathtool(secret, at: fixture.clock.now)
        )
    }

    /// A resync of ann's authenticator by `caller` from `uid`: "done", or the refusal.
    func resync(_ first: String, _ second: String, as caller: Caller, uid: UInt32 = 1000) -> String {
        answer {
            try fixture.service.resyncAuthenticator(
                caller: caller,
                name: "ann",
                label: "default",
                first: first,
                second: second,
                peerUID: uid
            )
        }
    }

    /// Two consecutive codes of ann's authenticator, `ahead` steps from now.
    func rightPair(ahead: Int64) throws -> (String, String) {
        let now = fixture.clock.now
        return (try oathtool(secret, at: now + 30 * ahead), try oathtool(secret, at: now + 30 * (ahead + 1)))
    }

    @Test func anAdminsFailedResyncs_areThrottled_audited_andLockNoLoginOfTheTarget() throws {
        let amy = try fixture.caller("amy")
        let sequence = try fixture.newestAuditSequence()
        let free = Int(ThrottlePolicy.standard.freeFailures)
        for _ in 0..<free {
            #expect(resync("000000", "000001", as: amy).hasPrefix("wrongCode"))
        }
        // Locked now: even two right codes are refused, before they are checked, and nothing is audited.
        let (first, second) = try rightPair(ahead: 3)
        let locked = resync(first, second, as: amy)
        #expect(locked.hasPrefix("notPermitted") && locked.contains("try again in"), "\(locked)")
        let records = try fixture.auditRecords(after: sequence).filter { $0.action == .resync }
        #expect(records.count == free && records.allSatisfy { $0.outcome == .failed }, "\(records)")

        // ann's own logins are not locked, from a uid (the admin's too) or through a privileged peer.
        for origin in [ThrottleOrigin.peer(uid: 1000), .local, .host("192.0.2.7")] {
            fixture.clock.advance(by: 30)
            let code = try oathtool(secret, at: fixture.clock.now)
            #expect(
                try fixture.service.login(user: "ann", password: Self.password, code: .totp(code), origin: origin)
                    == .ok,
                "\(origin)"
            )
        }
        #expect(try #require(try fixture.stored("ann")).failureCount == 0)

        // The lock ends as a login's does; an accepted pair clears the count.
        fixture.clock.advance(by: ThrottlePolicy.standard.baseDelay)
        let (later, next) = try rightPair(ahead: 3)
        #expect(resync(later, next, as: amy) == "done")
        for _ in 0..<free {
            #expect(resync("000000", "000001", as: amy).hasPrefix("wrongCode"))
        }
    }

    @Test func onlyThatUidsResyncsOfThatAccount_areLocked() throws {
        let amy = try fixture.caller("amy")
        for _ in 0..<Int(ThrottlePolicy.standard.freeFailures) { _ = resync("000000", "000001", as: amy) }
        #expect(resync("000000", "000001", as: amy).hasPrefix("notPermitted"))
        // The same admin (or another) from another uid is not locked by these failures.
        let (first, second) = try rightPair(ahead: 3)
        #expect(resync(first, second, as: amy, uid: 2000) == "done")
    }

    @Test func anUnlock_endsEveryUidsResyncLock_andOneWithNothingLeftWritesNothing() throws {
        let amy = try fixture.caller("amy")
        for _ in 0..<Int(ThrottlePolicy.standard.freeFailures) { _ = resync("000000", "000001", as: amy) }
        #expect(resync("000000", "000001", as: amy).hasPrefix("notPermitted"))
        #expect(resync("000000", "000001", as: amy, uid: 2000).hasPrefix("wrongCode"))
        // ann's logins have nothing to unlock: only the resyncs of it are counted.
        let sequence = try fixture.newestAuditSequence()
        try fixture.service.unlock(caller: amy, name: "ann")
        #expect(try fixture.auditRecords(after: sequence).map(\.action) == [.unlock])
        let (first, second) = try rightPair(ahead: 3)
        #expect(resync(first, second, as: amy) == "done")
        // uid 2000's failure went with the lock: five are free again, and then it locks.
        for _ in 0..<Int(ThrottlePolicy.standard.freeFailures) {
            #expect(resync("000000", "000001", as: amy, uid: 2000).hasPrefix("wrongCode"))
        }
        #expect(resync("000000", "000001", as: amy, uid: 2000).hasPrefix("notPermitted"))
        try fixture.service.unlock(caller: amy, name: "ann")

        // A failure that an accepted pair cleared leaves nothing to unlock: no commit, no record.
        #expect(resync("000000", "000001", as: amy, uid: 3000).hasPrefix("wrongCode"))
        let (later, next) = try rightPair(ahead: 5)
        #expect(resync(later, next, as: amy, uid: 3000) == "done")
        let cleared = try fixture.newestAuditSequence()
        let commits = fixture.store.durableCommits
        try fixture.service.unlock(caller: amy, name: "ann")
        #expect(fixture.store.durableCommits == commits)
        #expect(try fixture.auditRecords(after: cleared).isEmpty)
    }

    @Test func anOperatorsResyncs_areNotThrottled() throws {
        for _ in 0..<Int(ThrottlePolicy.standard.freeFailures) * 3 {
            #expect(resync("000000", "000001", as: root, uid: 0).hasPrefix("wrongCode"))
        }
        let (first, second) = try rightPair(ahead: 3)
        #expect(resync(first, second, as: root, uid: 0) == "done")
    }

    /// Two right codes refused only because the admin used up its changes of the minute are no failure: the
    /// attempt is not left counted against the admin's resyncs.
    @Test func rightCodes_refusedForTheAdminsBudget_countNoFailure() throws {
        let amy = try fixture.caller("amy")
        try fixture.add("bob", organization: "acme")
        for index in 0..<AccountLimits.adminChangesPerAccount {
            if index.isMultiple(of: 2) {
                try fixture.service.forceTwoFactor(caller: amy, name: "bob")
            } else {
                try fixture.service.disableTwoFactor(caller: amy, name: "bob")
            }
        }
        let (first, second) = try rightPair(ahead: 2)
        let refused = resync(first, second, as: amy)
        #expect(refused.hasPrefix("notPermitted") && refused.contains("within a minute"), "\(refused)")
        let key = ThrottleKey(subject: "ann/resync", origin: .peer(uid: 1000))
        #expect(try fixture.store.throttleRecord(key).failures == 0)
    }
}
