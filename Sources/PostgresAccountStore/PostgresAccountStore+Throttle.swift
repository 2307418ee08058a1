import AccountStore
import PostgresNIO
import StoredRecords

// The `throttle` table: one row per (subject, origin), origin written as on LMDB ("u" + uid, "h" + host,
// "l"). Rows of quiet keys are dropped a few at a time, so names sprayed by an attacker cannot grow the
// table without bound. Lock order, here and everywhere: the throttle row, then the account row.
extension PostgresAccountStore {
    /// A row whose last failure is older than this is forgotten (its lock expired long ago), as on LMDB.
    static let throttleMemory: Int64 = 2 * 86_400
    static let throttlePrunePerWrite: Int64 = 8

    public func reserveAttempt(
        _ key: ThrottleKey,
        at time: UnixTime,
        decide: (ThrottleRecord, Account?) -> AttemptReservation
    ) throws(AccountStoreError) -> AttemptReservation {
        try write { transaction in
            let attempt = try lockThrottleState(of: key, in: transaction)
            let reservation = decide(attempt.record, attempt.account)
            guard reservation == .allowed else {
                // Nothing is counted, and the empty row goes with the rollback.
                transaction.rollbackOnly = true
                return reservation
            }
            try countFailure(attempt, of: key, at: time, in: transaction)
            return .allowed
        }
    }

    /// Read as `reserveAttempt` reads (the key's row locked, so the decision sees every attempt that committed
    /// before it), then rolled back: nothing is counted.
    public func previewAttempt(
        _ key: ThrottleKey,
        decide: (ThrottleRecord, Account?) -> AttemptReservation
    ) throws(AccountStoreError) -> AttemptReservation {
        try write { transaction in
            let attempt = try lockThrottleState(of: key, in: transaction)
            transaction.rollbackOnly = true
            return decide(attempt.record, attempt.account)
        }
    }

    /// The decision, the check's outcome and its writes in one transaction, so a fleet pays one commit per
    /// code check. An accepted check never counts its attempt.
    public func checkAttempt(
        _ key: ThrottleKey,
        of name: AccountName,
        claiming claim: StepClaim?,
        alongside: (inout Account) -> Void,
        at time: UnixTime,
        decide: (ThrottleRecord, Account?) -> AttemptReservation,
        audit: AttemptAudit
    ) throws(AccountStoreError) -> AttemptVerdict {
        try write { transaction in
            let attempt = try lockThrottleState(of: key, in: transaction)
            if case .locked(let wait) = decide(attempt.record, attempt.account) {
                transaction.rollbackOnly = true
                return .locked(retryAfter: wait)
            }
            if let claim, try acceptStep(claim, for: name, at: time, alongside: alongside, in: transaction) == .accepted
            {
                try clear(key, in: transaction)
                try append(audit.accepted, in: transaction)
                return .accepted
            }
            // A refused claim wrote nothing, so `attempt` is still the stored state.
            try countFailure(attempt, of: key, at: time, in: transaction)
            try append(audit.denied, in: transaction)
            return .denied
        }
    }

    /// A throttle key's row and, for a privileged origin, the account it counts against, both locked for
    /// this transaction (in the lock order: the throttle row, then the account row).
    private struct ThrottleState {
        var record: ThrottleRecord
        var account: Account?
    }

    private func lockThrottleState(of key: ThrottleKey, in transaction: Transaction) throws -> ThrottleState {
        let (subject, origin) = Self.throttleColumns(key)
        // The empty row makes the key's row exist, so that FOR UPDATE can serialize every attempt on it.
        try transaction.execute(
            """
            INSERT INTO throttle (subject, origin, failures) VALUES (\(subject), \(origin), 0)
            ON CONFLICT (subject, origin) DO NOTHING
            """
        )
        let rows = try transaction.rows(
            """
            SELECT failures, last_failure_at FROM throttle WHERE subject = \(subject) AND origin = \(origin)
            FOR UPDATE
            """
        )
        var record = ThrottleRecord()
        if let row = rows.first {
            let (failures, last) = try row.decode((Int64, Int64?).self)
            record = ThrottleRecord(failures: UInt32(clamping: failures), lastFailureAt: last)
        }
        var account: Account?
        if key.origin.isPrivileged, let name = try? AccountName(key.subject) {
            let accountRows = try transaction.rows("SELECT record FROM accounts WHERE name = \(name.value) FOR UPDATE")
            account = try accountRows.first.map { try Self.decode($0, name: name.value) }
        }
        return ThrottleState(record: record, account: account)
    }

