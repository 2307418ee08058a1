import AccountStore
import LMDB
import StoredRecords

// The `throttle` database: key = subject, NUL, origin ("u" + uid | "h" + host | "l" | "a"), value = u32
// failures, opt i64 last failure. "a" is no origin but the subject as a whole: the account-wide counter of a
// name without an account, standing in for `Account.failureCount`/`lastFailureAt` (`ThrottleDecision`).
// Records of quiet keys, stand-ins included, are dropped a few at a time, so names sprayed by an attacker
// cannot grow the database without bound. A daemon without stand-ins reads them as records of an origin it
// never asks for: it prunes them and `clearAllAttempts` deletes them with the subject's other records.
extension LMDBAccountStore {
    /// A record whose last failure is older than this is forgotten (its lock expired long ago).
    static let throttleMemory: Int64 = 2 * 86_400
    static let throttlePrunePerWrite = 8

    public func reserveAttempt(
        _ key: ThrottleKey,
        at time: UnixTime,
        decide: ThrottleDecision
    ) throws(AccountStoreError) -> AttemptReservation {
        try write { transaction in
            let attempt = try throttleState(of: key, in: transaction)
            let reservation = decide(attempt.record, attempt.accountWide?.failures)
            guard reservation == .allowed else { return reservation }
            try countFailure(attempt, at: time, in: transaction)
            return .allowed
        }
    }

    public func previewAttempt(
        _ key: ThrottleKey,
        decide: ThrottleDecision
    ) throws(AccountStoreError) -> AttemptReservation {
        try read { transaction in
            let attempt = try throttleState(of: key, in: transaction)
            return decide(attempt.record, attempt.accountWide?.failures)
        }
    }

    /// The decision, the attempt's outcome and its writes in one nested transaction of one group commit. An
    /// accepted attempt never counts itself, so it has nothing to undo.
    public func checkAttempt(
        _ key: ThrottleKey,
        claiming claim: AttemptClaim,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        decide: ThrottleDecision,
        audit: AttemptAudit
    ) throws(AccountStoreError) -> AttemptVerdict {
        try write { transaction in
            try decideAttempt(key, claim, alongside: alongside, at: time, decide: decide, audit: audit, in: transaction)
        }
    }

    /// `checkAttempt` without waiting: see `AccountStore`. The write is queued under `writerLock`, as every other
    /// write runs, so none is queued while a key rotation (which holds the lock exclusively) runs: a write
    /// queued before the rotation's is applied before it, under the key its secret was sealed with.
    public func checkAttempt(
        _ key: ThrottleKey,
        claiming claim: AttemptClaim,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        decide: @escaping ThrottleDecision,
        audit: AttemptAudit,
        whenDurable completion: @escaping (Result<AttemptVerdict, AccountStoreError>) -> Void
    ) {
        let directory = directory
        writerLock.withShared {
            environment.write(
                { transaction in
                    try self.decideAttempt(
                        key,
                        claim,
                        alongside: alongside,
                        at: time,
                        decide: decide,
                        audit: audit,
                        in: transaction
                    )
                },
                whenDurable: { outcome in
                    completion(outcome.mapError { Self.storeError($0, directory: directory) })
                }
            )
        }
    }

    private func decideAttempt(
        _ key: ThrottleKey,
        _ claim: AttemptClaim,
        alongside: AcceptedStepChange?,
        at time: UnixTime,
        decide: ThrottleDecision,
        audit: AttemptAudit,
        in transaction: borrowing Transaction
    ) throws -> AttemptVerdict {
        let attempt = try throttleState(of: key, in: transaction)
        if case .locked(let wait) = decide(attempt.record, attempt.accountWide?.failures) {
            return .locked(retryAfter: wait)
        }
        var passedBy: AccountName?
        switch claim {
        case .step(let step, let name):
            let stored = attempt.account(named: name)
            let acceptance = try acceptStep(
                step,
                for: name,
                at: time,
                alongside: alongside,
                in: transaction,
                stored: stored
            )
            if acceptance == .accepted { passedBy = name }
        case .passed(let name, let passwordHash, let twoFactor):
            // The login was decided on an earlier read: it passes only if the account still is as it checked it.
            var stored = attempt.account(named: name)
            if stored == nil, let record = try transaction.get(Self.key(name), in: accounts) {
                stored = try decodeAccount(record, key: Self.key(name), in: transaction)
            }
            if let stored, stored.stillAcceptsLogin(passwordCheckedAgainst: passwordHash, twoFactor: twoFactor) {
                try markSuccess(of: name, at: time, in: transaction, stored: stored)
                passedBy = name
            }
        case .failed:
            break
        }
        if let passedBy {
            try clear(key, in: transaction, resetBySuccessOf: passedBy)
            if let record = audit.accepted { try append(record, in: transaction) }
            return .accepted
        }
        // A refused step wrote nothing, so `attempt` is still the stored state.
        try countFailure(attempt, at: time, in: transaction)
        switch audit.denied {
        case .record(let record): try append(record, in: transaction)
        case .maskingUnknownName: try rewriteAuditTail(in: transaction)
        case .none: break
        }
        return .denied
    }

