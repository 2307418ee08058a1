import AccountStore
import Glibc
import LMDB

/// The one read path and the one write path of `LMDBAccountStore`. Every transaction the store runs
/// starts here, and goes through the LMDB wrapper's `Environment.read(_:)` and `Environment.write(_:)`,
/// which keep the invariants (LMDB/GroupCommit.swift):
/// - the map grows only while no transaction of this process is open, and a full map grows and retries,
///   so a growing database never surfaces as an error;
/// - writes are group-committed: concurrent writes share one durable commit, each isolated in a nested
///   transaction, and none returns before that commit. A body may run more than once, so it must not have
///   effects outside the transaction.
/// LMDB errors become `AccountStoreError.storageFailure` with advice for the operator.
extension LMDBAccountStore {
    /// The largest map the store grows to before it reports the database as full.
    static let maximumMapSize = 1 << 40

    /// Runs `body` in a read-only transaction. `body` may throw `LMDBError` or `AccountStoreError`.
    func read<Result>(_ body: (borrowing Transaction) throws -> Result) throws(AccountStoreError) -> Result {
        do {
            return try environment.read(body)
        } catch {
            throw storeError(error)
        }
    }

    /// Runs `body` in a write transaction and returns when its changes are durable; body may run again after
    /// the map grows, so it must not have effects outside the transaction. Throwing from `body` rolls back its
    /// changes (and no other write's).
    func write<Result>(_ body: (borrowing Transaction) throws -> Result) throws(AccountStoreError) -> Result {
        try writerLock.withShared { () throws(AccountStoreError) -> Result in try writeHoldingWriterLock(body) }
    }

    /// `write`, for a caller that holds `writerLock` exclusively (the key rotation).
    func writeHoldingWriterLock<Result>(
        _ body: (borrowing Transaction) throws -> Result
    ) throws(AccountStoreError) -> Result {
        do {
            return try environment.write(body)
        } catch {
            throw storeError(error)
        }
    }

    private func storeError(_ error: TransactionError<any Error>) -> AccountStoreError {
        Self.storeError(error, directory: directory)
    }

    static func storeError(_ error: TransactionError<any Error>, directory: String) -> AccountStoreError {
        switch error {
        case .storage(let error): storageFailure(error, directory: directory)
        case .body(let error): storeError(error, directory: directory)
        }
    }

    /// The one place where what a body of this store threw becomes the store's error: the `LMDBError` of one of
    /// its transaction's operations, or an `AccountStoreError` of its own checks (bodies throw nothing else).
    static func storeError(_ error: any Error, directory: String) -> AccountStoreError {
        switch error {
        case let error as AccountStoreError: error
        case let error as LMDBError: storageFailure(error, directory: directory)
        default: .storageFailure("unexpected error in \(directory): \(error): restart twofactord")
        }
    }

    func storageFailure(_ error: LMDBError) -> AccountStoreError {
        Self.storageFailure(error, directory: directory)
    }

    /// An operator-facing message for a storage error: what failed, and what to do about it.
    static func storageFailure(_ error: LMDBError, directory: String) -> AccountStoreError {
        let advice: String
        switch error.code {
        case EACCES, EPERM, EROFS:
            advice = "check that \(directory) and its files belong to the user running twofactord and are writable"
        case ENOSPC, EDQUOT:
            advice = "free space on the file system holding \(directory), then retry"
        case EIO:
            advice = "the disk reported an I/O error: check it (dmesg), then restore \(directory) from a backup"
        case ENOMEM:
            advice = "the system is out of memory: free memory, then restart twofactord"
        case LMDBError.panic.code:
            advice = "restart twofactord; if this persists, restore \(directory) from a backup"
        case LMDBError.truncated.code:
            advice =
                "\(directory)/data.mdb is truncated: move its data.mdb and lock.mdb away, then restore it from a "
                + "backup (twofactord --state-dir \(directory) --restore-from FILE)"
        case LMDBError.corrupted.code, LMDBError.invalid.code, LMDBError.versionMismatch.code:
            advice = "the database in \(directory) is damaged or not a twofactord database: restore it from a backup"
        case LMDBError.readersFull.code:
            advice = "too many concurrent readers: restart twofactord"
        case LMDBError.mapFull.code:
            advice =
                "the database in \(directory) reached the most twofactord maps "
                + "(\(maximumMapSize >> 30) GiB): remove unused accounts or restore a backup"
        default:
            advice = "check \(directory) and the system log, then restart twofactord"
        }
        return .storageFailure("storage error in \(directory): \(error): \(advice)")
    }
}
