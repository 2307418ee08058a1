import AccountStore
import Glibc
import LMDB
@testable import LMDBAccountStore
import Testing
import TestSupport
@testable import StoredRecords

/// What the `update` body throws in the rollback test.
struct BodyRefusal: Error {}

@Test func create_thenAccountNamed_returnsTheSameAccount() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    let alice = makeAccount("alice")
    try store.create(alice)
    #expect(try store.account(named: alice.name) == alice)
    #expect(try store.account(named: accountName("nobody")) == nil)
}

@Test func create_existingName_throwsAlreadyExists_andKeepsTheFirst() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    try store.addOrganizations("one", "two")
    let first = makeAccount("alice", organization: "one")
    try store.create(first)
    let error = storeError { try store.create(makeAccount("alice", organization: "two")) }
    guard case .alreadyExists(let name) = error else { Issue.record("got \(String(describing: error))"); return }
    #expect(name == first.name)
    #expect(try store.account(named: first.name) == first)
}

@Test func remove_deletesTheAccount_andUnknownNameThrowsNotFound() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    try store.create(makeAccount("alice"))
    try store.remove(accountName("alice"))
    #expect(try store.account(named: accountName("alice")) == nil)
    guard case .notFound = storeError({ try store.remove(accountName("alice")) }) else {
        Issue.record("removing twice did not throw notFound")
        return
    }
}

@Test func update_changesAndReturnsTheAccount() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    try store.create(makeAccount("alice"))
    let updated = try store.update(accountName("alice")) { account in
        account.twoFactor = .pending
        account.role = .admin
    }
    #expect(updated.twoFactor == .pending && updated.role == .admin)
    #expect(try store.account(named: accountName("alice")) == updated)
}

@Test func update_whenBodyThrows_isRejected_andWritesNothing() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    let alice = makeAccount("alice")
    try store.create(alice)
    let error = #expect(throws: UpdateError<BodyRefusal>.self) {
        try store.update(alice.name) { (account: inout Account) throws(BodyRefusal) in
            account.passwordHash = "changed"
            throw BodyRefusal()
        }
    }
    guard case .rejected = error else {
        Issue.record("got \(String(describing: error))")
        return
    }
    #expect(try store.account(named: alice.name) == alice)
}

@Test func update_renamingTheAccount_isRejected() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    try store.create(makeAccount("alice"))
    let error = storeError { try store.update(accountName("alice")) { $0.name = accountName("eve") } }
    guard case .invalidChange("an account cannot be renamed") = error else {
        Issue.record("renaming was not refused: \(String(describing: error))")
        return
    }
    #expect(try store.account(named: accountName("eve")) == nil)
}

@Test func update_unknownName_throwsNotFound() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    guard case .notFound = storeError({ try store.update(accountName("ghost")) { _ in } }) else {
        Issue.record("update of an unknown account did not throw notFound")
        return
    }
}

@Test func accounts_listsInNameOrder_filtersByOrganization_andPages() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    let names = ["mike", "alpha", "zed", "carol", "bob", "dave", "erin"]
    try store.addOrganizations("even", "odd")
    for (index, name) in names.enumerated() {
        try store.create(makeAccount(name, organization: index.isMultiple(of: 2) ? "even" : "odd"))
    }
    let all = try store.accounts(in: nil, after: nil, limit: 100).map(\.name.value)
    #expect(all == names.sorted())

    let even = try OrganizationName("even")
    #expect(try store.accounts(in: even, after: nil, limit: 100).map(\.name.value) == ["bob", "erin", "mike", "zed"])
    #expect(try store.accounts(in: even, after: accountName("bob"), limit: 2).map(\.name.value) == ["erin", "mike"])
    // `after` need not name an existing account.
    #expect(
        try store.accounts(in: nil, after: accountName("c"), limit: 3).map(\.name.value) == ["carol", "dave", "erin"]
    )
    #expect(try store.accounts(in: nil, after: accountName("zed"), limit: 3).isEmpty)
    #expect(try store.accounts(in: nil, after: nil, limit: 0).isEmpty)
    #expect(try store.accounts(in: try OrganizationName("none"), after: nil, limit: 10).isEmpty)

    var paged: [String] = []
    var after: AccountName?
    while case let page = try store.accounts(in: nil, after: after, limit: 2), !page.isEmpty {
        paged += page.map(\.name.value)
        after = page.last?.name
    }
    #expect(paged == names.sorted())
}

@Test func store_survivesClosingAndReopening() throws {
    let fixture = StoreFixture()
    let alice = makeAccount("alice")
    do {
        let store = try fixture.open()
        try store.create(alice)
    }
    let store = try fixture.open()
    #expect(try store.account(named: alice.name) == alice)
}