    /// A throttle key's record as stored, and for a privileged origin what counts against the subject as a whole.
    private struct ThrottleState {
        var recordKey: [UInt8]
        var record: ThrottleRecord
        var accountWide: AccountWideCounter?

        /// The account read for `accountWide`, when it is `name`'s: nothing was written since, so reading it
        /// again would give the same.
        func account(named name: AccountName) -> Account? {
            if case .account(let account) = accountWide, account.name == name { account } else { nil }
        }
    }

    /// The account-wide failures of a subject: the account's own, or a stand-in's when no account has its name.
    private enum AccountWideCounter {
        case account(Account)
        case standIn(recordKey: [UInt8], record: ThrottleRecord)

        var failures: ThrottleRecord {
            switch self {
            case .account(let account): account.accountWideFailures
            case .standIn(_, let record): record
            }
        }
    }

    private func throttleState(of key: ThrottleKey, in transaction: borrowing Transaction) throws -> ThrottleState {
        let recordKey = Self.throttleKey(key)
        let record = try Self.throttleRecord(recordKey, in: transaction, databases.throttle)
        var accountWide: AccountWideCounter?
        if key.origin.isPrivileged {
            if let account = try existingAccount(named: key.subject, in: transaction) {
                accountWide = .account(account)
            } else {
                let standInKey = Self.standInKey(of: key.subject)
                let standIn = try Self.throttleRecord(standInKey, in: transaction, databases.throttle)
                accountWide = .standIn(recordKey: standInKey, record: standIn)
            }
        }
        return ThrottleState(recordKey: recordKey, record: record, accountWide: accountWide)
    }

    /// The account called `subject`, or nil when there is none (or `subject` could not be an account name).
    private func existingAccount(named subject: String, in transaction: borrowing Transaction) throws -> Account? {
        guard let name = try? AccountName(subject), let bytes = try transaction.get(Self.key(name), in: accounts)
        else { return nil }
        return try decodeAccount(bytes, key: Self.key(name), in: transaction)
    }

    /// Counts one failure of the key (and of the subject as a whole, for a privileged origin), and prunes a few
    /// old records.
    private func countFailure(_ state: ThrottleState, at time: UnixTime, in transaction: borrowing Transaction) throws {
        var record = state.record
        record.countFailure(at: time)
        try transaction.put(Self.encode(record), for: state.recordKey, in: databases.throttle)
        switch state.accountWide {
        case .account(let account):
            var counted = account
            counted.accountWideFailures.countFailure(at: time)
            try save(counted, changedFrom: account, in: transaction)
        case .standIn(let standInKey, var standIn):
            standIn.countFailure(at: time)
            try transaction.put(Self.encode(standIn), for: standInKey, in: databases.throttle)
        case nil:
            break
        }
        try pruneThrottle(transaction, now: time)
    }

    public func recordDenialOfUnknownName(_ key: ThrottleKey) throws(AccountStoreError) {
        try write { transaction in try rewriteAuditTail(in: transaction) }
    }

    public func clearAttempts(_ key: ThrottleKey) throws(AccountStoreError) {
        try write { transaction in try clear(key, in: transaction) }
    }

    /// `clearAttempts`, inside a write transaction; writes nothing when there is nothing to clear. After a
    /// success of `name` in this transaction (`acceptStep`, `markSuccess`), which reset that account's
    /// failure count, the key of that name needs only its own record deleted.
    func clear(
        _ key: ThrottleKey,
        in transaction: borrowing Transaction,
        resetBySuccessOf name: AccountName? = nil
    ) throws {
        _ = try transaction.delete(Self.throttleKey(key), in: databases.throttle)
        guard key.origin.isPrivileged, name?.value != key.subject else { return }
        guard let before = try existingAccount(named: key.subject, in: transaction) else {
            _ = try transaction.delete(Self.standInKey(of: key.subject), in: databases.throttle)
            return
        }
        guard before.failureCount != 0 else { return }
        var account = before
        account.failureCount = 0
        try save(account, changedFrom: before, in: transaction)
    }

    public func clearAllAttempts(of subject: String) throws(AccountStoreError) {
        try write { transaction in
            // Every origin's record and the stand-in's.
            for (key, _) in try throttleEntries(of: subject, in: transaction) {
                _ = try transaction.delete(key, in: databases.throttle)
            }
            guard let before = try existingAccount(named: subject, in: transaction) else { return }
            var account = before
            account.failureCount = 0
            account.lastFailureAt = nil
            try save(account, changedFrom: before, in: transaction)
        }
    }

