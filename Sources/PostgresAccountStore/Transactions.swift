import AccountStore
import NIOCore
import PostgresNIO
import Synchronization

// The one read path and the one write path of `PostgresAccountStore`. MUSTs:
// - every change runs in one transaction (BEGIN ... COMMIT) on one connection, under the store's statement
//   timeout (a startup parameter; where a pooler dropped it, set by the transaction itself: `begin`); a
//   read-modify-write reads its rows with SELECT ... FOR UPDATE, so a second daemon doing the same waits and
//   then sees the first one's committed result (two daemons racing one code: exactly one wins);
// - a method returns normally only after the server acknowledged COMMIT; if COMMIT fails in any way (the
//   connection, a backend terminated under it: SQLSTATE 57P01), the call throws `.storageFailure` (the change
//   may or may not have been made, and the message says so): the daemon then answers an error, never `ok`;
// - a request whose first statement (a write's BEGIN, a read's SELECT) found its pooled connection closed by the
//   server runs once more on a new connection (`ConnectionPool.withConnection`): nothing of it took effect;
// - a serialization failure or deadlock (SQLSTATE 40001, 40P01) aborts and reruns the whole transaction,
//   so a body may run more than once, as with LMDB; a COMMIT that fails, however, is never run again: its
//   change is in doubt (`Transaction.commit`);
// - an error thrown by a body rolls the transaction back and is rethrown unchanged; a body that refuses a change
//   (`update`) sets `rollbackOnly` and returns its refusal instead;
// - every transaction takes its locks in the order below, never one of a kind after one of a later kind, so
//   that no two transactions wait for each other: a deadlock, which the server breaks after deadlock_timeout
//   (a second by default) by failing one of them, to be run again. `deadlocksRetried` counts them; tests expect
//   none.
//
// The lock order:
// 1. an organization's row, FOR UPDATE (`updateOrganization`, `removeOrganization`) or FOR SHARE (`create`, and
//    `update` with its organization). A login's write that starts a grace reads its organization without a lock.
//    `update` takes an account's new organization FOR KEY SHARE after the account: that waits only for a
//    transaction holding the organization FOR UPDATE, which locks only the organization's members, and the
//    account is not one of them yet;
// 2. throttle rows of keys: the key's own (subject, origin) row, or all of a subject's origins in origin order
//    (`clearAllAttempts`); a login deletes its key's row before it locks the account (`recordLogin`);
// 3. account rows, several in name order (an organization's members); a login or a code check locks one, its
//    throttle key's subject being the account's name;
// 4. the stand-in throttle row (subject, "a") of a name without an account;
// 5. the audit trail, last: see PostgresAccountStore+Audit.swift.
// Pruning quiet throttle rows takes only rows no one holds (SKIP LOCKED) and never waits.

/// A transaction in progress: statements and the decision to roll back instead of committing.
final class Transaction {
    let session: Session
    let location: PostgresLocation
    let counters: TransactionCounters
    /// Set by a body that decided to change nothing: the transaction is rolled back, not committed.
    var rollbackOnly = false

    init(session: Session, location: PostgresLocation, counters: TransactionCounters) {
        self.session = session
        self.location = location
        self.counters = counters
    }

    /// Runs a statement and returns its rows; a failure becomes `.storageFailure`, or `Retry` for a
    /// serialization failure or deadlock.
    func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        counters.statements.add(1, ordering: .relaxed)
        do {
            return try session.query(query)
        } catch {
            if error.isRetryable {
                if error.isDeadlock { counters.deadlocks.add(1, ordering: .relaxed) }
                throw Retry()
            }
            if error.mayMeanANewerSchema { throw UnknownToThisSchema(failure: error) }
            throw PostgresAccountStore.storageFailure(error, location: location)
        }
    }

    func execute(_ query: PostgresQuery) throws { _ = try rows(query) }

    /// COMMIT. Whatever fails here leaves the change in doubt: the server may have committed before the failure
    /// reached the store (a backend terminated while COMMIT waits for a synchronous standby has committed
    /// locally). So it is never run again, not even after a serialization failure, and its error says so.
    func commit() throws {
        counters.statements.add(1, ordering: .relaxed)
        do {
            _ = try session.query("COMMIT")
        } catch {
            throw AccountStoreError.storageFailure(
                "COMMIT on the PostgreSQL store \(location) failed (\(ConnectionPool.detail(of: error.error))): "
                    + "the change may or may not have been made: look before making it again"
            )
        }
    }

    /// BEGIN, and where the connections' startup parameters did not reach the server as sent (a pooler such as
    /// PgBouncer drops them), those parameters for this transaction alone: one round trip more, since PostgresNIO
    /// speaks only the extended protocol, one statement per query, one query at a time (docs/performance.md).
    func begin() throws {
        try execute("BEGIN")
        if session.pool.startupParametersDropped { try execute(session.pool.settingTransactionParameters) }
    }
}