@Test func success_resetsTheFailureCount_andRecordsTheTime() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    let alice = makeAccount("alice")
    try store.create(alice)
    try store.update(alice.name) { account in
        account.failureCount = 2
        account.lastFailureAt = 2_005
    }
    try store.recordSuccess(for: alice.name, at: 2_010)
    let stored = try #require(try store.account(named: alice.name))
    #expect(stored.failureCount == 0 && stored.updatedAt == 2_010 && stored.lastFailureAt == 2_005)

    guard case .notFound = storeError({ try store.recordSuccess(for: accountName("ghost"), at: 1) }) else {
        Issue.record("success of an unknown name did not throw notFound")
        return
    }
}

/// Stores written before `recordFailure` was removed may hold its unknown-user counter in `meta`: it is left
/// there, unread, and the store opens and writes as usual.
@Test func storeWithTheOldUnknownUserCounter_opensAndWrites() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
    }
    let counter = Array("unknown-user-failures".utf8)
    try fixture.withRawWrite { transaction in
        let meta = try transaction.openDatabase(named: "meta", create: false)
        try transaction.put([0, 0, 0, 0, 0, 0, 0, 7], for: counter, in: meta)
    }
    do {
        let store = try fixture.open()
        try store.recordSuccess(for: accountName("alice"), at: 5)
        #expect(try store.account(named: accountName("alice"))?.lastLoginAt == 5)
    }
    try fixture.withRawWrite { transaction in
        let meta = try transaction.openDatabase(named: "meta", create: false)
        #expect(try transaction.get(counter, in: meta) == [0, 0, 0, 0, 0, 0, 0, 7])
    }
}

@Test func newStore_recordsSchemaVersionFour_andHasTheDefaultOrganization() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        #expect(try store.organizations(after: nil, limit: 10).map(\.name) == [.default])
    }
    try fixture.withRawWrite { transaction in
        let meta = try transaction.openDatabase(named: "meta", create: false)
        #expect(try transaction.get(Array("schema-version".utf8), in: meta) == [0, 0, 0, 4])
    }
}

@Test func versionOneStore_isUpgraded_withItsOrganizationsAndIndex() throws {
    let fixture = StoreFixture()
    // The layout the first release wrote: meta/schema-version 1 and version 1 account records only.
    var carol = makeAccount("carol", organization: "acme")
    carol.twoFactor = .off
    carol.totp = nil
    // Without the version-2 fields (3 absent optionals, no recovery codes), the authenticators section
    // (label 'default', drift, count, pending: 20 bytes) and the access section (two counts).
    let versionOne: [UInt8] = [1] + AccountRecord.encode(carol).dropFirst().dropLast(4 + 3 + 20 + 8)
    #expect(mkdir(fixture.path, 0o700) == 0)
    // Its key file, which a store of the first release had beside its database too.
    try SecretsKey.write(SecretsKey.random(path: fixture.path + "/secrets.key"), to: fixture.path + "/secrets.key")
    try fixture.withRawWrite { transaction in
        let meta = try transaction.openDatabase(named: "meta")
        try transaction.put([0, 0, 0, 1], for: Array("schema-version".utf8), in: meta)
        let accounts = try transaction.openDatabase(named: "accounts")
        try transaction.put(versionOne, for: Array("carol".utf8), in: accounts)
    }
    let store = try fixture.open()
    #expect(try store.account(named: carol.name) == carol)
    let acme = try OrganizationName("acme")
    #expect(try store.organization(named: acme) != nil)
    #expect(try store.memberCount(of: acme) == 1)
    #expect(try store.accounts(in: acme, after: nil, limit: 10).map(\.name) == [carol.name])
}

@Test func organizations_indexFollowsCreateRemoveAndMove() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    try store.addOrganizations("acme", "beta")
    let acme = try OrganizationName("acme")
    let beta = try OrganizationName("beta")
    try store.create(makeAccount("ann", organization: "acme"))
    try store.create(makeAccount("bea", organization: "acme"))
    try store.create(makeAccount("cid", organization: "beta"))
    #expect(try store.accounts(in: acme, after: nil, limit: 10).map(\.name.value) == ["ann", "bea"])
    #expect(try store.accounts(in: acme, after: accountName("ann"), limit: 10).map(\.name.value) == ["bea"])
    try store.update(accountName("bea")) { $0.organization = beta }
    #expect(try store.accounts(in: beta, after: nil, limit: 10).map(\.name.value) == ["bea", "cid"])
    try store.remove(accountName("ann"))
    #expect(try store.memberCount(of: acme) == 0)
    guard case .organizationNotEmpty(_, let members) = storeError({ try store.removeOrganization(beta) }) else {
        Issue.record("an organization with members was removed")
        return
    }
    #expect(members == 2)
    try store.removeOrganization(acme)
    #expect(try store.organization(named: acme) == nil)
    guard case .organizationNotFound = storeError({ try store.create(makeAccount("dan", organization: "acme")) })
    else {
        Issue.record("an account was created in a missing organization")
        return
    }
}

