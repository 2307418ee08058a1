import AccountStore
import LMDB
import LMDBAccountStore
import Testing

// The audit trail's organization index on LMDB: an older store gets it when opened, and `--check` (`check()`)
// finds it out of step with the trail. How each organization's part is kept is in StoreConformanceTests.

private let small = AuditRetention(maximumRecords: 3, maximumAge: 1_000_000)

private func open(_ fixture: StoreFixture) throws -> LMDBAccountStore {
    try LMDBAccountStore(directory: fixture.path, initialMapSize: 1 << 20, auditRetention: small)
}

private func append(_ time: UnixTime, _ organization: String?, to store: LMDBAccountStore) throws {
    try store.appendAudit(
        AuditRecord(
            time: time,
            actor: .operator(uid: 0),
            target: nil,
            organization: try organization.map(OrganizationName.init),
            action: .unlock,
            outcome: .ok
        )
    )
}

private func times(of organization: String, in store: LMDBAccountStore) throws -> [UnixTime] {
    try store.auditRecords(matching: AuditFilter(organization: OrganizationName(organization)), before: nil, limit: 9)
        .map(\.time)
}

/// A trail of two organizations and one record of none (sequences 1 to 6).
private func storeWithATrail() throws -> StoreFixture {
    let fixture = StoreFixture()
    let store = try open(fixture)
    try append(1, "north", to: store)
    try append(2, "south", to: store)
    try append(3, "north", to: store)
    try append(4, nil, to: store)
    try append(5, "south", to: store)
    try append(6, "south", to: store)
    return fixture
}

private let indexName = "audit-organizations"

@Test func versionThreeStore_isUpgradedToFour_withEveryRecordIndexedAndCounted() throws {
    let fixture = try storeWithATrail()
    // What a version 3 store has: the trail, without its index or counts.
    try fixture.withRawWrite { transaction in
        let meta = try transaction.openDatabase(named: "meta", create: false)
        let index = try transaction.openDatabase(named: indexName, create: false)
        let entries = try transaction.withCursor(in: index) { (cursor: borrowing Cursor) throws(LMDBError) in
            var keys: [[UInt8]] = []
            while let entry = try cursor.next() { keys.append(entry.key) }
            return keys
        }
        #expect(entries.count == 6)
        for key in entries { _ = try transaction.delete(key, in: index) }
        for part in ["north", "south", ""] {
            #expect(try transaction.delete(Array("audit-count/\(part)".utf8) + [0], in: meta), "\(part)")
        }
        try transaction.put([0, 0, 0, 3], for: Array("schema-version".utf8), in: meta)
    }
    let store = try open(fixture)
    let checked = try store.check()
    #expect(checked.accounts == 0 && checked.auditRecords == 6)
    #expect(try times(of: "north", in: store) == [3, 1])
    #expect(try times(of: "south", in: store) == [6, 5, 2])
    // Counted too: south is full, so its next record drops its oldest, and north's does not.
    try append(7, "south", to: store)
    try append(8, "north", to: store)
    #expect(try times(of: "south", in: store) == [7, 6, 5])
    #expect(try times(of: "north", in: store) == [8, 3, 1])
    try fixture.withRawWrite { transaction in
        let meta = try transaction.openDatabase(named: "meta", create: false)
        #expect(try transaction.get(Array("schema-version".utf8), in: meta) == [0, 0, 0, 4])
    }
}

@Test func check_reportsARecordWithoutItsIndexEntry_anEntryWithoutItsRecord_andAWrongCount() throws {
    let fixture = try storeWithATrail()
    do { _ = try open(fixture).check() }
    let sequenceTwo: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 2]
    let southTwo = Array("south".utf8) + [0] + sequenceTwo
    func damage(_ body: (borrowing Transaction, _ meta: Database, _ index: Database) throws -> Void) throws {
        try fixture.withRawWrite { transaction in
            try body(
                transaction,
                transaction.openDatabase(named: "meta", create: false),
                transaction.openDatabase(named: indexName, create: false)
            )
        }
    }
    func checkReports(_ expected: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let store = try open(fixture)
        guard case .corruptRecord(let key) = storeError({ try store.check() }) else {
            Issue.record("check did not report \(expected)", sourceLocation: sourceLocation)
            return
        }
        #expect(key == expected, sourceLocation: sourceLocation)
    }

    try damage { transaction, _, index in
        let deleted = try transaction.delete(southTwo, in: index)
        #expect(deleted)
    }
    try checkReports("audit-organizations/2")
    try damage { transaction, _, index in
        try transaction.put([], for: southTwo, in: index)
        try transaction.put([], for: Array("south".utf8) + [0, 0, 0, 0, 0, 0, 0, 0, 9], in: index)
    }
    try checkReports("audit-organizations")
    try damage { transaction, meta, index in
        _ = try transaction.delete(Array("south".utf8) + [0, 0, 0, 0, 0, 0, 0, 0, 9], in: index)
        try transaction.put([0, 0, 0, 0, 0, 0, 0, 5], for: Array("audit-count/north".utf8) + [0], in: meta)
    }
    try checkReports("meta/audit-count/north")
    try damage { transaction, meta, _ in
        try transaction.put([0, 0, 0, 0, 0, 0, 0, 2], for: Array("audit-count/north".utf8) + [0], in: meta)
        _ = try transaction.delete(Array("audit-count/south".utf8) + [0], in: meta)
    }
    try checkReports("meta/audit-count")
    try damage { transaction, meta, _ in
        try transaction.put([0, 0, 0, 0, 0, 0, 0, 3], for: Array("audit-count/south".utf8) + [0], in: meta)
    }
    #expect(try open(fixture).check().organizations == 1)
}
