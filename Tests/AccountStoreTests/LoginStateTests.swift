import AccountStore
import LMDB
@testable import LMDBAccountStore
import Testing
@testable import StoredRecords

// The LMDB store keeps what logins change in `logins`, apart from the account records
// (LMDBAccountStore+LoginState.swift). These tests read the raw databases to see where each write went,
// and check that the replay guard holds across every way the two are brought together again.

private let alice = accountName("alice")

private func accept(_ step: UInt64, on store: LMDBAccountStore, at time: UnixTime = 2_000) throws -> StepAcceptance {
    try store.recordAcceptedStep(
        step,
        for: alice,
        authenticator: .enrolled,
        credential: enrolledCredential,
        drift: 0,
        at: time
    )
}

/// The raw record and login state of `name`, read with the store closed.
private func rawEntries(_ fixture: StoreFixture, _ name: String) throws -> (record: [UInt8]?, state: [UInt8]?) {
    var entries: (record: [UInt8]?, state: [UInt8]?) = (nil, nil)
    try fixture.withRawWrite { transaction in
        let accounts = try transaction.openDatabase(named: "accounts", create: false)
        let logins = try transaction.openDatabase(named: "logins", create: false)
        entries = (
            try transaction.get(Array(name.utf8), in: accounts), try transaction.get(Array(name.utf8), in: logins)
        )
    }
    return entries
}

@Test func acceptedCode_writesOnlyTheLoginState_andEveryReadAppliesIt() throws {
    let fixture = StoreFixture()
    let recordBefore: [UInt8]?
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
    }
    recordBefore = try rawEntries(fixture, "alice").record
    do {
        let store = try fixture.open()
        #expect(try accept(100, on: store) == .accepted)
    }
    let (record, state) = try rawEntries(fixture, "alice")
    #expect(record == recordBefore, "an accepted code rewrote the account record")
    let stored = try LoginStateRecord.decode(try #require(state))
    #expect(stored.authenticators.map(\.lastAcceptedStep) == [100] && stored.lastLoginAt == 2_000)

    let store = try fixture.open()
    #expect(try store.account(named: alice)?.lastAcceptedStep == 100)
    #expect(try store.accounts(in: nil, after: nil, limit: 10).first?.lastAcceptedStep == 100)
    #expect(try store.accountForCodeCheck(named: alice)?.lastAcceptedStep == 100)
    #expect(try accept(100, on: store) == .replayed)
    #expect(try accept(99, on: store) == .replayed)
    #expect(try accept(101, on: store) == .accepted)
}

@Test func wholeRecordWrites_takeTheLoginStateIntoTheRecord_andTheStepStaysUsed() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        #expect(try accept(100, on: store) == .accepted)
        let updated = try store.update(alice) { $0.role = .admin }
        #expect(updated.lastAcceptedStep == 100 && updated.lastLoginAt == 2_000)
    }
    let (record, state) = try rawEntries(fixture, "alice")
    #expect(state == nil, "the login state outlived a write of the whole record")
    let folded = try LMDBAccountStore.decodeRecord(try #require(record), key: Array("alice".utf8))
    #expect(folded.lastAcceptedStep == 100 && folded.role == .admin)

    let store = try fixture.open()
    #expect(try accept(100, on: store) == .replayed)
    // A key rotation rewrites every record the same way.
    #expect(try accept(101, on: store) == .accepted)
    _ = try store.rotateSecretsKey()
    #expect(try accept(101, on: store) == .replayed)
    #expect(try store.account(named: alice)?.lastAcceptedStep == 101)
}

@Test func failuresAndSuccesses_goToTheLoginState_andAnUpdateSeesThem() throws {
    let fixture = StoreFixture()
    do { try fixture.open().create(makeAccount("alice")) }
    let recordBefore = try rawEntries(fixture, "alice").record
    do { try fixture.open().recordSuccess(for: alice, at: 3_000) }
    let (record, state) = try rawEntries(fixture, "alice")
    #expect(record == recordBefore, "a success rewrote the account record")
    #expect(try LoginStateRecord.decode(try #require(state)).lastLoginAt == 3_000)

    let store = try fixture.open()
    let seen = try store.update(alice) { account in
        #expect(account.lastLoginAt == 3_000 && account.updatedAt == 3_000)
        account.failureCount = 4
    }
    #expect(seen.failureCount == 4)
    try store.recordSuccess(for: alice, at: 3_001)
    #expect(try store.account(named: alice)?.failureCount == 0)
}

@Test func removedThenCreatedAgain_startsWithoutTheOldLoginState() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        #expect(try accept(100, on: store) == .accepted)
        try store.remove(alice)
        try store.create(makeAccount("alice"))
        #expect(try store.account(named: alice)?.lastAcceptedStep == nil)
    }
    #expect(try rawEntries(fixture, "alice").state == nil)
}