/// What the store's transactions did, counted for tests.
final class TransactionCounters: Sendable {
    /// Account rows read `FOR UPDATE` (`PostgresAccountStore.lock`, `lockExistingAccount`).
    let accountRowsLocked = Atomic(0)
    /// Statements sent, each a round trip (`Transaction.rows`; BEGIN, the timeouts where set, and COMMIT included).
    let statements = Atomic(0)
    /// Statements the server failed to break a deadlock, each transaction then run again.
    let deadlocks = Atomic(0)
}

/// Thrown inside a transaction to have it run again.
struct Retry: Error {}

/// A statement met a table, column or type as this build does not know it: the store then asks whether a newer
/// twofactord migrated the schema meanwhile (`PostgresAccountStore.storeError(_:on:)`).
struct UnknownToThisSchema: Error {
    let failure: QueryFailure
}

extension PostgresAccountStore {
    /// How often a transaction that lost a serialization race or a deadlock is tried in all.
    static let attempts = 8

    /// The server's clock in Unix seconds, as SQL (the transaction's start). Together with the calling host's,
    /// it decides which rows every host shares are old enough to prune, so that one host's clock alone cannot
    /// (docs/fleet.md, "Clocks").
    static let serverTime = "extract(epoch FROM now())::bigint"

    /// Runs `body` in a read-write transaction and commits it; see the MUSTs at the top of this file.
    func write<Result>(_ body: (Transaction) throws -> Result) throws(AccountStoreError) -> Result {
        try pool.withConnection { (session: Session) throws(AccountStoreError) -> Result in
            try inTransaction(on: session, body)
        }
    }

    private func inTransaction<Result>(
        on session: Session,
        _ body: (Transaction) throws -> Result
    ) throws(AccountStoreError) -> Result {
        var attempt = 0
        while true {
            attempt += 1
            let transaction = Transaction(session: session, location: location, counters: counters)
            do {
                try transaction.begin()
                let result = try body(transaction)
                if transaction.rollbackOnly { try transaction.execute("ROLLBACK") } else { try transaction.commit() }
                return result
            } catch is Retry {
                rollback(session)
                if attempt >= Self.attempts {
                    throw .storageFailure(
                        "a transaction on \(location) kept colliding with other daemons (\(attempt) tries): "
                            + "retry; if this persists, check the server for long transactions"
                    )
                }
            } catch {
                rollback(session)
                throw storeError(error, on: session)
            }
        }
    }

    /// Runs `body` outside an explicit transaction: for single statements, which the server runs atomically. A
    /// read-only pool (`--check`) whose startup parameters a pooler dropped reads in a read-only transaction.
    /// `body` only reads (SELECT): it may run again on a new connection (`ConnectionPool.withConnection`).
    func read<Result>(_ body: (Transaction) throws -> Result) throws(AccountStoreError) -> Result {
        try pool.withConnection { (session: Session) throws(AccountStoreError) -> Result in
            if pool.readOnly && pool.startupParametersDropped { return try inTransaction(on: session, body) }
            var attempt = 0
            while true {
                attempt += 1
                do {
                    return try body(Transaction(session: session, location: location, counters: counters))
                } catch is Retry where attempt < Self.attempts {
                    continue
                } catch {
                    throw storeError(error, on: session)
                }
            }
        }
    }

    /// The store's error for what a body threw: the `AccountStoreError` its statements (`Transaction.rows`)
    /// and checks throw, or an error of PostgresNIO's own, untyped API (a column that does not decode). A
    /// statement that met an unknown table or column asks the schema's version on `session`, outside any
    /// transaction: a running daemon learns only so that a newer host migrated the schema it shares.
    private func storeError(_ error: any Error, on session: Session) -> AccountStoreError {
        if let unknown = error as? UnknownToThisSchema {
            return Migrations.newerSchema(on: session, of: location)
                ?? Self.storageFailure(unknown.failure, location: location)
        }
        return (error as? AccountStoreError) ?? .storageFailure("a statement on \(location) failed: \(error)")
    }

    private func rollback(_ session: Session) {
        // On a broken connection there is nothing to roll back: the server aborts the transaction itself.
        _ = try? session.query("ROLLBACK")
    }

    static func storageFailure(_ failure: QueryFailure, location: PostgresLocation) -> AccountStoreError {
        .storageFailure(ConnectionPool.message(for: failure.error, location: location, connecting: false))
    }
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}

extension Array where Element == UInt8 {
    var buffer: ByteBuffer { ByteBuffer(bytes: self) }
}
