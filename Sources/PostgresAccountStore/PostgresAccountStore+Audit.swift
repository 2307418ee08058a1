import AccountStore
import PostgresNIO
import StoredRecords

// MUSTs of the audit trail, as on LMDB:
// - a record is appended in one durable write, with a sequence number never used before (an identity
//   column: increasing, never reused, possibly with gaps after a rollback);
// - the trail never grows past the retention limits: each append drops the oldest records beyond them,
//   looking at a bounded number of the oldest rows, so one append never turns into a long transaction.
extension PostgresAccountStore {
    static let auditPrunePerAppend: Int64 = 8

    public func appendAudit(_ record: AuditRecord) throws(AccountStoreError) {
        try write { transaction in try append(record, in: transaction) }
    }

    func append(_ record: AuditRecord, in transaction: Transaction) throws {
        var stored = record
        // The sequence lives in its column; the record bytes carry 0 and get the column's value when read.
        stored.sequence = 0
        let bytes = AuditRecordCodec.encode(stored)
        let retention = auditRetention
        let maximumRecords = Int64(clamping: retention.maximumRecords)
        let rows = try transaction.rows(
            """
            INSERT INTO audit (time, target, organization, record)
            VALUES (\(record.time), \(record.target?.value), \(record.organization?.value), \(bytes.buffer))
            RETURNING sequence
            """
        )
        let sequence = try rows.first?.decode(Int64.self) ?? 0
        try transaction.execute(
            """
            DELETE FROM audit WHERE sequence IN (
                SELECT sequence FROM (
                    SELECT sequence, time FROM audit ORDER BY sequence LIMIT \(Self.auditPrunePerAppend)
                ) AS oldest
                WHERE sequence <= \(sequence) - \(maximumRecords) OR \(record.time) - time > \(retention.maximumAge)
            )
            """
        )
    }

    public func auditRecords(
        matching filter: AuditFilter,
        before: UInt64?,
        limit: Int
    ) throws(AccountStoreError) -> [AuditRecord] {
        guard limit > 0 else { return [] }
        var conditions: [String] = []
        var binds = PostgresBindings()
        func condition(_ text: String, _ value: some PostgresDynamicTypeEncodable) {
            binds.append(value)
            conditions.append(text + "$\(binds.count)")
        }
        if let target = filter.target { condition("target = ", target.value) }
        if let organization = filter.organization { condition("organization = ", organization.value) }
        if let since = filter.since { condition("time >= ", since) }
        if let before { condition("sequence < ", Int64(clamping: before)) }
        binds.append(Int64(limit))
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let query = PostgresQuery(
            unsafeSQL: "SELECT sequence, record FROM audit \(whereClause) ORDER BY sequence DESC LIMIT $\(binds.count)",
            binds: binds
        )
        return try read { transaction in
            try transaction.rows(query).map { row in
                let (sequence, record) = try row.decode((Int64, ByteBuffer).self)
                guard var decoded = try? AuditRecordCodec.decode(record.bytes) else {
                    throw AccountStoreError.corruptRecord(key: "audit/\(sequence)")
                }
                decoded.sequence = UInt64(sequence)
                return decoded
            }
        }
    }
}
