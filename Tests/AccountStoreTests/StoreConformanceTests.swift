import AccountStore
import Dispatch
import Glibc
import OpenSSLCrypto
import StoredRecords
import Synchronization
import Testing
import TestSupport

// The store conformance suite (issue 10): the same tests, unchanged, against every backend. What the
// daemon relies on is stated here once, and a backend passes only if it behaves like the others.

@Suite struct StoreConformanceTests {
    /// The read a code check makes: the authenticators opened and everything else as stored, minus the
    /// recovery codes and pending enrollments, which it never reads; the full read is unchanged.
    @Test(arguments: Backend.allCases)
    func accountForCodeCheck_opensTheAuthenticators_andLeavesOutTheRest(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        var alice = makeAccount("alice")
        alice.moreAuthenticators = [
            Authenticator(
                label: try AuthenticatorLabel("phone"),
                credential: TOTPCredential(secret: Array(21...40), parameters: .standard),
                lastAcceptedStep: 7,
                drift: 1,
                lastOffset: 1
            )
        ]
        alice.recoveryCodes = [RecoveryCodeHash(salt: [1, 2], digest: Array(repeating: 9, count: 32))]
        alice.pendingEnrollment = PendingEnrollment(credential: enrolledCredential, expiresAt: 5_000)
        alice.pendingAuthenticator = PendingAuthenticator(
            label: try AuthenticatorLabel("tablet"),
            enrollment: PendingEnrollment(credential: enrolledCredential, expiresAt: 5_000)
        )
        try store.create(alice)
        let forCheck = try #require(try store.accountForCodeCheck(named: alice.name))
        #expect(forCheck == alice.forCodeCheck)
        #expect(forCheck.authenticators == alice.authenticators)
        #expect(forCheck.recoveryCodes.isEmpty && forCheck.pendingEnrollment == nil)
        #expect(try store.account(named: alice.name) == alice)
        #expect(try store.accountForCodeCheck(named: accountName("nobody")) == nil)
        // With its organization, as the code check reads it.
        let withOrganization = try #require(try store.accountForCodeCheckWithOrganization(named: alice.name))
        #expect(withOrganization.account == alice.forCodeCheck)
        #expect(withOrganization.organization == (try store.organization(named: alice.organization)))
        #expect(withOrganization.organization?.name == alice.organization)
        #expect(try store.accountForCodeCheckWithOrganization(named: accountName("nobody")) == nil)

        // A login reads an account with 2FA on as a code check does, and a pending one whole (its enrollment).
        #expect(try store.accountForLogin(named: alice.name) == alice.forCodeCheck)
        var bob = makeAccount("bob")
        bob.twoFactor = .pending
        bob.authenticators = []
        bob.pendingEnrollment = PendingEnrollment(credential: enrolledCredential, expiresAt: 5_000)
        try store.create(bob)
        #expect(try store.accountForLogin(named: bob.name) == bob)
        #expect(try store.accountForLogin(named: accountName("nobody")) == nil)
        // A name that could not be an account reads the stand-in as a missing one does, and reads nothing else.
        try store.readStandInForLogin()
        #expect(try store.accountForLogin(named: LoginStandIn.name) == nil)
    }