    /// Counts one failure of the key (and of the account, for a privileged origin), and prunes a few old rows.
    private func countFailure(
        _ state: ThrottleState,
        of key: ThrottleKey,
        at time: UnixTime,
        in transaction: Transaction
    ) throws {
        let (subject, origin) = Self.throttleColumns(key)
        let failures = state.record.failures &+ 1 == 0 ? UInt32.max : state.record.failures + 1
        try transaction.execute(
            """
            UPDATE throttle SET failures = \(Int64(failures)), last_failure_at = \(time)
            WHERE subject = \(subject) AND origin = \(origin)
            """
        )
        if var counted = state.account {
            counted.failureCount = counted.failureCount &+ 1 == 0 ? .max : counted.failureCount + 1
            counted.lastFailureAt = time
            try Self.store(AccountRecord.encode(counted), of: counted, in: transaction)
        }
        // Rows another transaction holds are skipped: pruning never waits.
        try transaction.execute(
            """
            DELETE FROM throttle WHERE (subject, origin) IN (
                SELECT subject, origin FROM throttle WHERE last_failure_at < \(time - Self.throttleMemory)
                LIMIT \(Self.throttlePrunePerWrite) FOR UPDATE SKIP LOCKED)
            """
        )
    }

    public func clearAttempts(_ key: ThrottleKey) throws(AccountStoreError) {
        try write { transaction in try clear(key, in: transaction) }
    }

    func clear(_ key: ThrottleKey, in transaction: Transaction) throws {
        let (subject, origin) = Self.throttleColumns(key)
        try transaction.execute("DELETE FROM throttle WHERE subject = \(subject) AND origin = \(origin)")
        guard key.origin.isPrivileged, let name = try? AccountName(key.subject) else { return }
        let rows = try transaction.rows("SELECT record FROM accounts WHERE name = \(name.value) FOR UPDATE")
        guard let row = rows.first else { return }
        var account = try Self.decode(row, name: name.value)
        guard account.failureCount != 0 else { return }
        account.failureCount = 0
        try Self.store(AccountRecord.encode(account), of: account, in: transaction)
    }

    public func clearAllAttempts(of subject: String) throws(AccountStoreError) {
        let column = Self.subjectColumn(subject)
        try write { transaction in
            try transaction.execute("DELETE FROM throttle WHERE subject = \(column)")
            guard let name = try? AccountName(subject) else { return }
            let rows = try transaction.rows("SELECT record FROM accounts WHERE name = \(name.value) FOR UPDATE")
            guard let row = rows.first else { return }
            var account = try Self.decode(row, name: name.value)
            account.failureCount = 0
            account.lastFailureAt = nil
            try Self.store(AccountRecord.encode(account), of: account, in: transaction)
        }
    }

    /// The failures counted for `key`, for tests and `user show`.
    public func throttleRecord(_ key: ThrottleKey) throws(AccountStoreError) -> ThrottleRecord {
        let (subject, origin) = Self.throttleColumns(key)
        return try read { transaction in
            let rows = try transaction.rows(
                "SELECT failures, last_failure_at FROM throttle WHERE subject = \(subject) AND origin = \(origin)"
            )
            guard let row = rows.first else { return ThrottleRecord() }
            let (failures, last) = try row.decode((Int64, Int64?).self)
            return ThrottleRecord(failures: UInt32(clamping: failures), lastFailureAt: last)
        }
    }

    /// The subject cut as on LMDB (128 bytes) and the origin as LMDB spells it.
    static func throttleColumns(_ key: ThrottleKey) -> (subject: String, origin: String) {
        let origin =
            switch key.origin {
            case .peer(let uid): "u\(uid)"
            case .host(let host): "h" + String(decoding: host.utf8.prefix(255), as: UTF8.self)
            case .local: "l"
            }
        return (subjectColumn(key.subject), origin)
    }

    static func subjectColumn(_ subject: String) -> String {
        // PostgreSQL text cannot hold NUL; a subject is a name the client sent, so drop any.
        String(decoding: subject.utf8.prefix(128).filter { $0 != 0 }, as: UTF8.self)
    }
}
