import AccountStore
import PostgresNIO
import StoredRecords

// MUSTs of the audit trail, as on LMDB:
// - a record is appended in one durable write, with a sequence number never used before (an identity
//   column: increasing, never reused, possibly with gaps after a rollback);
// - each organization's part of the trail (and the records of no organization, as one more part) is kept
//   within the retention limits on its own: an append drops the oldest records of its own part beyond
//   `maximumRecords`, and the trail's oldest records beyond `maximumAge`, a bounded number of each, so one
//   append never turns into a long transaction; a record's age is taken by the earlier of the appending host's
//   clock and the server's, so a host whose clock runs ahead cannot drop the records of the others early;
// - `audit_counts` holds each part's number of records (the part of no organization under ''), changed in the
//   transaction that appends or drops them. A part's count is the sum of `auditCountShards` rows, an append
//   counting its record in the row of its sequence, so that appends of one organization from many
//   connections (every login's) do not all wait for one row's lock until their commit; a row may go below
//   zero. A concurrent append's record is counted once it commits, so a part may pass the limit by the
//   appends in flight, and the next appends drop the excess; it never drops a record the limit keeps
//   (`dropOldest`);
// - an append comes last in its transaction, and takes its locks in this order: its count row; then, past the
//   part's limit, the part's prune lock (advisory) and the part's oldest records, which it may wait for; then,
//   past the age limit, old records and their count rows, only those no one else holds (`dropAged`, which
//   never waits). So nothing an append waits for is held by a transaction that waits for it.
extension PostgresAccountStore {
    static let auditPrunePerAppend: Int64 = 8
    /// Part of the schema (migration 2 counts by it): never changed.
    static let auditCountShards: Int64 = 16
    /// The first key of the advisory lock that serializes pruning of one part (the second: the part's hash).
    static let auditPruneLock: Int32 = 0x61_75_64  // "aud"

    public func appendAudit(_ record: AuditRecord) throws(AccountStoreError) {
        try write { transaction in try append(record, in: transaction) }
    }

    func append(_ record: AuditRecord, in transaction: Transaction) throws {
        var stored = record
        // The sequence lives in its column; the record bytes carry 0 and get the column's value when read.
        stored.sequence = 0
        let bytes = AuditRecordCodec.encode(stored)
        let retention = auditRetention
        let organization = record.organization?.value
        let part = organization ?? ""
        let counted = try transaction.rows(
            """
            WITH appended AS (
                INSERT INTO audit (time, target, organization, record)
                VALUES (\(record.time), \(record.target?.value), \(organization), \(bytes.buffer))
                RETURNING sequence
            ), counted AS (
                INSERT INTO audit_counts (organization, shard, records)
                SELECT \(part), (sequence % \(Self.auditCountShards))::smallint, 1 FROM appended
                ON CONFLICT (organization, shard) DO UPDATE SET records = audit_counts.records + 1
                RETURNING shard, records
            )
            SELECT (SELECT records FROM counted) + coalesce((
                SELECT sum(records) FROM audit_counts
                WHERE organization = \(part) AND shard <> (SELECT shard FROM counted)
            ), 0)::bigint, (SELECT shard FROM counted), (SELECT time FROM audit ORDER BY sequence LIMIT 1),
            \(unescaped: Self.serverTime)
            """
        )
        guard let row = counted.first else { return }
        let (records, shard, oldestTime, serverTime) = try row.decode((Int64, Int16, Int64?, Int64).self)
        if records > Int64(clamping: retention.maximumRecords) {
            try dropOldest(of: organization, countedIn: shard, in: transaction)
        }
        // Age by this host's clock and the server's, the earlier of the two: a host whose clock runs ahead must
        // not drop the records other hosts wrote just now.
        let now = min(record.time, serverTime)
        // The trail's oldest records, when the oldest is past the age limit (a round trip saved otherwise).
        guard let oldestTime, now - oldestTime > retention.maximumAge else { return }
        try dropAged(before: now - retention.maximumAge, in: transaction)
    }

    /// Drops the trail's oldest records (a bounded number) whose time is before `limit`, and takes them off
    /// their parts' counts, without waiting for any lock: the oldest records no other transaction holds, and of
    /// those only the ones whose count row no other append holds (this append holds its own). Appends dropping
    /// at once would otherwise wait for the same oldest records and for each other's count rows, each holding
    /// what the other waits for. What is left goes at a later append.
    private func dropAged(before limit: UnixTime, in transaction: Transaction) throws {
        try transaction.execute(
            """
            WITH oldest AS (
                SELECT sequence, time, coalesce(organization, '') AS part,
                    (sequence % \(Self.auditCountShards))::smallint AS shard
                FROM audit ORDER BY sequence LIMIT \(Self.auditPrunePerAppend) FOR UPDATE SKIP LOCKED
            ), aged AS (
                SELECT * FROM oldest WHERE time < \(limit)
            ), counts AS (
                SELECT organization, shard FROM audit_counts WHERE (organization, shard) IN (SELECT part, shard FROM aged)
                FOR UPDATE SKIP LOCKED
            ), dropped AS (
                DELETE FROM audit WHERE sequence IN (
                    SELECT sequence FROM aged JOIN counts ON counts.organization = aged.part AND counts.shard = aged.shard
                )
                RETURNING coalesce(organization, '') AS part, (sequence % \(Self.auditCountShards))::smallint AS shard
            )
            UPDATE audit_counts SET records = audit_counts.records - parts.dropped
            FROM (SELECT part, shard, count(*) AS dropped FROM dropped GROUP BY part, shard) AS parts
            WHERE audit_counts.organization = parts.part AND audit_counts.shard = parts.shard
            """
        )
    }

    /// Drops the oldest records of `organization`'s part beyond the limit, a bounded number, and takes them
    /// off the count in `shard`, the row this append already holds (a part's count is the sum of its rows, so
    /// any of them will do, and taking no other row's lock here, no prune waits for a row held by an append
    /// waiting for this prune). The count an append reads beside concurrent appends may include theirs before
    /// their records can be seen, so dropping by it could drop a record the limit keeps: pruning of one part
    /// takes an advisory lock (held to the commit) and counts the part again after it, in a statement of its
    /// own, which sees every committed prune. Only a part past its limit takes the lock.
    private func dropOldest(
        of organization: String?,
        countedIn shard: Int16,
        in transaction: Transaction
    ) throws {
        let part = organization ?? ""
        try transaction.execute("SELECT pg_advisory_xact_lock(\(Self.auditPruneLock), hashtext(\(part)))")
        // The part's oldest records, through audit_by_organization (NULL is not `=` to anything).
        let partCondition = organization == nil ? "organization IS NULL" : "organization = $1"
        var binds = PostgresBindings()
        binds.append(part)
        binds.append(Int64(clamping: auditRetention.maximumRecords))
        binds.append(Self.auditPrunePerAppend)
        binds.append(shard)
        try transaction.execute(
            PostgresQuery(
                unsafeSQL: """
                    WITH dropped AS (
                        DELETE FROM audit WHERE sequence IN (
                            SELECT sequence FROM audit WHERE \(partCondition) ORDER BY sequence
                            LIMIT least($3, greatest(0, (
                                SELECT coalesce(sum(records), 0) FROM audit_counts WHERE organization = $1
                            ) - $2))
                        )
                        RETURNING 1
                    )
                    UPDATE audit_counts SET records = records - (SELECT count(*) FROM dropped)
                    WHERE organization = $1 AND shard = $4
                    """,
                binds: binds
            )
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