@Test func damagedLoginState_isReportedWithItsKey_byReadsAndByCheck() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        try store.create(makeAccount("bob"))
        try store.create(makeAccount("carol"))
    }
    var otherLabel = LoginState(of: makeAccount("bob"))
    otherLabel.authenticators[0].label = try AuthenticatorLabel("phone")
    try fixture.withRawWrite { transaction in
        let logins = try transaction.openDatabase(named: "logins", create: false)
        try transaction.put([1, 0xde, 0xad], for: Array("alice".utf8), in: logins)
        // Well formed, but for authenticators the account does not have.
        try transaction.put(LoginStateRecord.encode(otherLabel), for: Array("bob".utf8), in: logins)
    }
    do {
        let store = try fixture.open()
        for name in ["alice", "bob"] {
            let error = storeError { try store.account(named: accountName(name)) }
            guard case .corruptRecord(let key) = error else {
                Issue.record("got \(String(describing: error))"); continue
            }
            #expect(key == "logins/\(name)")
        }
        #expect(try store.account(named: accountName("carol")) != nil)
        guard case .corruptRecord = storeError({ try store.check() }) else {
            Issue.record("check did not report the damaged login states")
            return
        }
    }
    // Without the two damaged states the store checks clean; then a login state without an account.
    try fixture.withRawWrite { transaction in
        let logins = try transaction.openDatabase(named: "logins", create: false)
        _ = try transaction.delete(Array("alice".utf8), in: logins)
        _ = try transaction.delete(Array("bob".utf8), in: logins)
    }
    do { #expect(try fixture.open().check().accounts == 3) }
    try fixture.withRawWrite { transaction in
        let logins = try transaction.openDatabase(named: "logins", create: false)
        try transaction.put(
            LoginStateRecord.encode(LoginState(of: makeAccount("dave"))),
            for: Array("dave".utf8),
            in: logins
        )
    }
    let store = try fixture.open()
    guard case .corruptRecord(let key) = storeError({ try store.check() }) else {
        Issue.record("check did not report the login state without an account")
        return
    }
    #expect(key == "logins/dave")
}

@Test func loginStateRecord_roundTrips_andRejectsDamage() throws {
    var account = makeAccount("alice")
    account.lastAcceptedStep = 7
    account.totpDrift = -2
    account.totpLastOffset = 1
    account.failureCount = 3
    account.lastFailureAt = 1_500
    account.lastLoginAt = 1_400
    account.moreAuthenticators = [
        Authenticator(
            label: try AuthenticatorLabel("phone"),
            credential: enrolledCredential,
            lastAcceptedStep: 9,
            drift: 1
        )
    ]
    let state = LoginState(of: account)
    let bytes = LoginStateRecord.encode(state)
    #expect(try LoginStateRecord.decode(bytes) == state)
    #expect(state.applied(to: makeAccount("alice")) == nil, "applied to an account without the phone")
    var withPhone = makeAccount("alice")
    withPhone.moreAuthenticators = [
        Authenticator(label: try AuthenticatorLabel("phone"), credential: enrolledCredential)
    ]
    #expect(state.applied(to: withPhone) == account)
    for cut in 0..<bytes.count {
        #expect(throws: RecordDecodingError.self) { try LoginStateRecord.decode(Array(bytes[..<cut])) }
    }
    #expect(throws: RecordDecodingError.self) { try LoginStateRecord.decode(bytes + [0]) }
}

@Test func versionTwoStore_isUpgradedToThree_andKeepsItsSteps() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        try store.update(alice) { $0.lastAcceptedStep = 100 }
    }
    try fixture.withRawWrite { transaction in
        let meta = try transaction.openDatabase(named: "meta", create: false)
        try transaction.put([0, 0, 0, 2], for: Array("schema-version".utf8), in: meta)
    }
    do {
        let store = try fixture.open()
        #expect(try accept(100, on: store) == .replayed)
        #expect(try accept(101, on: store) == .accepted)
    }
    try fixture.withRawWrite { transaction in
        let meta = try transaction.openDatabase(named: "meta", create: false)
        #expect(try transaction.get(Array("schema-version".utf8), in: meta) == [0, 0, 0, 4])
    }
}

/// A code check's write decodes the account once: the throttle decision of a privileged origin, the replay
/// guard and the clearing of the failure count share the record read first (docs/performance.md), and still
/// leave the account as the conformance tests require.
@Test func checkAttempt_fromAPrivilegedOrigin_decodesTheAccountOnce() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    try store.create(makeAccount("alice"))
    let key = ThrottleKey(subject: "alice", origin: .host("192.0.2.7"))
    func check(_ claim: AttemptClaim, at time: UnixTime) throws -> (AttemptVerdict, counted: Int) {
        try checkAttempt(claim, under: key, at: time, on: store) { store.accountRecordsDecoded }
    }
    let step = stepClaim(100, of: alice)

    #expect(try check(.failed, at: 2_000) == (.denied, 1))
    #expect(try store.account(named: alice)?.failureCount == 1)
    #expect(try check(step, at: 2_001) == (.accepted, 1))
    #expect(try check(passedClaim(alice), at: 2_002) == (.accepted, 1))
    let account = try #require(try store.account(named: alice))
    #expect(account.lastAcceptedStep == 100 && account.failureCount == 0 && account.lastLoginAt == 2_002)
}