    @Test(arguments: Backend.allCases)
    func accounts_createUpdateRemove(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.addOrganizationsNamed("one")
        let alice = makeAccount("alice")
        try store.create(alice)
        #expect(try store.account(named: alice.name) == alice)
        #expect(try store.account(named: accountName("nobody")) == nil)
        guard case .alreadyExists = storeError({ try store.create(makeAccount("alice", organization: "one")) }) else {
            Issue.record("a second create of alice did not throw alreadyExists")
            return
        }
        #expect(try store.account(named: alice.name) == alice)
        guard case .organizationNotFound = storeError({ try store.create(makeAccount("bob", organization: "none")) })
        else {
            Issue.record("an account of an unknown organization was created")
            return
        }

        let updated = try store.update(alice.name) { account in
            account.role = .admin
            account.organization = try OrganizationName("one")
        }
        #expect(updated.role == .admin)
        #expect(try store.account(named: alice.name) == updated)
        let refusal = #expect(throws: UpdateError<BodyRefusal>.self) {
            try store.update(alice.name) { (account: inout Account) throws(BodyRefusal) in
                account.passwordHash = "changed"
                throw BodyRefusal()
            }
        }
        guard case .rejected = refusal else {
            Issue.record("a refusing body was not reported as rejected: \(String(describing: refusal))")
            return
        }
        #expect(try store.account(named: alice.name) == updated)
        guard case .invalidChange = storeError({ try store.update(alice.name) { $0.name = accountName("eve") } }) else {
            Issue.record("a rename was not refused")
            return
        }
        guard
            case .invalidChange = storeError({
                try store.updateOrganization(.default) {
                    $0.name = try OrganizationName("other")
                } eachMember: { _ in
                    false
                }
            })
        else {
            Issue.record("an organization's rename was not refused")
            return
        }
        let organizationRefusal = #expect(throws: UpdateError<BodyRefusal>.self) {
            try store.updateOrganization(.default) { (organization: inout Organization) throws(BodyRefusal) in
                organization.requiresTwoFactor = true
                throw BodyRefusal()
            } eachMember: { _ in
                false
            }
        }
        guard case .rejected = organizationRefusal else {
            Issue.record("a refusing organization body was not reported as rejected")
            return
        }
        #expect(try store.organization(named: .default)?.requiresTwoFactor == false)
        guard
            case .organizationNotFound = storeError({
                try store.update(alice.name) { $0.organization = try OrganizationName("none") }
            })
        else {
            Issue.record("a move into an unknown organization was not refused")
            return
        }
        #expect(try store.account(named: alice.name) == updated)
        guard case .notFound = storeError({ try store.update(accountName("nobody")) { _ in } }) else {
            Issue.record("updating an unknown account did not throw notFound")
            return
        }

        try store.remove(alice.name)
        #expect(try store.account(named: alice.name) == nil)
        guard case .notFound = storeError({ try store.remove(alice.name) }) else {
            Issue.record("removing twice did not throw notFound")
            return
        }
    }

    @Test(arguments: Backend.allCases)
    func accounts_listByOrganization_inNameOrder_andPaged(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.addOrganizationsNamed("red", "blue")
        for (name, organization) in [("d", "red"), ("a", "blue"), ("c", "red"), ("B", "default"), ("b", "red")] {
            try store.create(makeAccount(name, organization: organization))
        }
        // Byte order, as LMDB keys sort: upper case before lower case.
        #expect(try store.accounts(in: nil, after: nil, limit: 10).map(\.name.value) == ["B", "a", "b", "c", "d"])
        #expect(try store.accounts(in: nil, after: accountName("a"), limit: 2).map(\.name.value) == ["b", "c"])
        let red = try OrganizationName("red")
        #expect(try store.accounts(in: red, after: nil, limit: 10).map(\.name.value) == ["b", "c", "d"])
        #expect(try store.accounts(in: red, after: accountName("b"), limit: 1).map(\.name.value) == ["c"])
        #expect(try store.accounts(in: red, after: nil, limit: 0).isEmpty)
        #expect(try store.memberCount(of: red) == 3)
        try store.update(accountName("c")) { $0.organization = try OrganizationName("blue") }
        #expect(try store.memberCount(of: red) == 2)
        #expect(
            try store.accounts(in: OrganizationName("blue"), after: nil, limit: 10).map(\.name.value) == ["a", "c"]
        )
        try store.remove(accountName("d"))
        #expect(try store.accounts(in: red, after: nil, limit: 10).map(\.name.value) == ["b"])
    }

    @Test(arguments: Backend.allCases)
    func organizations_createUpdateRemove_andMembersChangeInTheSameWrite(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        #expect(try store.organization(named: .default) != nil)
        try store.addOrganizationsNamed("ops", "dev")
        guard case .organizationExists = storeError({ try store.addOrganizationsNamed("ops") }) else {
            Issue.record("a second ops was created")
            return
        }
        #expect(try store.organizations(after: nil, limit: 10).map(\.name.value) == ["default", "dev", "ops"])
        #expect(try store.organizations(after: OrganizationName("default"), limit: 1).map(\.name.value) == ["dev"])
        var off = makeAccount("carol", organization: "ops")
        off.twoFactor = .off
        off.totp = nil
        try store.create(off)
        try store.create(makeAccount("dave", organization: "ops"))
        let ops = try OrganizationName("ops")
        let changed = try store.updateOrganization(ops, { $0.requiresTwoFactor = true }) { account in
            guard account.twoFactor == .off else { return false }
            account.twoFactor = .pending
            return true
        }
        #expect(changed.requiresTwoFactor)
        #expect(try store.organization(named: ops)?.requiresTwoFactor == true)
        #expect(try store.account(named: accountName("carol"))?.twoFactor == .pending)
        #expect(try store.account(named: accountName("dave")) == makeAccount("dave", organization: "ops"))
        guard case .organizationNotEmpty(_, let members) = storeError({ try store.removeOrganization(ops) }) else {
            Issue.record("an organization with members was removed")
            return
        }
        #expect(members == 2)
        try store.removeOrganization(OrganizationName("dev"))
        #expect(try store.organization(named: OrganizationName("dev")) == nil)
        guard case .organizationNotFound = storeError({ try store.removeOrganization(OrganizationName("dev")) }) else {
            Issue.record("removing an organization twice did not throw organizationNotFound")
            return
        }
    }

    @Test(arguments: Backend.allCases)
    func replayStep_isMonotonic_checksTheCredential_andSurvivesReopening(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let alice = accountName("alice")
        do {
            let store = try fixture.open()
            try store.create(makeAccount("alice"))
            #expect(try store.recordAcceptedStep(100, for: alice, credential: enrolledCredential, at: 5) == .accepted)
            #expect(try store.recordAcceptedStep(100, for: alice, credential: enrolledCredential, at: 5) == .replayed)
            #expect(try store.recordAcceptedStep(99, for: alice, credential: enrolledCredential, at: 5) == .replayed)
            let other = TOTPCredential(secret: Array(repeating: 7, count: 20), parameters: .standard)
            #expect(try store.recordAcceptedStep(101, for: alice, credential: other, at: 5) == .replayed)
            let account = try store.account(named: alice)
            #expect(account?.lastAcceptedStep == 100 && account?.lastLoginAt == 5)
            guard
                case .notFound = storeError({
                    try store.recordAcceptedStep(1, for: accountName("nobody"), credential: enrolledCredential, at: 5)
                })
            else {
                Issue.record("an unknown account's step was not refused with notFound")
                return
            }
        }
        let store = try fixture.open()
        #expect(try store.recordAcceptedStep(100, for: alice, credential: enrolledCredential, at: 6) == .replayed)
        #expect(try store.recordAcceptedStep(101, for: alice, credential: enrolledCredential, at: 6) == .accepted)
    }

    @Test(arguments: Backend.allCases)
    func replayStep_raceOfManyThreadsOnOneStep_hasExactlyOneWinner(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        let alice = accountName("alice")
        try store.create(makeAccount("alice"))
        for step in UInt64(1)...3 {
            let accepted = Atomic(0)
            let replayed = Atomic(0)
            onThreads(24) { _ in
                switch try? store.recordAcceptedStep(step * 10, for: alice, credential: enrolledCredential, at: 1) {
                case .accepted: accepted.add(1, ordering: .relaxed)
                case .replayed: replayed.add(1, ordering: .relaxed)
                case nil: break
                }
            }
            #expect(accepted.load(ordering: .relaxed) == 1)
            #expect(replayed.load(ordering: .relaxed) == 23)
        }
        #expect(try store.account(named: alice)?.lastAcceptedStep == 30)
    }

    @Test(arguments: Backend.allCases)
    func throttle_reservesAtomically_countsTheAccount_andClears(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        let fromHost = ThrottleKey(subject: "alice", origin: .host("10.0.0.1"))
        let fromPeer = ThrottleKey(subject: "alice", origin: .peer(uid: 1000))
        // At most 3 failures, however many attempts run at once.
        let allowed = Atomic(0)
        let locked = Atomic(0)
        onThreads(16) { _ in
            let reservation = try? store.reserveAttempt(fromHost, at: 100) { record, _ in
                record.failures < 3 ? .allowed : .locked(retryAfter: 60)
            }
            switch reservation {
            case .allowed: allowed.add(1, ordering: .relaxed)
            case .locked: locked.add(1, ordering: .relaxed)
            case nil: break
            }
        }
        #expect(allowed.load(ordering: .relaxed) == 3)
        #expect(locked.load(ordering: .relaxed) == 13)
        // A privileged origin counts toward the account itself, and `decide` sees that count.
        #expect(try store.account(named: accountName("alice"))?.failureCount == 3)
        var seen: UInt32?
        _ = try store.reserveAttempt(fromPeer, at: 101) { record, accountWide in
            seen = accountWide?.failures
            return record.failures == 0 && accountWide == nil ? .allowed : .locked(retryAfter: 1)
        }
        #expect(seen == nil, "an unprivileged origin must not see or count the account")
        #expect(try store.account(named: accountName("alice"))?.failureCount == 3)
        // A locked decision counts nothing.
        #expect(
            try store.reserveAttempt(fromHost, at: 102) { _, _ in .locked(retryAfter: 5) } == .locked(retryAfter: 5)
        )
        _ = try store.reserveAttempt(fromHost, at: 103) { record, accountWide in
            seen = accountWide?.failures
            #expect(record.failures == 3 && record.lastFailureAt == 100)
            return .locked(retryAfter: 1)
        }
        #expect(seen == 3)

        try store.clearAttempts(fromHost)
        #expect(try store.account(named: accountName("alice"))?.failureCount == 0)
        _ = try store.reserveAttempt(fromHost, at: 104) { record, _ in
            #expect(record.failures == 0)
            return .allowed
        }
        try store.clearAllAttempts(of: "alice")
        _ = try store.reserveAttempt(fromPeer, at: 105) { record, _ in
            #expect(record.failures == 0)
            return .locked(retryAfter: 1)
        }
        // Unknown subjects are throttled the same way, with no account behind them.
        let stranger = ThrottleKey(subject: "nobody", origin: .local)
        #expect(
            try store.reserveAttempt(stranger, at: 106) { record, _ in
                record.failures == 0 ? .allowed : .locked(retryAfter: 1)
            } == .allowed
        )
        #expect(
            try store.reserveAttempt(stranger, at: 107) { record, _ in
                record.failures == 0 ? .allowed : .locked(retryAfter: 1)
            } == .locked(retryAfter: 1)
        )
    }

    /// A name without an account is counted as a whole exactly like an account, so that a lock reached from one
    /// host answers every other host alike and `locked` never tells which accounts exist; an unlock clears both.
    @Test(arguments: Backend.allCases)
    func throttle_aNameWithoutAnAccount_isLockedAsAWholeLikeAnAccount_untilUnlocked(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.create(makeAccount("bob"))
        // A hard lock after 4 failures of the subject as a whole; each key alone would allow 10.
        var seen: [ThrottleRecord?] = []
        func attempt(_ subject: String, _ origin: ThrottleOrigin, at time: UnixTime) throws -> AttemptReservation {
            try store.reserveAttempt(ThrottleKey(subject: subject, origin: origin), at: time) { record, accountWide in
                seen.append(accountWide)
                if let accountWide, accountWide.failures >= 4 { return .locked(retryAfter: .max) }
                return record.failures < 10 ? .allowed : .locked(retryAfter: 30)
            }
        }
        func history(of subject: String) throws -> [AttemptReservation] {
            var answers: [AttemptReservation] = []
            for time in 100..<105 { answers.append(try attempt(subject, .host("192.0.2.7"), at: UnixTime(time))) }
            answers.append(try attempt(subject, .host("198.51.100.1"), at: 105))
            answers.append(try attempt(subject, .local, at: 106))
            // An unprivileged peer neither sees nor feeds the subject's counter.
            answers.append(try attempt(subject, .peer(uid: 1000), at: 107))
            try store.clearAllAttempts(of: subject)
            answers.append(try attempt(subject, .host("198.51.100.1"), at: 108))
            return answers
        }

        let account = try history(of: "bob")
        let accountSaw = seen
        seen = []
        let stranger = try history(of: "ghost")
        let locked = AttemptReservation.locked(retryAfter: .max)
        #expect(account == [.allowed, .allowed, .allowed, .allowed, locked, locked, locked, .allowed, .allowed])
        #expect(stranger == account, "a name without an account must answer exactly like an account")
        let counted = ThrottleRecord(failures: 4, lastFailureAt: 103)
        #expect(accountSaw.count == 9 && accountSaw[4...6].allSatisfy { $0 == counted } && accountSaw[7] == nil)
        #expect(seen == accountSaw, "the decision must see the same counts for both")
        #expect(accountSaw.last == ThrottleRecord(), "an unlock clears the account's counter")
    }

    /// `user show` reads an account's records by origin: the filter's columns, then its test, latest failure
    /// first, cut at the limit with the full count; the stand-in counter and other subjects' records never show.
    @Test(arguments: Backend.allCases)
    func throttleRecords_listAnAccountsOrigins_filtered_latestFirst(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.create(makeAccount("bob"))
        func fail(_ subject: String, _ origin: ThrottleOrigin, times: Int, from start: UnixTime) throws {
            for time in start..<start + UnixTime(times) {
                _ = try store.reserveAttempt(ThrottleKey(subject: subject, origin: origin), at: time) { _, _ in .allowed
                }
            }
        }
        try fail("bob", .peer(uid: 65534), times: 6, from: 100)
        try fail("bob", .host("192.0.2.7"), times: 5, from: 200)
        try fail("bob", .local, times: 7, from: 300)
        try fail("bob", .host("198.51.100.1"), times: 2, from: 400)  // too few failures
        try fail("bob", .peer(uid: 1000), times: 9, from: 10)  // its last failure too old
        try fail("bo", .peer(uid: 65534), times: 9, from: 500)  // a subject that is bob's prefix
        try fail("ghost", .host("192.0.2.7"), times: 9, from: 600)  // a stand-in counter beside it

        let everyRecent = ThrottleFilter(minimumFailures: 5, failedSince: 50, accepts: { _ in true })
        let listed = try store.throttleRecords(of: ["bob", "bo", "ghost", "nobody"], matching: everyRecent, limit: 2)
        #expect(
            listed["bob"]
                == ThrottleListing(
                    records: [
                        OriginThrottleRecord(origin: .local, record: ThrottleRecord(failures: 7, lastFailureAt: 306)),
                        OriginThrottleRecord(
                            origin: .host("192.0.2.7"),
                            record: ThrottleRecord(failures: 5, lastFailureAt: 204)
                        ),
                    ],
                    total: 3
                )
        )
        #expect(
            listed["ghost"]?.records == [
                OriginThrottleRecord(
                    origin: .host("192.0.2.7"),
                    record: ThrottleRecord(failures: 9, lastFailureAt: 608)
                )
            ]
        )
        #expect(
            listed["bo"]?.records == [
                OriginThrottleRecord(origin: .peer(uid: 65534), record: ThrottleRecord(failures: 9, lastFailureAt: 508))
            ]
        )
        #expect(listed["nobody"] == nil)

        let peersOnly = ThrottleFilter(minimumFailures: 1, failedSince: 0) { $0.failures == 6 || $0.failures == 9 }
        let peers = try store.throttleRecords(of: ["bob"], matching: peersOnly, limit: 10)
        #expect(
            peers["bob"]?.records.map(\.origin) == [.peer(uid: 65534), .peer(uid: 1000)],
            "\(String(describing: peers))"
        )
        #expect(try store.throttleRecords(of: ["bob"], matching: everyRecent, limit: 0)["bob"]?.total == 3)

        try store.clearAllAttempts(of: "bob")
        #expect(try store.throttleRecords(of: ["bob"], matching: everyRecent, limit: 10).isEmpty)
    }

    /// The key unknown names' fingerprints use: a function of the secrets key and the label alone, so the same
    /// whenever a store opens with that key (after a restart, on another host of a fleet), and another per label.
    @Test(arguments: Backend.allCases)
    func derivedKey_dependsOnTheSecretsKeyAndTheLabelOnly(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        let first = store.derivedKey(label: "twofactord name fingerprint v1")
        #expect(first.count == 32 && first != fixture.key.bytes)
        #expect(store.derivedKey(label: "another purpose") != first)
        let expected = HMAC.authenticationCode(
            for: Array("twofactord name fingerprint v1".utf8),
            key: fixture.key.bytes,
            using: .sha256
        )
        #expect(first == expected, "HMAC-SHA256 of the label under the secrets key, as documented")
    }

    /// The stand-in counter of a name without an account is a throttle record like the others: forgotten once
    /// quiet for the store's throttle memory (two days). An account's own counter is never forgotten.
    @Test(arguments: Backend.allCases)
    func throttle_aQuietNameWithoutAnAccount_isForgotten_anAccountsCounterIsNot(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.create(makeAccount("bob"))
        for subject in ["bob", "ghost"] {
            for time in 100..<104 {
                let key = ThrottleKey(subject: subject, origin: .host("192.0.2.7"))
                _ = try store.reserveAttempt(key, at: UnixTime(time)) { _, _ in .allowed }
            }
        }
        // Every write prunes a few quiet records (LMDB from a random place: enough writes reach them all).
        let later: UnixTime = 103 + 2 * 86_400 + 1
        for uid in 0..<64 {
            let key = ThrottleKey(subject: "somebody", origin: .peer(uid: UInt32(uid)))
            _ = try store.reserveAttempt(key, at: later) { _, _ in .allowed }
        }
        func accountWide(of subject: String) throws -> ThrottleRecord? {
            var seen: ThrottleRecord?
            _ = try store.previewAttempt(ThrottleKey(subject: subject, origin: .host("198.51.100.1"))) { _, counted in
                seen = counted
                return .allowed
            }
            return seen
        }
        #expect(try accountWide(of: "bob") == ThrottleRecord(failures: 4, lastFailureAt: 103))
        #expect(try accountWide(of: "ghost") == ThrottleRecord())
    }

    /// `previewAttempt` decides on the same state as `reserveAttempt` (the key's record, and the account for a
    /// privileged origin) and counts nothing, whatever it decides.
    @Test(arguments: Backend.allCases)
    func previewAttempt_decidesOnTheStoredCount_andCountsNothing(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        let fromHost = ThrottleKey(subject: "alice", origin: .host("10.0.0.1"))
        for time in 100...101 { _ = try store.reserveAttempt(fromHost, at: Int64(time)) { _, _ in .allowed } }
        var seen: (failures: UInt32, last: Int64?, account: UInt32?)?
        for _ in 0..<3 {
            let answer = try store.previewAttempt(fromHost) { record, accountWide in
                seen = (record.failures, record.lastFailureAt, accountWide?.failures)
                return .allowed
            }
            #expect(answer == .allowed)
            #expect(seen?.failures == 2 && seen?.last == 101 && seen?.account == 2, "\(String(describing: seen))")
        }
        #expect(try store.previewAttempt(fromHost) { _, _ in .locked(retryAfter: 9) } == .locked(retryAfter: 9))
        #expect(try store.account(named: accountName("alice"))?.failureCount == 2)
        _ = try store.reserveAttempt(fromHost, at: 102) { record, _ in
            #expect(record.failures == 2, "previews counted nothing")
            return .locked(retryAfter: 1)
        }
        let stranger = ThrottleKey(subject: "nobody", origin: .local)
        _ = try store.previewAttempt(stranger) { record, accountWide in
            #expect(record.failures == 0 && accountWide == ThrottleRecord())
            return .allowed
        }
        _ = try store.reserveAttempt(stranger, at: 103) { record, _ in
            #expect(record.failures == 0, "a preview of an unknown key counts nothing either")
            return .allowed
        }
    }

    /// The write in place of an unknown name's denial record changes nothing that can be read: the counts, the
    /// audit trail and its sequence stay as they were, and a key without a record gets none.
    @Test(arguments: Backend.allCases)
    func recordDenialOfUnknownName_changesNothingThatCanBeRead(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        let keys = [
            ThrottleKey(subject: "unknown-1a2b", origin: .peer(uid: 1000)),
            ThrottleKey(subject: "unknown-1a2b", origin: .host("192.0.2.7")),
        ]
        for (index, key) in keys.enumerated() {
            _ = try store.reserveAttempt(key, at: 50 + Int64(index)) { _, _ in .allowed }
        }
        try store.appendAudit(
            AuditRecord(time: 60, actor: .system, target: nil, organization: nil, action: .login, outcome: .denied)
        )
        let everything = ThrottleFilter(minimumFailures: 0, failedSince: 0) { _ in true }
        let counts = try store.throttleRecords(of: ["unknown-1a2b"], matching: everything, limit: 10)
        let trail = try store.auditRecords(matching: AuditFilter(), before: nil, limit: 10)

        for key in keys + [ThrottleKey(subject: "never-tried", origin: .local)] {
            try store.recordDenialOfUnknownName(key)
        }
        #expect(try store.throttleRecords(of: ["unknown-1a2b"], matching: everything, limit: 10) == counts)
        #expect(try store.throttleRecords(of: ["never-tried"], matching: everything, limit: 10).isEmpty)
        #expect(try store.auditRecords(matching: AuditFilter(), before: nil, limit: 10) == trail)
        try store.appendAudit(
            AuditRecord(time: 61, actor: .system, target: nil, organization: nil, action: .login, outcome: .denied)
        )
        let next = try store.auditRecords(matching: AuditFilter(), before: nil, limit: 1).first
        #expect(next?.sequence == (trail.first?.sequence ?? 0) + 1)
        _ = try store.reserveAttempt(keys[1], at: 70) { record, accountWide in
            #expect(record == ThrottleRecord(failures: 1, lastFailureAt: 51))
            #expect(accountWide == ThrottleRecord(failures: 1, lastFailureAt: 51), "the stand-in's count")
            return .allowed
        }
    }

    /// `checkAttempt`: the throttle decision, the replay guard, the failure count and the audit record of one
    /// code check, with the same outcome on every backend.
    @Test(arguments: Backend.allCases)
    func checkAttempt_acceptsOnce_countsWhatFails_andWritesNothingWhenLocked(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        let alice = accountName("alice")
        let key = ThrottleKey(subject: "alice", origin: .host("192.0.2.7"))
        func audit(_ time: UnixTime) -> AttemptAudit {
            AttemptAudit(
                accepted: AuditRecord(
                    time: time,
                    actor: .account(alice),
                    target: alice,
                    organization: nil,
                    action: .login,
                    outcome: .ok
                ),
                denied: AuditRecord(
                    time: time,
                    actor: .account(alice),
                    target: alice,
                    organization: nil,
                    action: .login,
                    outcome: .denied
                )
            )
        }
        func check(_ step: UInt64?, at time: UnixTime, limit: UInt32 = 3) throws -> AttemptVerdict {
            try store.checkAttempt(
                key,
                claiming: step.map {
                    .step(
                        StepClaim(
                            step: $0,
                            authenticator: .enrolled,
                            credential: enrolledCredential,
                            drift: 0,
                            offset: 0
                        ),
                        of: alice
                    )
                } ?? .failed,
                alongside: { account, _ in account.lastFailureAt = 1 },
                at: time,
                decide: { record, _ in record.failures < limit ? .allowed : .locked(retryAfter: 30) },
                audit: audit(time)
            )
        }
        func lastAudit() throws -> AuditRecord? {
            let newest = try store.auditRecords(matching: AuditFilter(), before: nil, limit: 1)
            return newest.first
        }

        // A wrong code (no claim) is counted, against the account too from a privileged origin, and audited.
        #expect(try check(nil, at: 10) == .denied)
        #expect(try store.account(named: alice)?.failureCount == 1)
        #expect(try lastAudit()?.outcome == .denied && lastAudit()?.time == 10)
        // An accepted step clears the throttle, runs `alongside`, and is audited.
        #expect(try check(100, at: 11) == .accepted)
        var account = try store.account(named: alice)
        #expect(account?.lastAcceptedStep == 100 && account?.failureCount == 0 && account?.lastFailureAt == 1)
        #expect(try lastAudit()?.outcome == .ok && lastAudit()?.time == 11)
        _ = try store.reserveAttempt(key, at: 12) { record, _ in
            #expect(record.failures == 0, "an accepted check must leave no failure behind")
            return .locked(retryAfter: 1)
        }
        // The same step again is a replay: refused, counted and audited; the step stays.
        #expect(try check(100, at: 13) == .denied)
        #expect(try check(99, at: 14) == .denied)
        account = try store.account(named: alice)
        #expect(account?.lastAcceptedStep == 100 && account?.failureCount == 2)
        // Locked: even a right, fresh step is refused, and nothing is written.
        #expect(try check(nil, at: 15) == .denied)
        let auditBefore = try lastAudit()
        #expect(try check(101, at: 16) == .locked(retryAfter: 30))
        account = try store.account(named: alice)
        #expect(account?.lastAcceptedStep == 100 && account?.failureCount == 3)
        #expect(try lastAudit() == auditBefore)
        // Once the rule allows it again, the fresh step is accepted.
        #expect(try check(101, at: 17, limit: 10) == .accepted)
        #expect(try store.account(named: alice)?.lastAcceptedStep == 101)
    }

    /// `checkAttempt` for a login decided without a code: `.passed` records the success and clears the throttle,
    /// `.failed` counts, and the denial writes a record, nothing, or (for a name without an account) no record
    /// in a write that leaves the trail as it was.
    @Test(arguments: Backend.allCases)
    func checkAttempt_passedAndFailedClaims_recordTheSuccessOrCountTheFailure(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.create(makeAccount("bob"))
        let bob = accountName("bob")
        let key = ThrottleKey(subject: "bob", origin: .host("192.0.2.9"))
        let ok = AuditRecord(
            time: 0,
            actor: .account(bob),
            target: bob,
            organization: nil,
            action: .login,
            outcome: .ok
        )
        func attempt(
            _ claim: AttemptClaim,
            at time: UnixTime,
            key: ThrottleKey = key,
            denied: DenialRecord = .none,
            limit: UInt32 = 10
        ) throws -> AttemptVerdict {
            var accepted = ok
            accepted.time = time
            return try store.checkAttempt(
                key,
                claiming: claim,
                alongside: nil,
                at: time,
                decide: { record, _ in record.failures < limit ? .allowed : .locked(retryAfter: 30) },
                audit: AttemptAudit(accepted: accepted, denied: denied)
            )
        }
        func trail() throws -> [AuditRecord] {
            try store.auditRecords(matching: AuditFilter(), before: nil, limit: 100)
        }
        func failures(_ key: ThrottleKey) throws -> ThrottleRecord {
            var seen = ThrottleRecord(failures: 0, lastFailureAt: nil)
            _ = try store.previewAttempt(key) { record, _ in
                seen = record
                return .allowed
            }
            return seen
        }

        // A login asked for its code: counted, against the account too from a privileged origin, not audited.
        #expect(try attempt(.failed, at: 10) == .denied)
        #expect(try attempt(.failed, at: 11) == .denied)
        #expect(try failures(key).failures == 2)
        #expect(try store.account(named: bob)?.failureCount == 2)
        #expect(try trail().isEmpty)
        // Locked: a right password is refused, and nothing is written.
        #expect(try attempt(passedClaim(bob), at: 12, limit: 2) == .locked(retryAfter: 30))
        #expect(try store.account(named: bob)?.lastLoginAt == nil)
        #expect(try failures(key).failures == 2 && trail().isEmpty)
        // Passed: the success, the cleared throttle and the record, together.
        #expect(try attempt(passedClaim(bob), at: 13) == .accepted)
        var account = try store.account(named: bob)
        #expect(account?.lastLoginAt == 13 && account?.failureCount == 0)
        #expect(try failures(key).failures == 0)
        #expect(try trail().map(\.time) == [13])
        // A denial with its record.
        var denial = ok
        (denial.time, denial.outcome) = (14, .denied)
        #expect(try attempt(.failed, at: 14, denied: .record(denial)) == .denied)
        #expect(try trail().map(\.time) == [14, 13])
        account = try store.account(named: bob)
        #expect(account?.failureCount == 1 && account?.lastLoginAt == 13)

        // A name without an account: counted (its stand-in too), and the trail stays as it was.
        let unknown = ThrottleKey(subject: "unknown-5e6f", origin: .host("192.0.2.9"))
        let before = try trail()
        #expect(try attempt(.failed, at: 15, key: unknown, denied: .maskingUnknownName) == .denied)
        #expect(try attempt(.failed, at: 16, key: unknown, denied: .maskingUnknownName) == .denied)
        #expect(try trail() == before)
        _ = try store.previewAttempt(unknown) { record, accountWide in
            #expect(record == ThrottleRecord(failures: 2, lastFailureAt: 16))
            #expect(accountWide == ThrottleRecord(failures: 2, lastFailureAt: 16), "the stand-in's count")
            return .allowed
        }
        try store.appendAudit(denial)
        #expect(try trail().first?.sequence == (before.first?.sequence ?? 0) + 1)
    }

    /// A success under a privileged key whose subject is another account than the claim's: the key's subject
    /// has its failure count cleared, as under its own name (the LMDB store reads it again only then).
    @Test(arguments: Backend.allCases)
    func checkAttempt_successUnderTheKeyOfAnotherName_clearsThatNamesFailures(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.create(makeAccount("carol"))
        try store.create(makeAccount("dave"))
        let (carol, dave) = (accountName("carol"), accountName("dave"))
        func attempt(_ claim: AttemptClaim, at time: UnixTime) throws -> AttemptVerdict {
            try store.checkAttempt(
                ThrottleKey(subject: "carol", origin: .host("192.0.2.11")),
                claiming: claim,
                alongside: nil,
                at: time,
                decide: { _, _ in .allowed },
                audit: AttemptAudit(accepted: nil, denied: .none)
            )
        }

        #expect(try attempt(.failed, at: 10) == .denied)
        #expect(try store.account(named: carol)?.failureCount == 1)
        #expect(try attempt(passedClaim(dave), at: 11) == .accepted)
        #expect(try store.account(named: carol)?.failureCount == 0)
        #expect(try store.account(named: dave)?.lastLoginAt == 11)
    }

    /// Many checks of one step at once: exactly one is accepted, every other is a counted replay.
    @Test(arguments: Backend.allCases)
    func checkAttempt_raceOfManyThreadsOnOneStep_hasExactlyOneWinner(_ backend: Backend) throws {
        try raceOnOneStep(backend) { store, key, claim, audit in
            try? store.checkAttempt(
                key,
                claiming: claim,
                alongside: nil,
                at: 20,
                decide: { _, _ in .allowed },
                audit: audit
            )
        }
    }

    /// The same race through `checkAttempt(…whenDurable:)`, whose callers do not wait for the write: one winner,
    /// and every caller hears back once.
    @Test(arguments: Backend.allCases)
    func checkAttemptWhenDurable_raceOfManyThreadsOnOneStep_hasExactlyOneWinner(_ backend: Backend) throws {
        try raceOnOneStep(backend) { store, key, claim, audit in
            let heard = DispatchSemaphore(value: 0)
            let verdicts = Mutex<[AttemptVerdict?]>([])
            store.checkAttempt(
                key,
                claiming: claim,
                alongside: nil,
                at: 20,
                decide: { _, _ in .allowed },
                audit: audit,
                whenDurable: { outcome in
                    verdicts.withLock { $0.append(try? outcome.get()) }
                    heard.signal()
                }
            )
            heard.wait()
            // A second report would come from the same batch, right after the first.
            usleep(1_000)
            return verdicts.withLock { $0.count == 1 ? $0[0] : nil }
        }
    }

    /// 24 threads claim step 500 of alice, each under its own throttle key, through `check`.
    private func raceOnOneStep(
        _ backend: Backend,
        _ check:
            @escaping @Sendable (any AccountStore, ThrottleKey, AttemptClaim, AttemptAudit) throws -> AttemptVerdict?
    ) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        let alice = accountName("alice")
        let accepted = Atomic(0)
        let denied = Atomic(0)
        func record(_ outcome: AuditOutcome) -> AuditRecord {
            AuditRecord(
                time: 20,
                actor: .account(alice),
                target: nil,
                organization: nil,
                action: .login,
                outcome: outcome
            )
        }
        let audit = AttemptAudit(accepted: record(.ok), denied: record(.denied))
        let claim = AttemptClaim.step(
            StepClaim(step: 500, authenticator: .enrolled, credential: enrolledCredential, drift: 0, offset: 0),
            of: alice
        )
        onThreads(24) { thread in
            let key = ThrottleKey(subject: "alice", origin: .peer(uid: 2000 + UInt32(thread)))
            switch try? check(store, key, claim, audit) {
            case .accepted: accepted.add(1, ordering: .relaxed)
            case .denied: denied.add(1, ordering: .relaxed)
            default: break
            }
        }
        #expect(accepted.load(ordering: .relaxed) == 1)
        #expect(denied.load(ordering: .relaxed) == 23)
        #expect(try store.account(named: alice)?.lastAcceptedStep == 500)
    }

    @Test(arguments: Backend.allCases)
    func success_resetsTheFailureCount_andRecordsTheLoginTime(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        let alice = accountName("alice")
        try store.create(makeAccount("alice"))
        try store.update(alice) { account in
            account.failureCount = 2
            account.lastFailureAt = 11
        }
        try store.recordSuccess(for: alice, at: 12)
        let account = try store.account(named: alice)
        #expect(account?.failureCount == 0 && account?.lastLoginAt == 12 && account?.lastFailureAt == 11)
        guard case .notFound = storeError({ try store.recordSuccess(for: accountName("nobody"), at: 15) }) else {
            Issue.record("a success of an unknown account name did not throw notFound")
            return
        }
    }

    @Test(arguments: Backend.allCases)
    func recoveryCode_raceOfManyThreads_isUsedOnce(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        var account = makeAccount("alice")
        let code = RecoveryCodeHash(salt: Array(repeating: 1, count: 16), digest: Array(repeating: 2, count: 32))
        let other = RecoveryCodeHash(salt: Array(repeating: 3, count: 16), digest: Array(repeating: 4, count: 32))
        account.recoveryCodes = [code, other]
        try store.create(account)
        let name = account.name
        let used = Atomic(0)
        onThreads(16) { _ in
            // What AccountService does: find the code and drop it in the same write, or refuse.
            let result = try? store.update(name) { account in
                guard let index = account.recoveryCodes.firstIndex(of: code) else { throw BodyRefusal() }
                account.recoveryCodes.remove(at: index)
            }
            if result != nil { used.add(1, ordering: .relaxed) }
        }
        #expect(used.load(ordering: .relaxed) == 1)
        #expect(try store.account(named: account.name)?.recoveryCodes == [other])
    }

    @Test(arguments: Backend.allCases)
    func audit_appendsInOrder_filters_pages_andKeepsItsRetention(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open(retention: AuditRetention(maximumRecords: 5, maximumAge: 1_000))
        let ann = accountName("ann")
        for time in UnixTime(1)...8 {
            try store.appendAudit(
                AuditRecord(
                    time: time,
                    actor: .operator(uid: 0),
                    target: time.isMultiple(of: 2) ? ann : nil,
                    organization: .default,
                    action: .unlock,
                    outcome: .ok,
                    detail: "record \(time)"
                )
            )
        }
        let all = try store.auditRecords(matching: AuditFilter(), before: nil, limit: 100)
        #expect(all.map(\.time) == [8, 7, 6, 5, 4])
        #expect(all.map(\.sequence) == [8, 7, 6, 5, 4])
        #expect(all.first?.detail == "record 8" && all.first?.actor == .operator(uid: 0))
        #expect(
            try store.auditRecords(matching: AuditFilter(target: ann), before: nil, limit: 100).map(\.time) == [
                8, 6, 4,
            ]
        )
        #expect(
            try store.auditRecords(matching: AuditFilter(since: 6), before: nil, limit: 100).map(\.time) == [8, 7, 6]
        )
        #expect(try store.auditRecords(matching: AuditFilter(), before: 7, limit: 2).map(\.sequence) == [6, 5])
        #expect(
            try store.auditRecords(
                matching: AuditFilter(organization: OrganizationName("other")),
                before: nil,
                limit: 9
            )
            .isEmpty
        )
        // Age: records 1,000 s newer push the old ones out, a few per append.
        for time in UnixTime(2_000)...2_002 {
            try store.appendAudit(
                AuditRecord(time: time, actor: .system, target: nil, organization: nil, action: .login, outcome: .ok)
            )
        }
        #expect(
            try store.auditRecords(matching: AuditFilter(), before: nil, limit: 100).map(\.time) == [
                2_002, 2_001, 2_000,
            ]
        )
    }

    /// An organization that writes many records turns over its own part of the trail, not another's: each
    /// organization, and the records of no organization, keep up to `maximumRecords` of their own.
    @Test(arguments: Backend.allCases)
    func audit_keepsEachOrganizationsPartWithinTheLimit_soOneCannotPushOutAnothers(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open(retention: AuditRetention(maximumRecords: 3, maximumAge: 1_000_000))
        let quiet = try OrganizationName("quiet")
        let loud = try OrganizationName("loud")
        func append(_ time: UnixTime, _ organization: OrganizationName?) throws {
            try store.appendAudit(
                AuditRecord(
                    time: time,
                    actor: .operator(uid: 0),
                    target: nil,
                    organization: organization,
                    action: .unlock,
                    outcome: .ok
                )
            )
        }
        func times(_ organization: OrganizationName?, before: UInt64? = nil) throws -> [UnixTime] {
            try store.auditRecords(matching: AuditFilter(organization: organization), before: before, limit: 100)
                .map(\.time)
        }
        for time in UnixTime(1)...3 { try append(time, quiet) }
        for time in UnixTime(4)...23 { try append(time, loud) }
        for time in UnixTime(24)...25 { try append(time, nil) }
        #expect(try times(quiet) == [3, 2, 1])
        #expect(try times(loud) == [23, 22, 21])
        #expect(try times(nil) == [25, 24, 23, 22, 21, 3, 2, 1])
        let newest = try store.auditRecords(matching: AuditFilter(organization: loud), before: nil, limit: 1)
        #expect(newest.map(\.time) == [23])
        let sequence = try #require(newest.first?.sequence)
        #expect(try times(loud, before: sequence) == [22, 21])
        #expect(
            try store.auditRecords(matching: AuditFilter(organization: loud), before: sequence, limit: 1).map(\.time)
                == [22]
        )

        // Records dropped for their age leave their part's count: a part emptied that way takes three again.
        try append(2_000_000, loud)
        #expect(try times(nil) == [2_000_000])
        for time in UnixTime(2_000_001)...2_000_003 { try append(time, quiet) }
        #expect(try times(quiet) == [2_000_003, 2_000_002, 2_000_001])
        try append(2_000_004, quiet)
        #expect(try times(quiet) == [2_000_004, 2_000_003, 2_000_002])
        #expect(try times(loud) == [2_000_000])
    }

    /// Appends of one organization from many threads at once (the daemons of a fleet): its part may pass the
    /// limit while they run, by the appends in flight, and the appends after them bring it back to exactly the
    /// limit, so its count stayed right.
    @Test(arguments: Backend.allCases)
    func audit_concurrentAppendsOfOneOrganization_keepItsCountRight(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open(retention: AuditRetention(maximumRecords: 5, maximumAge: 1_000_000))
        let loud = try OrganizationName("loud")
        @Sendable func append(_ time: UnixTime) throws {
            try store.appendAudit(
                AuditRecord(time: time, actor: .system, target: nil, organization: loud, action: .unlock, outcome: .ok)
            )
        }
        func kept() throws -> Int {
            let records = try store.auditRecords(matching: AuditFilter(organization: loud), before: nil, limit: 100)
            return records.count
        }
        let failures = Atomic(0)
        onThreads(8) { thread in
            for index in 0..<20 {
                do { try append(UnixTime(1 + thread * 20 + index)) } catch { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
        let during = try kept()
        #expect((5...13).contains(during), "\(during) records")
        for time in UnixTime(200)...203 {
            try append(time)
            let now = try kept()
            #expect(now == 5, "\(now) records after \(time)")
        }
    }

    @Test(arguments: Backend.allCases)
    func secrets_areSealedAtRest_openWithTheKey_andAWrongKeyIsRefused(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let enrolledSecret = Array("ENROLLED-SECRET-0001".utf8)
        let pendingSecret = Array("PENDING-SECRET-00002".utf8)
        let recoveryDigest = Array("RECOVERY-CODE-HASH-0000000000003".utf8)
        var account = makeAccount("alice")
        account.totp = TOTPCredential(secret: enrolledSecret, parameters: .standard)
        account.pendingEnrollment = PendingEnrollment(
            credential: TOTPCredential(secret: pendingSecret, parameters: .standard),
            expiresAt: 2_000
        )
        account.recoveryCodes = [RecoveryCodeHash(salt: Array(repeating: 9, count: 16), digest: recoveryDigest)]
        do {
            let store = try fixture.open()
            try store.create(account)
            #expect(try store.account(named: account.name) == account)
        }
        let atRest = try fixture.bytesAtRest()
        #expect(bytes(atRest, contain: Array("hash-of-alice".utf8)), "the scan must see the records")
        for secret in [enrolledSecret, pendingSecret, recoveryDigest] {
            #expect(!bytes(atRest, contain: secret), "a secret is stored in the clear")
        }
        let wrong = try SecretsKey(
            bytes: Array(repeating: 0x5a, count: 32),
            path: fixture.directory.path + "/wrong.key"
        )
        guard case .storageFailure(let message) = storeError({ try fixture.open(key: wrong) }) else {
            Issue.record("a store opened with the wrong key")
            return
        }
        #expect(message.contains(wrong.path))
        #expect(try fixture.open().account(named: account.name) == account)
    }

    /// A login decided on an account read before its password was hashed is accepted only on the account as it
    /// read it: a `.passed` claim whose password hash or two-factor state the account no longer has, or of an
    /// account that is gone, is refused and counted, and writes no success; a step claimed with a password hash
    /// the account no longer has is refused as a replay, in `checkAttempt` and `recordLogin` alike.
    @Test(arguments: Backend.allCases)
    func aLoginDecidedOnAnotherPasswordHashOr2FAState_isRefused_andCounted(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.create(makeAccount("bob"))
        let bob = accountName("bob")
        let read = makeAccount("bob")
        let key = ThrottleKey(subject: "bob", origin: .host("192.0.2.9"))
        func attempt(_ claim: AttemptClaim, at time: UnixTime) throws -> AttemptVerdict {
            try store.checkAttempt(
                key,
                claiming: claim,
                alongside: nil,
                at: time,
                decide: { _, _ in .allowed },
                audit: AttemptAudit(accepted: nil, denied: .none)
            )
        }
        func step(_ step: UInt64, hash: String) -> StepClaim {
            StepClaim(
                step: step,
                authenticator: .enrolled,
                credential: enrolledCredential,
                drift: 0,
                offset: 0,
                passwordHash: hash
            )
        }
        let otherHash = "$scrypt$ln=17,r=8,p=1$salt$another-hash"

        #expect(try attempt(.passed(bob, passwordHash: otherHash, twoFactor: read.twoFactor), at: 10) == .denied)
        #expect(try attempt(.passed(bob, passwordHash: read.passwordHash, twoFactor: .off), at: 11) == .denied)
        #expect(try attempt(.step(step(100, hash: otherHash), of: bob), at: 12) == .denied)
        #expect(
            try store.recordLogin(
                of: bob,
                claiming: step(100, hash: otherHash),
                alongside: nil,
                at: 13,
                clearing: key,
                audit: nil
            ) == .replayed
        )
        var account = try #require(try store.account(named: bob))
        #expect(account.lastLoginAt == nil && account.lastAcceptedStep == nil)
        #expect(account.failureCount == 3, "each refused attempt counted, from a privileged origin")
        // The hash and state the account has: accepted.
        #expect(try attempt(.step(step(100, hash: read.passwordHash), of: bob), at: 14) == .accepted)
        #expect(
            try attempt(.passed(bob, passwordHash: read.passwordHash, twoFactor: read.twoFactor), at: 15) == .accepted
        )
        account = try #require(try store.account(named: bob))
        #expect(account.lastAcceptedStep == 100 && account.lastLoginAt == 15 && account.failureCount == 0)
        // An account removed since: refused and counted, not an error.
        try store.remove(bob)
        #expect(
            try attempt(.passed(bob, passwordHash: read.passwordHash, twoFactor: read.twoFactor), at: 16) == .denied
        )
    }

    /// `updateWithOrganization` gives its body the account's organization as stored when the write runs (a change
    /// of its rules committed since a caller read it included), and, like `update`, writes nothing when the body
    /// refuses; the organization is not changed.
    @Test(arguments: Backend.allCases)
    func updateWithOrganization_givesTheOrganizationAsStored_inTheWrite(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.addOrganizationsNamed("beta")
        try store.create(makeAccount("bob", organization: "beta"))
        let bob = accountName("bob")
        let beta = try OrganizationName("beta")
        let trusted = try IPNetwork("192.0.2.0/24")
        try store.updateOrganization(
            beta,
            { (organization: inout Organization) throws(Never) in
                organization.trustedNetworks = [trusted]
            },
            eachMember: { _ in false }
        )
        let read = try #require(try store.organization(named: beta))
        #expect(read.trustedNetworks == [trusted])
        // The rule removed after the caller read it: the write sees it removed, and refuses.
        try store.updateOrganization(
            beta,
            { (organization: inout Organization) throws(Never) in
                organization.trustedNetworks = []
            },
            eachMember: { _ in false }
        )
        struct Withdrawn: Error {}
        #expect(throws: UpdateError<Withdrawn>.self) {
            try store.updateWithOrganization(bob) {
                (account: inout Account, organization: Organization?) throws(Withdrawn) in
                guard organization?.trustedNetworks.contains(trusted) == true else { throw Withdrawn() }
                account.lastLoginAt = 20
            }
        }
        #expect(try store.account(named: bob)?.lastLoginAt == nil)
        var seen: Organization?
        try store.updateWithOrganization(bob) { (account: inout Account, organization: Organization?) throws(Never) in
            seen = organization
            account.lastLoginAt = 21
        }
        #expect(seen == (try store.organization(named: beta)))
        #expect(seen?.trustedNetworks == [])
        #expect(try store.account(named: bob)?.lastLoginAt == 21)
    }

    /// `create(_:checkingOrganization:)` gives its check the organization as stored in the write that creates the
    /// account, so a change of its rules committed after the caller read them is seen there; a refusal creates
    /// nothing, a change the check makes is what is stored, and a check cannot move the account elsewhere.
    @Test(arguments: Backend.allCases)
    func create_givesItsCheckTheOrganizationAsStored_inTheWrite(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.addOrganizationsNamed("beta")
        let beta = try OrganizationName("beta")
        let read = try #require(try store.organization(named: beta))
        #expect(!read.requiresTwoFactor)
        try store.updateOrganization(
            beta,
            { (organization: inout Organization) throws(Never) in organization.requiresTwoFactor = true },
            eachMember: { _ in false }
        )
        struct Refused: Error {}
        #expect(throws: UpdateError<Refused>.self) {
            try store.create(makeAccount("cy", organization: "beta")) {
                (_: inout Account, organization: Organization) throws(Refused) in
                if organization.requiresTwoFactor { throw Refused() }
            }
        }
        #expect(try store.account(named: accountName("cy")) == nil)
        var seen: Organization?
        let created = try store.create(makeAccount("cy", organization: "beta")) {
            (account: inout Account, organization: Organization) throws(Never) in
            seen = organization
            account.updatedAt = 4_242
        }
        #expect(seen == (try store.organization(named: beta)))
        #expect(created.updatedAt == 4_242)
        #expect(try store.account(named: accountName("cy"))?.updatedAt == 4_242)
        #expect(throws: UpdateError<Never>.self) {
            try store.create(makeAccount("dee", organization: "beta")) {
                (account: inout Account, _: Organization) throws(Never) in account.organization = .default
            }
        }
        #expect(try store.account(named: accountName("dee")) == nil)
        #expect(try store.memberCount(of: beta) == 1)
    }

    /// An organization has one admin: the store refuses a second in the write that would create it, whoever asks
    /// (the service checks before its password hash too, but another admin may be created during that hash), and
    /// refuses a check that would promote the new account. An agent and another organization's admin are created.
    @Test(arguments: Backend.allCases)
    func create_ofASecondAdmin_isRefused_inTheWrite(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.addOrganizationsNamed("beta", "gamma")
        func admin(_ name: String, of organization: String) -> Account {
            var account = makeAccount(name, organization: organization)
            account.role = .admin
            return account
        }
        try store.create(makeAccount("bo", organization: "beta"))
        try store.create(admin("bea", of: "beta"))
        do {
            try store.create(admin("ben", of: "beta"))
            Issue.record("a second admin of beta was created")
        } catch .organizationHasAdmin(let organization, let existing) {
            #expect(organization.value == "beta")
            #expect(existing.value == "bea")
        }
        #expect(try store.account(named: accountName("ben")) == nil)
        #expect(throws: UpdateError<Never>.self) {
            try store.create(makeAccount("bud", organization: "beta")) {
                (account: inout Account, _: Organization) throws(Never) in account.role = .admin
            }
        }
        #expect(try store.account(named: accountName("bud")) == nil)
        try store.create(makeAccount("bix", organization: "beta"))
        try store.create(admin("gil", of: "gamma"))
        #expect(try store.memberCount(of: OrganizationName("beta")) == 3)
        #expect(try store.memberCount(of: OrganizationName("gamma")) == 1)
    }

    /// Two admins of one organization created at once, for real: the first is held inside its write (its check
    /// blocks) while the second starts. The second waits for the first's write and is refused, naming it; with an
    /// organization lock both could take (PostgreSQL's `FOR SHARE`), the second went through first instead.
    @Test(arguments: Backend.allCases)
    func create_ofTwoAdminsAtOnce_createsTheFirst_andRefusesTheSecond(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.addOrganizationsNamed("beta")
        @Sendable func admin(_ name: String) -> Account {
            var account = makeAccount(name, organization: "beta")
            account.role = .admin
            return account
        }
        let firstInside = DispatchSemaphore(value: 0)
        let releaseFirst = DispatchSemaphore(value: 0)
        let secondDone = DispatchSemaphore(value: 0)
        let outcomes = Mutex<[String: String]>([:])
        @Sendable func outcome(_ body: () throws -> Void) -> String {
            do {
                try body()
                return "created"
            } catch {
                return "\(error)"
            }
        }
        let first = startThread {
            let result = outcome {
                try store.create(admin("bea")) { (_: inout Account, _: Organization) throws(Never) in
                    firstInside.signal()
                    releaseFirst.wait()
                }
            }
            outcomes.withLock { $0["bea"] = result }
        }
        firstInside.wait()
        let second = startThread {
            let result = outcome { try store.create(admin("ben")) }
            outcomes.withLock { $0["ben"] = result }
            secondDone.signal()
        }
        // Time for the second to reach the organization's lock; it must still wait there when the first goes on.
        let finishedBeside = secondDone.wait(timeout: .now() + .milliseconds(500)) == .success
        releaseFirst.signal()
        pthread_join(first, nil)
        pthread_join(second, nil)
        #expect(!finishedBeside, "the second admin's write did not wait for the first's")
        let results = outcomes.withLock { $0 }
        #expect(results["bea"] == "created")
        #expect(results["ben"]?.hasPrefix("'beta' already has an admin, 'bea'") == true, "\(results)")
        let admins = try store.accounts(in: OrganizationName("beta"), after: nil, limit: 10).filter {
            $0.role == .admin
        }
        #expect(admins.map(\.name.value) == ["bea"])
    }

    /// What a login's accepted step changes alongside (a grace starting) is given the account's organization as
    /// stored in that write: a grace period changed after the login read it is the one it sees, in the code
    /// check's write and in the password login's.
    @Test(arguments: Backend.allCases)
    func anAcceptedStep_givesAlongsideTheOrganizationAsStored_inTheWrite(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.addOrganizationsNamed("beta")
        let beta = try OrganizationName("beta")
        try store.create(makeAccount("eli", organization: "beta"))
        let eli = accountName("eli")
        func setGracePeriod(_ seconds: Int64) throws {
            try store.updateOrganization(
                beta,
                { (organization: inout Organization) throws(Never) in organization.gracePeriod = seconds },
                eachMember: { _ in false }
            )
        }
        try setGracePeriod(60)
        let seen = Mutex<[Int64?]>([])
        let verdict = try store.checkAttempt(
            ThrottleKey(subject: "eli", origin: .peer(uid: 7)),
            claiming: stepClaim(100, of: eli),
            alongside: { account, organization in
                seen.withLock { $0.append(organization?.gracePeriod) }
                account.lastFailureAt = 3
            },
            at: 10,
            decide: { _, _ in .allowed },
            audit: AttemptAudit(accepted: nil, denied: .none)
        )
        #expect(verdict == .accepted)
        #expect(seen.withLock { $0.last } == 60)
        #expect(try store.account(named: eli)?.lastFailureAt == 3)
        try setGracePeriod(0)
        let acceptance = try store.recordLogin(
            of: eli,
            claiming: StepClaim(
                step: 101,
                authenticator: .enrolled,
                credential: enrolledCredential,
                drift: 0,
                offset: 0
            ),
            alongside: { _, organization in seen.withLock { $0.append(organization?.gracePeriod) } },
            at: 11,
            clearing: nil,
            audit: nil
        )
        #expect(acceptance == .accepted)
        #expect(seen.withLock { $0 } == [60, 0])
    }

    /// `remove(_:ifStill:)` removes only the account the caller read: another made under its name since (here in
    /// another organization, in the same second) is left as it is, and the call throws `.notFound`.
    @Test(arguments: Backend.allCases)
    func remove_ofAnAccountMadeAgainUnderItsName_leavesTheNewOne(_ backend: Backend) throws {
        let fixture = try BackendFixture(backend)
        let store = try fixture.open()
        try store.addOrganizationsNamed("beta")
        try store.create(makeAccount("bob"))
        let read = try #require(try store.account(named: accountName("bob")))
        try store.remove(read.name)
        try store.create(makeAccount("bob", organization: "beta"))
        #expect(throws: AccountStoreError.self) { try store.remove(read.name, ifStill: read.identity) }
        #expect(try store.account(named: read.name)?.organization.value == "beta")
        let again = try #require(try store.account(named: read.name))
        try store.remove(read.name, ifStill: again.identity)
        #expect(try store.account(named: read.name) == nil)
    }
}
