import AccountStore
import LMDB
import StoredRecords

// MUSTs of the audit trail:
// - a record is appended in one durable write, with a sequence number never used before;
// - each organization's part of the trail (and the records of no organization, as one more part) is kept
//   within the retention limits on its own, so no organization can push another's records out by writing
//   many of its own: an append drops the oldest records of its own part beyond `maximumRecords`, and the
//   trail's oldest records beyond `maximumAge`, a bounded number of each per append, so one append never
//   turns into a long transaction;
// - `audit-organizations` indexes every record under its part, and `meta` counts each part's records
//   (`audit-count/` and the part's key), in the write that appends or drops it.

extension LMDBAccountStore {
    /// At most this many expired records are dropped by one append, for each of the two limits; appends
    /// outnumber nothing else, so the trail shrinks back under its limits after a lowered limit, a little at
    /// a time.
    static let auditPrunePerAppend = 8

    static let auditCountPrefix = Array("audit-count/".utf8)

    /// The key of an organization's part of the trail: its name and a NUL (names never contain NUL), or a NUL
    /// alone for the records of no organization. An index key is the part's key and the u64 big-endian
    /// sequence, so a part's records are one contiguous range, oldest first.
    static func auditPart(_ organization: OrganizationName?) -> [UInt8] {
        (organization.map { Array($0.value.utf8) } ?? []) + [0]
    }

    public func appendAudit(_ record: AuditRecord) throws(AccountStoreError) {
        try write { transaction in try append(record, in: transaction) }
    }

    /// `appendAudit`, inside a write transaction.
    func append(_ record: AuditRecord, in transaction: borrowing Transaction) throws {
        let sequence = try Self.counter(Self.auditSequenceKey, in: transaction, meta: meta) &+ 1
        try transaction.put(Self.encodeCounter(sequence), for: Self.auditSequenceKey, in: meta)
        var stored = record
        stored.sequence = sequence
        try transaction.put(
            AuditRecordCodec.encode(stored),
            for: Self.encodeCounter(sequence),
            in: databases.audit,
            flags: .append
        )
        let part = Self.auditPart(record.organization)
        try transaction.put([], for: part + Self.encodeCounter(sequence), in: databases.auditByOrganization)
        let count = try addToAuditCount(of: part, 1, in: transaction)
        try dropOldest(of: part, holding: count, in: transaction)
        try dropExpired(transaction, now: record.time)
    }

    /// Writes again, unchanged, what `append` writes for a record of the `default` organization (where the
    /// accounts of a daemon without organizations are): the sequence, the newest record (the leaf a new one
    /// joins, its bytes encoded again as a new record's are), the part's newest index entry and its count and,
    /// when the part is full, its oldest record (the leaves `dropOldest` drops from, after reading them as it
    /// does). So a denial that keeps no record (`recordDenialOfUnknownName`) dirties the pages, and does about
    /// the work, of a denial of an account that keeps one.
    func rewriteAuditTail(in transaction: borrowing Transaction) throws {
        let sequence = try Self.counter(Self.auditSequenceKey, in: transaction, meta: meta)
        try transaction.put(Self.encodeCounter(sequence), for: Self.auditSequenceKey, in: meta)
        let audit = databases.audit
        let newest = try transaction.withCursor(in: audit) { (cursor: borrowing Cursor) throws(LMDBError) in
            try cursor.last()
        }
        guard let (key, value) = newest else { return }
        // Encoded again as `append` encodes a new record; the bytes written are the stored ones either way (the
        // comparison keeps the encoding from being optimized away).
        let encoded = (try? AuditRecordCodec.decode(value)).map(AuditRecordCodec.encode)
        try transaction.put(encoded == value ? encoded ?? value : value, for: key, in: audit)
        let part = Self.auditPart(.default)
        let count = try addToAuditCount(of: part, 0, in: transaction)
        let index = databases.auditByOrganization
        let partNewest = try transaction.withCursor(in: index) { (cursor: borrowing Cursor) throws(LMDBError) in
            try Self.last(in: part, before: nil, cursor)
        }
        if let partNewest { try transaction.put([], for: partNewest, in: index) }
        let oldest = try Self.range(in: index, of: transaction, prefix: part, after: nil, limit: 1)
        guard let (oldestKey, _) = oldest.first, count >= auditRetention.maximumRecords,
            let oldestValue = try transaction.get(Array(oldestKey.suffix(8)), in: audit),
            (try? AuditRecordCodec.decode(oldestValue)) != nil
        else { return }
        try transaction.put(oldestValue, for: Array(oldestKey.suffix(8)), in: audit)
        try transaction.put([], for: oldestKey, in: index)
    }

