import AccountStore
import LMDB
import StoredRecords

// MUSTs of the audit trail:
// - a record is appended in one durable write, with a sequence number never used before;
// - the trail never grows past the retention limits: each append drops the oldest records beyond
//   them (a bounded number per append, so one append never turns into a long transaction).

extension LMDBAccountStore {
    /// At most this many expired records are dropped by one append; appends outnumber nothing else, so the
    /// trail shrinks back under its limits after a lowered limit, a little at a time.
    static let auditPrunePerAppend = 8

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
        try prune(transaction, now: record.time)
    }

    /// Writes again, unchanged, what `append` writes: the sequence, the newest record (the leaf a new one
    /// joins, its bytes encoded again as a new record's are) and, when the trail is full, the oldest (the leaf
    /// `prune` drops one from, after reading the oldest records as it does). So a denial that keeps no record
    /// (`recordDenialOfUnknownName`) dirties the pages, and does about the work, of a denial that keeps one.
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
        let count = UInt64(try transaction.count(in: audit))
        let oldest = try Self.range(in: audit, of: transaction, prefix: [], after: nil, limit: Self.auditPrunePerAppend)
        guard let (oldestKey, oldestValue) = oldest.first, (try? AuditRecordCodec.decode(oldestValue)) != nil,
            count >= auditRetention.maximumRecords
        else { return }
        try transaction.put(oldestValue, for: oldestKey, in: audit)
    }

    private func prune(_ transaction: borrowing Transaction, now: UnixTime) throws {
        let retention = auditRetention
        let audit = databases.audit
        var count = UInt64(try transaction.count(in: audit))
        let oldest = try Self.range(in: audit, of: transaction, prefix: [], after: nil, limit: Self.auditPrunePerAppend)
        for (key, value) in oldest {
            let tooMany = count > retention.maximumRecords
            let tooOld = (try? AuditRecordCodec.decode(value)).map { now - $0.time > retention.maximumAge } ?? true
            guard tooMany || tooOld else { break }
            _ = try transaction.delete(key, in: audit)
            count -= 1
        }
    }

    public func auditRecords(
        matching filter: AuditFilter,
        before: UInt64?,
        limit: Int
    ) throws(AccountStoreError) -> [AuditRecord] {
        guard limit > 0 else { return [] }
        return try read { transaction in
            try transaction.withCursor(in: databases.audit) {
                (cursor: borrowing Cursor) throws(LMDBError) -> Result<[AuditRecord], AccountStoreError> in
                var entry: Cursor.Entry?
                if let before {
                    entry = try cursor.seek(atOrAfter: Self.encodeCounter(before))
                    entry = entry == nil ? try cursor.last() : try cursor.previous()
                } else {
                    entry = try cursor.last()
                }
                var result: [AuditRecord] = []
                while let (key, value) = entry, result.count < limit {
                    guard let record = try? AuditRecordCodec.decode(value) else {
                        return .failure(.corruptRecord(key: "audit/\(key)"))
                    }
                    // Records are in time order, so nothing older than `since` can match further back.
                    if let since = filter.since, record.time < since { break }
                    if filter.matches(record) { result.append(record) }
                    entry = try cursor.previous()
                }
                return .success(result)
            }.get()
        }
    }

    static func counter(_ key: [UInt8], in transaction: borrowing Transaction, meta: Database) throws -> UInt64 {
        guard let bytes = try transaction.get(key, in: meta) else { return 0 }
        guard bytes.count == 8 else {
            throw AccountStoreError.corruptRecord(key: "meta/" + String(decoding: key, as: UTF8.self))
        }
        return bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}
