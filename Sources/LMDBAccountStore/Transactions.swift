import AccountStore
import Glibc
import LMDB

/// The one read path and the one write path of `LMDBAccountStore`. Every transaction the store runs
/// starts here, which keeps three invariants in one place:
/// - every transaction holds `mapLock` shared, so growing the map (which holds it exclusively) never
///   runs while a transaction is active in this process, as `mdb_env_set_mapsize` requires;
/// - every write holds `writerLock` for the whole attempt, including retries, so that a batching writer
///   (group commit of replay steps) can later be added here and nowhere else;
/// - `MDB_MAP_FULL` grows the map and retries the whole transaction, so a growing database never
///   surfaces as an error; other LMDB errors become `AccountStoreError.storageFailure`.
extension LMDBAccountStore {
    /// The largest map the store grows to before it reports the database as full.
    static let maximumMapSize = 1 << 40

    private enum Attempt<Result> {
        case done(Result)
        case failed(AccountStoreError)
        case mapFull
        case mapResized
        case readersFull
    }

    /// Runs `body` in a read-only transaction. `body` may throw `LMDBError` or `AccountStoreError`.
    func read<Result>(_ body: (borrowing Transaction) throws -> Result) throws(AccountStoreError) -> Result {
        var checkedReaders = false
        while true {
            switch mapLock.withShared({ attempt(readOnly: true, body) }) {
            case .done(let result): return result
            case .failed(let error): throw error
            case .mapFull: throw storageFailure(.mapFull)
            case .mapResized: try adoptMapSize()
            case .readersFull:
                // Slots held by dead processes are the likely cause; clear them once, then give up.
                guard !checkedReaders else { throw storageFailure(.readersFull) }
                checkedReaders = true
                do throws(LMDBError) { try environment.readerCheck() } catch { throw storageFailure(error) }
            }
        }
    }

    /// Runs `body` in a write transaction and commits it durably; body may run again after the map grows,
    /// so it must not have effects outside the transaction. Throwing from `body` aborts the transaction.
    func write<Result>(_ body: (borrowing Transaction) throws -> Result) throws(AccountStoreError) -> Result {
        try writerLock.withLock { () throws(AccountStoreError) -> Result in
            while true {
                switch mapLock.withShared({ attempt(readOnly: false, body) }) {
                case .done(let result): return result
                case .failed(let error): throw error
                case .mapFull: try growMap()
                case .mapResized: try adoptMapSize()
                case .readersFull: throw storageFailure(.readersFull)
                }
            }
        }
    }

    private func attempt<Result>(
        readOnly: Bool,
        _ body: (borrowing Transaction) throws -> Result
    ) -> Attempt<Result> {
        do {
            let transaction = try environment.beginTransaction(readOnly: readOnly)
            // A throw from here on destroys `transaction`, whose deinit aborts it.
            let result = try body(transaction)
            if readOnly {
                transaction.abort()
            } else {
                try transaction.commit()
            }
            return .done(result)
        } catch let error as LMDBError {
            switch error {
            case .mapFull: return .mapFull
            case .mapResized: return .mapResized
            case .readersFull: return .readersFull
            default: return .failed(storageFailure(error))
            }
        } catch let error as AccountStoreError {
            return .failed(error)
        } catch {
            return .failed(.rejected(error))
        }
    }

    /// Doubles the map size while no transaction is active in this process.
    private func growMap() throws(AccountStoreError) {
        try mapLock.withExclusive { () throws(AccountStoreError) in
            do {
                let current = try environment.info().mapSize
                guard current < Self.maximumMapSize else {
                    throw AccountStoreError.storageFailure(
                        "the database in \(directory) reached \(current >> 20) MiB, the most twofactord maps: "
                            + "remove unused accounts or restore a backup"
                    )
                }
                try environment.setMapSize(min(current * 2, Self.maximumMapSize))
            } catch let error as LMDBError {
                throw storageFailure(error)
            } catch let error as AccountStoreError {
                throw error
            } catch {
                throw .rejected(error)
            }
        }
    }

    /// Adopts the larger map size another process set (`mdb_env_set_mapsize` with 0).
    private func adoptMapSize() throws(AccountStoreError) {
        try mapLock.withExclusive { () throws(AccountStoreError) in
            do throws(LMDBError) { try environment.setMapSize(0) } catch { throw storageFailure(error) }
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
        case LMDBError.corrupted.code, LMDBError.invalid.code, LMDBError.versionMismatch.code:
            advice = "the database in \(directory) is damaged or not a twofactord database: restore it from a backup"
        case LMDBError.readersFull.code:
            advice = "too many concurrent readers: restart twofactord"
        case LMDBError.mapFull.code:
            advice = "the database in \(directory) is full: restart twofactord to grow it"
        default:
            advice = "check \(directory) and the system log, then restart twofactord"
        }
        return .storageFailure("storage error in \(directory): \(error): \(advice)")
    }
}