    /// Adds `delta` to the count of `part`'s records and returns the new count.
    @discardableResult
    private func addToAuditCount(
        of part: [UInt8],
        _ delta: Int64,
        in transaction: borrowing Transaction
    ) throws -> UInt64 {
        let key = Self.auditCountPrefix + part
        let old = try Self.counter(key, in: transaction, meta: meta)
        let new = delta < 0 ? old - min(old, delta.magnitude) : old &+ UInt64(delta)
        try transaction.put(Self.encodeCounter(new), for: key, in: meta)
        return new
    }

    /// Drops the oldest records of `part` while it holds more than `maximumRecords`.
    private func dropOldest(of part: [UInt8], holding count: UInt64, in transaction: borrowing Transaction) throws {
        let maximum = auditRetention.maximumRecords
        guard count > maximum else { return }
        let excess = Int(min(count - maximum, UInt64(Self.auditPrunePerAppend)))
        let index = databases.auditByOrganization
        let oldest = try Self.range(in: index, of: transaction, prefix: part, after: nil, limit: excess)
        for (key, _) in oldest {
            // An entry whose record `dropExpired` dropped undecoded (damage) goes the same way.
            _ = try transaction.delete(Array(key.suffix(8)), in: databases.audit)
            _ = try transaction.delete(key, in: index)
        }
        try addToAuditCount(of: part, -Int64(oldest.count), in: transaction)
    }

    /// Drops the trail's oldest records that are older than `maximumAge`, whatever their organization.
    private func dropExpired(_ transaction: borrowing Transaction, now: UnixTime) throws {
        let maximumAge = auditRetention.maximumAge
        let audit = databases.audit
        let oldest = try Self.range(in: audit, of: transaction, prefix: [], after: nil, limit: Self.auditPrunePerAppend)
        for (key, value) in oldest {
            // A record that cannot be decoded is dropped; its index entry stays, counted in its part, until
            // `dropOldest` reaches it (`--check` reports such a record before then).
            let record = try? AuditRecordCodec.decode(value)
            guard record.map({ now - $0.time > maximumAge }) ?? true else { break }
            _ = try transaction.delete(key, in: audit)
            guard let record else { continue }
            let part = Self.auditPart(record.organization)
            if try transaction.delete(part + key, in: databases.auditByOrganization) {
                try addToAuditCount(of: part, -1, in: transaction)
            }
        }
    }

    /// Whether `key` is an index entry of `part`: the part's key and a sequence.
    private static func isIndexKey(_ key: [UInt8], of part: [UInt8]) -> Bool {
        key.count == part.count + 8 && key.starts(with: part)
    }

    /// The newest index entry of `part`, older than sequence `before` when given.
    private static func last(
        in part: [UInt8],
        before: UInt64?,
        _ cursor: borrowing Cursor
    ) throws(LMDBError) -> [UInt8]? {
        // The first key past the range: the part's key with its NUL raised to 1, or the sequence `before`.
        let bound = before.map { part + encodeCounter($0) } ?? (part.dropLast() + [1])
        let after = try cursor.seek(atOrAfter: bound)
        let entry = after == nil ? try cursor.last() : try cursor.previous()
        guard let key = entry?.key, isIndexKey(key, of: part) else { return nil }
        return key
    }

    public func auditRecords(
        matching filter: AuditFilter,
        before: UInt64?,
        limit: Int
    ) throws(AccountStoreError) -> [AuditRecord] {
        try scanAudit(matching: filter, before: before, limit: limit, examining: .max).records
    }

    /// Records `auditPage` examines at most for one page: a few milliseconds of a worker. An agent's own
    /// records are found by walking its organization's part of the trail, up to 100,000 records by default; a
    /// client reads them a bounded page at a time, each page a request that waits its turn among other users'.
    public static let auditRecordsExaminedPerPage = 1000

    public func auditPage(
        matching filter: AuditFilter,
        before: UInt64?,
        limit: Int
    ) throws(AccountStoreError) -> AuditPage {
        let scan = try scanAudit(
            matching: filter,
            before: before,
            limit: limit + 1,
            examining: Self.auditRecordsExaminedPerPage
        )
        guard scan.records.count > limit else { return AuditPage(records: scan.records, next: scan.stoppedAt) }
        let page = Array(scan.records.prefix(limit))
        return AuditPage(records: page, next: page.last?.sequence ?? 0)
    }

