import AccountStore
import PostgresNIO
import StoredRecords

// The `throttle` table: one row per (subject, origin), origin written as on LMDB ("u" + uid, "h" + host,
// "l", and "a" for the stand-in account-wide counter of a name without an account). Rows of quiet keys,
// stand-ins included, are dropped a few at a time, so names sprayed by an attacker cannot grow the table
// without bound. Locks are taken in the order at the top of Transactions.swift: the key's throttle row, then
// the account row, then the stand-in row.
extension PostgresAccountStore {
    /// A row whose last failure is older than this is forgotten (its lock expired long ago), as on LMDB.
    static let throttleMemory: Int64 = 2 * 86_400
    static let throttlePrunePerWrite: Int64 = 8

    public func reserveAttempt(
        _ key: ThrottleKey,
        at time: UnixTime,
        decide: ThrottleDecision
    ) throws(AccountStoreError) -> AttemptReservation {
        try write { transaction in
            let attempt = try lockThrottleState(of: key, in: transaction)
            let reservation = decide(attempt.record, attempt.accountWide?.failures)
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
        decide: ThrottleDecision
    ) throws(AccountStoreError) -> AttemptReservation {
        try write { transaction in
            let attempt = try lockThrottleState(of: key, in: transaction)
            transaction.rollbackOnly = true
            return decide(attempt.record, attempt.accountWide?.failures)
        }
    }

    /// The decision, the attempt's outcome and its writes in one transaction, so a fleet pays one commit per
    /// code check or login. An accepted attempt never counts itself. The account the throttle decision locked
    /// (a privileged origin's, of the key's own name) is the one the step or the success and the clear are
    /// taken on: a row this transaction holds is not read again.
    public func checkAttempt(
        _ key: ThrottleKey,
        claiming claim: AttemptClaim,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        decide: ThrottleDecision,
        audit: AttemptAudit
    ) throws(AccountStoreError) -> AttemptVerdict {
        try write { transaction in
            let attempt = try lockThrottleState(of: key, in: transaction)
            if case .locked(let wait) = decide(attempt.record, attempt.accountWide?.failures) {
                transaction.rollbackOnly = true
                return .locked(retryAfter: wait)
            }
            // The subject's account as this transaction holds it, once locked.
            var held: Account?
            if case .account(let account) = attempt.accountWide { held = account }
            func locked(_ name: AccountName) throws -> Account {
                if let held, held.name == name { return held }
                return try Self.lock(name, in: transaction)
            }
            var passed = false
            switch claim {
            case .step(let step, let name):
                let (acceptance, stored) = try acceptStep(
                    step,
                    on: locked(name),
                    at: time,
                    alongside: alongside,
                    in: transaction
                )
                passed = acceptance == .accepted
                if held?.name == name { held = stored }
            case .passed(let name, let passwordHash, let twoFactor):
                // The login was decided on an earlier read: it passes only if the account still is as it checked it.
                let current = try held?.name == name ? held : Self.lockIfExists(name, in: transaction)
                if let current, current.stillAcceptsLogin(passwordCheckedAgainst: passwordHash, twoFactor: twoFactor) {
                    let stored = try markSuccess(on: current, at: time, in: transaction)
                    if held?.name == name { held = stored }
                    passed = true
                }
            case .failed:
                break
            }
            if passed {
                try clear(key, holding: held, in: transaction)
                if let record = audit.accepted { try append(record, in: transaction) }
                return .accepted
            }
            // A refused step wrote nothing, so `attempt` is still the stored state.
            try countFailure(attempt, of: key, at: time, in: transaction)
            switch audit.denied {
            case .record(let record): try append(record, in: transaction)
            case .maskingUnknownName: try rewriteThrottleRow(of: key, in: transaction)
            case .none: break
            }
            return .denied
        }
    }

    /// A throttle key's row and, for a privileged origin, what counts against the subject as a whole (the
    /// account, or the stand-in row of a name without one), all locked for this transaction in the lock order.
    private struct ThrottleState {
        var record: ThrottleRecord
        var accountWide: AccountWideCounter?
    }

    /// The account-wide failures of a subject: the account's own, or a stand-in's when no account has its name.
    private enum AccountWideCounter {
        case account(Account)
        case standIn(ThrottleRecord)

        var failures: ThrottleRecord {
            switch self {
            case .account(let account): account.accountWideFailures
            case .standIn(let record): record
            }
        }
    }

    private func lockThrottleState(of key: ThrottleKey, in transaction: Transaction) throws -> ThrottleState {
        let (subject, origin) = Self.throttleColumns(key)
        let record = try Self.lockThrottleRow(subject: subject, origin: origin, in: transaction)
        var accountWide: AccountWideCounter?
        if key.origin.isPrivileged {
            if let account = try Self.lockExistingAccount(named: key.subject, in: transaction) {
                accountWide = .account(account)
            } else {
                let standIn = try Self.lockThrottleRow(subject: subject, origin: Self.standInOrigin, in: transaction)
                accountWide = .standIn(standIn)
            }
        }
        return ThrottleState(record: record, accountWide: accountWide)
    }

    /// The throttle row of (subject, origin), locked for this transaction; an empty one when none was stored.
    private static func lockThrottleRow(
        subject: String,
        origin: String,
        in transaction: Transaction
    ) throws -> ThrottleRecord {
        // An empty row when none is stored, so that every attempt on the key waits for this row's lock; the
        // update that changes nothing takes that lock on a stored row, after the attempts before it committed,
        // and returns what they left.
        let rows = try transaction.rows(
            """
            INSERT INTO throttle (subject, origin, failures) VALUES (\(subject), \(origin), 0)
            ON CONFLICT (subject, origin) DO UPDATE SET failures = throttle.failures
            RETURNING failures, last_failure_at
            """
        )
        guard let row = rows.first else { return ThrottleRecord() }
        let (failures, last) = try row.decode((Int64, Int64?).self)
        return ThrottleRecord(failures: UInt32(clamping: failures), lastFailureAt: last)
    }

    /// The account called `subject`, its row locked for this transaction, or nil when there is none (or
    /// `subject` could not be an account name).
    private static func lockExistingAccount(named subject: String, in transaction: Transaction) throws -> Account? {
        guard let name = try? AccountName(subject) else { return nil }
        return try lockIfExists(name, in: transaction)
    }

    /// Counts one failure of the key (and of the subject as a whole, for a privileged origin), and prunes a
    /// few old rows.
    private func countFailure(
        _ state: ThrottleState,
        of key: ThrottleKey,
        at time: UnixTime,
        in transaction: Transaction
    ) throws {
        let (subject, origin) = Self.throttleColumns(key)
        var record = state.record
        record.countFailure(at: time)
        try Self.storeThrottleRow(record, subject: subject, origin: origin, in: transaction)
        switch state.accountWide {
        case .account(var counted):
            counted.accountWideFailures.countFailure(at: time)
            try Self.store(AccountRecord.encode(counted), of: counted, in: transaction)
        case .standIn(var standIn):
            standIn.countFailure(at: time)
            try Self.storeThrottleRow(standIn, subject: subject, origin: Self.standInOrigin, in: transaction)
        case nil:
            break
        }
        try pruneQuietThrottleRows(at: time, in: transaction)
    }

    /// Drops a few rows whose last failure is older than `throttleMemory` by this host's clock (`time`) and by
    /// the server's: a host whose clock runs ahead must not drop the rows other hosts counted just now (their
    /// failures forgotten early would allow more guesses), and one whose clock runs behind drops later. Rows
    /// another transaction holds are skipped: pruning never waits.
    private func pruneQuietThrottleRows(at time: UnixTime, in transaction: Transaction) throws {
        try transaction.execute(
            """
            DELETE FROM throttle WHERE (subject, origin) IN (
                SELECT subject, origin FROM throttle
                WHERE last_failure_at < least(\(time), \(unescaped: Self.serverTime)) - \(Self.throttleMemory)
                LIMIT \(Self.throttlePrunePerWrite) FOR UPDATE SKIP LOCKED)
            """
        )
    }

    /// Writes the counts of a row `lockThrottleRow` locked (and so made exist).
    private static func storeThrottleRow(
        _ record: ThrottleRecord,
        subject: String,
        origin: String,
        in transaction: Transaction
    ) throws {
        try transaction.execute(
            """
            UPDATE throttle SET failures = \(Int64(record.failures)), last_failure_at = \(record.lastFailureAt)
            WHERE subject = \(subject) AND origin = \(origin)
            """
        )
    }

    public func recordDenialOfUnknownName(_ key: ThrottleKey) throws(AccountStoreError) {
        try write { transaction in try rewriteThrottleRow(of: key, in: transaction) }
    }

    /// One row written again unchanged, as an audit record would be one row inserted.
    func rewriteThrottleRow(of key: ThrottleKey, in transaction: Transaction) throws {
        let (subject, origin) = Self.throttleColumns(key)
        try transaction.execute(
            "UPDATE throttle SET failures = failures WHERE subject = \(subject) AND origin = \(origin)"
        )
    }

    public func clearAttempts(_ key: ThrottleKey) throws(AccountStoreError) {
        try write { transaction in try clear(key, in: transaction) }
    }

    /// Clears `key`'s failures and, for a privileged origin, the subject's account-wide ones. `held` is the
    /// subject's account as this transaction holds it, when it does (it is not read again).
    func clear(_ key: ThrottleKey, holding held: Account? = nil, in transaction: Transaction) throws {
        try deleteThrottleRow(of: key, in: transaction)
        try clearAccountWide(of: key, holding: held, in: transaction)
    }

    /// Deletes `key`'s own row, which locks it until the transaction ends.
    func deleteThrottleRow(of key: ThrottleKey, in transaction: Transaction) throws {
        let (subject, origin) = Self.throttleColumns(key)
        try transaction.execute("DELETE FROM throttle WHERE subject = \(subject) AND origin = \(origin)")
    }

    /// For a privileged origin, clears the subject's account-wide failures: the account's count (`held`, when
    /// this transaction holds the account, is not read again), or the stand-in row of a name without one.
    func clearAccountWide(of key: ThrottleKey, holding held: Account?, in transaction: Transaction) throws {
        guard key.origin.isPrivileged else { return }
        let subjectAccount =
            if let held, held.name.value == key.subject { held } else {
                try Self.lockExistingAccount(named: key.subject, in: transaction)
            }
        guard var account = subjectAccount else {
            let subject = Self.subjectColumn(key.subject)
            try transaction.execute(
                "DELETE FROM throttle WHERE subject = \(subject) AND origin = \(Self.standInOrigin)"
            )
            return
        }
        guard account.failureCount != 0 else { return }
        account.failureCount = 0
        try Self.store(AccountRecord.encode(account), of: account, in: transaction)
    }

    public func clearAllAttempts(of subject: String) throws(AccountStoreError) {
        let column = Self.subjectColumn(subject)
        try write { transaction in
            // In the lock order: the origins' rows (in origin order), the account, the stand-in.
            try transaction.execute(
                """
                DELETE FROM throttle WHERE (subject, origin) IN (
                    SELECT subject, origin FROM throttle WHERE subject = \(column) AND origin <> \(Self.standInOrigin)
                    ORDER BY origin FOR UPDATE)
                """
            )
            if var account = try Self.lockExistingAccount(named: subject, in: transaction) {
                account.failureCount = 0
                account.lastFailureAt = nil
                try Self.store(AccountRecord.encode(account), of: account, in: transaction)
            }
            try transaction.execute(
                "DELETE FROM throttle WHERE subject = \(column) AND origin = \(Self.standInOrigin)"
            )
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

    /// One query for all the subjects; the database applies the filter's columns, Swift the rest.
    public func throttleRecords(
        of subjects: [String],
        matching filter: ThrottleFilter,
        limit: Int
    ) throws(AccountStoreError) -> [String: ThrottleListing] {
        guard !subjects.isEmpty else { return [:] }
        var subjectOf: [String: String] = [:]
        for subject in subjects { subjectOf[Self.subjectColumn(subject)] = subject }
        let columns = Array(subjectOf.keys)
        let accepted = try read { transaction in
            let rows = try transaction.rows(
                """
                SELECT subject, origin, failures, last_failure_at FROM throttle
                WHERE subject = ANY(\(columns)) AND origin <> \(Self.standInOrigin)
                AND failures >= \(Int64(filter.minimumFailures)) AND last_failure_at >= \(filter.failedSince)
                """
            )
            var accepted: [String: [OriginThrottleRecord]] = [:]
            for row in rows {
                let (column, originText, failures, last) = try row.decode((String, String, Int64, Int64?).self)
                let record = ThrottleRecord(failures: UInt32(clamping: failures), lastFailureAt: last)
                guard let subject = subjectOf[column], let origin = Self.throttleOrigin(originText),
                    filter.matches(record)
                else { continue }
                accepted[subject, default: []].append(OriginThrottleRecord(origin: origin, record: record))
            }
            return accepted
        }
        return accepted.mapValues { ThrottleListing.listing(of: $0, limit: limit) }
    }

    /// The origin an `origin` column names; nil for the stand-in ("a") and anything this build does not write.
    static func throttleOrigin(_ text: String) -> ThrottleOrigin? {
        guard let kind = text.first else { return nil }
        let rest = String(text.dropFirst())
        switch kind {
        case "u": return UInt32(rest).map { .peer(uid: $0) }
        case "h" where !rest.isEmpty: return .host(rest)
        case "l" where rest.isEmpty: return .local
        default: return nil
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

    /// The origin column of the stand-in account-wide counter of a name without an account.
    static let standInOrigin = "a"

    static func subjectColumn(_ subject: String) -> String {
        // PostgreSQL text cannot hold NUL; a subject is a name the client sent, so drop any.
        String(decoding: subject.utf8.prefix(128).filter { $0 != 0 }, as: UTF8.self)
    }
}