    /// Every throttle record of `subject` (each origin's, and a stand-in's), in key order.
    private func throttleEntries(
        of subject: String,
        in transaction: borrowing Transaction
    ) throws(LMDBError) -> [Cursor.Entry] {
        try Self.range(
            in: databases.throttle,
            of: transaction,
            prefix: Self.throttleSubject(subject) + [0],
            after: nil,
            limit: .max
        )
    }

    /// Walks each subject's range of keys, as `clearAllAttempts` does.
    public func throttleRecords(
        of subjects: [String],
        matching filter: ThrottleFilter,
        limit: Int
    ) throws(AccountStoreError) -> [String: ThrottleListing] {
        try read { transaction in
            var listings: [String: ThrottleListing] = [:]
            for subject in subjects {
                let prefix = Self.throttleSubject(subject) + [0]
                let entries = try throttleEntries(of: subject, in: transaction)
                var accepted: [OriginThrottleRecord] = []
                for (key, value) in entries {
                    guard let origin = Self.throttleOrigin(key.dropFirst(prefix.count)) else { continue }
                    let record = try Self.decodeThrottleRecord(value, key: key)
                    if filter.matches(record) { accepted.append(OriginThrottleRecord(origin: origin, record: record)) }
                }
                if !accepted.isEmpty { listings[subject] = .listing(of: accepted, limit: limit) }
            }
            return listings
        }
    }

    /// The origin a throttle key names after its subject and NUL; nil for the stand-in ("a") and anything
    /// this build does not write.
    static func throttleOrigin(_ bytes: ArraySlice<UInt8>) -> ThrottleOrigin? {
        guard let kind = bytes.first else { return nil }
        let rest = bytes.dropFirst()
        switch kind {
        case UInt8(ascii: "u"): return UInt32(String(decoding: rest, as: UTF8.self)).map { .peer(uid: $0) }
        case UInt8(ascii: "h") where !rest.isEmpty: return .host(String(decoding: rest, as: UTF8.self))
        case UInt8(ascii: "l") where rest.isEmpty: return .local
        default: return nil
        }
    }

    /// The failures counted for `key`, for tests and `user show`.
    public func throttleRecord(_ key: ThrottleKey) throws(AccountStoreError) -> ThrottleRecord {
        try read { transaction in try Self.throttleRecord(Self.throttleKey(key), in: transaction, databases.throttle) }
    }

    static func throttleKey(_ key: ThrottleKey) -> [UInt8] {
        let origin: [UInt8] =
            switch key.origin {
            case .peer(let uid): Array("u\(uid)".utf8)
            // DNS names are at most 253 bytes; anything longer is cut so the key stays within LMDB's limit.
            case .host(let host): Array("h".utf8) + Array(host.utf8.prefix(255))
            case .local: Array("l".utf8)
            }
        return throttleSubject(key.subject) + [0] + origin
    }

    /// The key of the stand-in for the account-wide counter of a subject without an account.
    static func standInKey(of subject: String) -> [UInt8] {
        throttleSubject(subject) + [0] + Array("a".utf8)
    }

    static func throttleSubject(_ subject: String) -> [UInt8] {
        Array(subject.utf8.prefix(128))
    }

    private static func throttleRecord(
        _ key: [UInt8],
        in transaction: borrowing Transaction,
        _ database: Database
    ) throws -> ThrottleRecord {
        guard let bytes = try transaction.get(key, in: database) else { return ThrottleRecord() }
        return try decodeThrottleRecord(bytes, key: key)
    }

    private static func decodeThrottleRecord(_ bytes: [UInt8], key: [UInt8]) throws -> ThrottleRecord {
        var reader = ByteReader(bytes)
        do {
            let failures = try reader.u32()
            let last = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
                try reader.i64()
            }
            guard reader.isAtEnd else { throw RecordDecodingError("trailing bytes") }
            return ThrottleRecord(failures: failures, lastFailureAt: last)
        } catch {
            throw AccountStoreError.corruptRecord(key: "throttle/" + String(decoding: key, as: UTF8.self))
        }
    }

    private static func encode(_ record: ThrottleRecord) -> [UInt8] {
        var writer = ByteWriter()
        writer.u32(record.failures)
        writer.optional(record.lastFailureAt) { $0.i64($1) }
        return writer.bytes
    }

    /// Drops up to a few forgotten records, starting at a random place so that every record gets its turn.
    private func pruneThrottle(_ transaction: borrowing Transaction, now: UnixTime) throws {
        let start = [UInt8.random(in: 0...UInt8.max)]
        let entries = try Self.range(
            in: databases.throttle,
            of: transaction,
            prefix: [],
            after: start,
            limit: Self.throttlePrunePerWrite
        )
        for (key, value) in entries {
            let record = try Self.decodeThrottleRecord(value, key: key)
            if let last = record.lastFailureAt, now - last > Self.throttleMemory {
                _ = try transaction.delete(key, in: databases.throttle)
            }
        }
    }
}