    /// Up to `limit` matching records, newest first, from at most `maximum` records examined; `stoppedAt` is
    /// the sequence of the last one examined when `maximum` ended the walk before the trail did, else 0.
    private func scanAudit(
        matching filter: AuditFilter,
        before: UInt64?,
        limit: Int,
        examining maximum: Int
    ) throws(AccountStoreError) -> (records: [AuditRecord], stoppedAt: UInt64) {
        guard limit > 0 else { return ([], 0) }
        return try read { transaction in
            if let organization = filter.organization {
                return try organizationRecords(
                    organization,
                    matching: filter,
                    before: before,
                    limit: limit,
                    examining: maximum,
                    in: transaction
                )
            }
            return try transaction.withCursor(in: databases.audit) {
                (
                    cursor: borrowing Cursor
                ) throws(LMDBError) -> Result<
                    (records: [AuditRecord], stoppedAt: UInt64), AccountStoreError
                > in
                var entry: Cursor.Entry?
                if let before {
                    entry = try cursor.seek(atOrAfter: Self.encodeCounter(before))
                    entry = entry == nil ? try cursor.last() : try cursor.previous()
                } else {
                    entry = try cursor.last()
                }
                var result: [AuditRecord] = []
                var examined = 0
                var stoppedAt: UInt64 = 0
                while let (key, value) = entry, result.count < limit {
                    // More remain: the next page goes on from the last one examined.
                    guard examined < maximum else { return .success((result, stoppedAt)) }
                    examined += 1
                    guard let record = try? AuditRecordCodec.decode(value) else {
                        return .failure(.corruptRecord(key: "audit/\(Self.decodeCounter(key))"))
                    }
                    // Records are in time order, so nothing older than `since` can match further back.
                    if let since = filter.since, record.time < since { break }
                    if filter.matches(record) { result.append(record) }
                    stoppedAt = Self.decodeCounter(key)
                    entry = try cursor.previous()
                }
                return .success((result, 0))
            }.get()
        }
    }

    /// `scanAudit` of one organization, read through its part of the index: a query never walks the
    /// records of other organizations.
    private func organizationRecords(
        _ organization: OrganizationName,
        matching filter: AuditFilter,
        before: UInt64?,
        limit: Int,
        examining maximum: Int,
        in transaction: borrowing Transaction
    ) throws -> (records: [AuditRecord], stoppedAt: UInt64) {
        let part = Self.auditPart(organization)
        let audit = databases.audit
        return try transaction.withCursor(in: databases.auditByOrganization) {
            (
                cursor: borrowing Cursor
            ) throws(LMDBError) -> Result<
                (records: [AuditRecord], stoppedAt: UInt64), AccountStoreError
            > in
            var key = try Self.last(in: part, before: before, cursor)
            var result: [AuditRecord] = []
            var examined = 0
            var stoppedAt: UInt64 = 0
            while let current = key, result.count < limit {
                guard examined < maximum else { return .success((result, stoppedAt)) }
                examined += 1
                let sequence = Array(current.suffix(8))
                // An entry without its record is one `dropExpired` dropped as damage: nothing to show.
                if let value = try transaction.get(sequence, in: audit) {
                    guard let record = try? AuditRecordCodec.decode(value) else {
                        return .failure(.corruptRecord(key: "audit/\(Self.decodeCounter(sequence))"))
                    }
                    if let since = filter.since, record.time < since { break }
                    if filter.matches(record) { result.append(record) }
                }
                stoppedAt = Self.decodeCounter(sequence)
                let previous = try cursor.previous()
                key = previous.flatMap { Self.isIndexKey($0.key, of: part) ? $0.key : nil }
            }
            return .success((result, 0))
        }.get()
    }

    static func counter(_ key: [UInt8], in transaction: borrowing Transaction, meta: Database) throws -> UInt64 {
        guard let bytes = try transaction.get(key, in: meta) else { return 0 }
        guard bytes.count == 8 else {
            throw AccountStoreError.corruptRecord(key: "meta/" + String(decoding: key, as: UTF8.self))
        }
        return decodeCounter(bytes)
    }

    /// The value of an 8-byte big-endian counter or sequence key (`encodeCounter`).
    static func decodeCounter(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