@Test func updateOrganization_changesMembersInTheSameWrite() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    try store.addOrganizations("acme", "beta")
    var off = makeAccount("ann", organization: "acme")
    off.twoFactor = .off
    off.totp = nil
    try store.create(off)
    try store.create(makeAccount("bea", organization: "acme"))
    var outsider = makeAccount("cid", organization: "beta")
    outsider.twoFactor = .off
    outsider.totp = nil
    try store.create(outsider)
    let changed = try store.updateOrganization(try OrganizationName("acme")) {
        $0.requiresTwoFactor = true
    } eachMember: {
        account in
        guard account.twoFactor == .off else { return false }
        account.twoFactor = .pending
        return true
    }
    #expect(changed.requiresTwoFactor)
    #expect(try store.account(named: accountName("ann"))?.twoFactor == .pending)
    #expect(try store.account(named: accountName("bea"))?.twoFactor == .on(.self))
    #expect(try store.account(named: accountName("cid"))?.twoFactor == .off)
}

@Test func audit_appendsInOrder_filters_andKeepsItsRetentionLimit() throws {
    let directory = TemporaryDirectory()
    let store = try LMDBAccountStore(
        directory: directory.path + "/state",
        initialMapSize: 1 << 20,
        auditRetention: AuditRetention(maximumRecords: 5, maximumAge: 1_000)
    )
    let ann = accountName("ann")
    for time in UnixTime(1)...8 {
        try store.appendAudit(
            AuditRecord(
                time: time,
                actor: .operator(uid: 0),
                target: time.isMultiple(of: 2) ? ann : nil,
                organization: .default,
                action: .unlock,
                outcome: .ok
            )
        )
    }
    let all = try store.auditRecords(matching: AuditFilter(), before: nil, limit: 100)
    #expect(all.map(\.time) == [8, 7, 6, 5, 4])
    #expect(all.map(\.sequence) == [8, 7, 6, 5, 4])
    #expect(
        try store.auditRecords(matching: AuditFilter(target: ann), before: nil, limit: 100).map(\.time) == [8, 6, 4]
    )
    #expect(try store.auditRecords(matching: AuditFilter(since: 6), before: nil, limit: 100).map(\.time) == [8, 7, 6])
    #expect(try store.auditRecords(matching: AuditFilter(), before: 7, limit: 2).map(\.sequence) == [6, 5])
    // Age: a record 1,000 s newer than the rest pushes them all out, in steps of a few per append.
    for time in UnixTime(2_000)...2_002 {
        try store.appendAudit(
            AuditRecord(time: time, actor: .system, target: nil, organization: nil, action: .login, outcome: .ok)
        )
    }
    #expect(
        try store.auditRecords(matching: AuditFilter(), before: nil, limit: 100).map(\.time) == [2_002, 2_001, 2_000]
    )
}

@Test func reopen_withAnotherSchemaVersion_isRefused() throws {
    let fixture = StoreFixture()
    do { _ = try fixture.open() }
    try fixture.withRawWrite { transaction in
        let meta = try transaction.openDatabase(named: "meta", create: false)
        try transaction.put([0, 0, 0, 5], for: Array("schema-version".utf8), in: meta)
    }
    let error = storeError { try fixture.open() }
    guard case .unsupportedSchemaVersion(let found, let supported) = error else {
        Issue.record("got \(String(describing: error))")
        return
    }
    #expect(found == 5 && supported == 4)
}

@Test func corruptRecord_isReportedWithItsKey() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        try store.create(makeAccount("bob"))
    }
    try fixture.withRawWrite { transaction in
        let accounts = try transaction.openDatabase(named: "accounts", create: false)
        try transaction.put([1, 0xde, 0xad], for: Array("mallory".utf8), in: accounts)
        // A valid record under another account's key is corrupt too.
        let bob = try #require(try transaction.get(Array("bob".utf8), in: accounts))
        try transaction.put(bob, for: Array("carol".utf8), in: accounts)
    }
    let store = try fixture.open()
    for name in ["mallory", "carol"] {
        let error = storeError { try store.account(named: accountName(name)) }
        guard case .corruptRecord(let key) = error else { Issue.record("got \(String(describing: error))"); continue }
        #expect(key == "accounts/\(name)")
    }
    guard case .corruptRecord = storeError({ try store.accounts(in: nil, after: nil, limit: 10) }) else {
        Issue.record("listing over a corrupt record did not report it")
        return
    }
    #expect(try store.accounts(in: nil, after: nil, limit: 1).map(\.name.value) == ["alice"])
    guard case .corruptRecord = storeError({ try store.recordSuccess(for: accountName("mallory"), at: 1) }) else {
        Issue.record("a write over a corrupt record did not report it")
        return
    }
}
