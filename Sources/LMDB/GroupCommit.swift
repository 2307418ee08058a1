import CLMDB
import Glibc

// MUSTs of the write path (every write through `Environment.write(_:)`):
// - one writer at a time applies the pending requests of many callers in one LMDB write transaction, each
//   request in its own nested transaction: a request whose body throws is rolled back alone, and every
//   request sees the changes of the requests before it in the batch (the same replay step twice: one wins);
// - the batch is committed once, with the environment's full sync, and only then does any caller of the
//   batch return: nobody learns that a change happened before it is on disk. When the commit fails, every
//   caller of the batch gets the error;
// - the batch closes when the writer is free: a lone request is applied at once and waits for nobody;
// - a caller that waits (`write(_:)`) and is handed the writer applies one batch, then hands the writer on:
//   to a waiting caller in the queue, else, when only writes whose callers do not wait are queued, to a
//   thread of its own. So a caller that waits is never held up by writes queued after its batch. One that does
//   not wait (`write(_:whenDurable:)`) and finds the writer free applies batches until the queue is empty;
//   its completion, and every other, runs only after its batch was committed, and must be short and must
//   not write (it runs on the writer's thread, between batches);
// - the map grows only while no transaction of this process is open (`mdb_env_set_mapsize`'s rule): every
//   transaction runs under `mapLock` shared and growing takes it exclusively. A batch that fills the map is
//   rolled back, the map doubled, and the whole batch applied again, so a body may run more than once and
//   must have no effects outside its transaction. A full map is noticed where LMDB reports it (`Transaction`
//   tells the writer), not from what the body throws: a body may catch or convert errors freely.

/// Counters of the group-commit writer, for tests and benchmarks.
public struct WriteStatistics: Sendable, Hashable {
    /// Write requests the writer applied (whether their body succeeded or threw).
    public var requests: Int
    /// Batches whose transaction was committed durably: those that changed something (LMDB neither writes nor
    /// syncs a transaction that changed nothing).
    public var commits: Int
    /// Writes waiting for the writer now (not counting the batch it is applying).
    public var queued: Int
}

/// One caller's write, waiting in the queue. Its fields are read and written with the queue's lock held,
/// except `error`, which only the writer of its batch sets before it marks the request done under the lock,
/// and `whenDone`, which only the writer runs once the request is done.
final class WriteRequest {
    enum State { case queued, leading, done }

    /// Runs the caller's body in its nested transaction and returns whether the body succeeded (its result or
    /// error stays with the caller's `write`). Dropped (by the writer, before the request is done) so that
    /// nothing holds the caller's closure once its `withoutActuallyEscaping` ends.
    var body: ((borrowing Transaction) -> Bool)?
    let wakeUp = Condition()
    var state = State.queued
    /// Why LMDB stored nothing of this write (its nested transaction or its batch's commit failed).
    var error: LMDBError?
    /// For a caller that does not wait: run by the writer, with `error`, once the request's batch was applied.
    var whenDone: ((LMDBError?) -> Void)?
    /// Whether a caller waits for the request (on `wakeUp`), rather than being told through `whenDone`.
    let callerWaits: Bool

    init(_ body: @escaping (borrowing Transaction) -> Bool, whenDone: ((LMDBError?) -> Void)? = nil) {
        self.body = body
        self.whenDone = whenDone
        self.callerWaits = whenDone == nil
    }
}

/// What the body of a write whose caller does not wait returned or threw, kept until the writer reports it.
/// Set and read only by the writer's thread.
final class DeferredOutcome<Value> {
    var value: Swift.Result<Value, any Error>?
}

/// Why a transaction of `Environment.read(_:)` or `write(_:)` changed nothing.
public enum TransactionError<Failure: Error>: Error {
    /// LMDB failed: the transaction could not begin or commit, or the map reached `maximumMapSize` (`.mapFull`).
    case storage(LMDBError)
    /// The body threw; its changes were rolled back.
    case body(Failure)
}

/// The queue of writes waiting for the writer. `@unchecked Sendable`: every field is guarded by `lock`.
final class WriteQueue: @unchecked Sendable {
    let lock = Lock()
    var pending: [WriteRequest] = []
    var writerBusy = false
    /// Set when an operation of the batch being applied found the map full (`Environment.noteMapFull()`).
    var mapFilled = false
    var requests = 0
    var commits = 0
}

extension Environment {
    /// Runs `body` in a write transaction and returns once its changes are durable.
    ///
    /// Writes of concurrent callers are applied together (group commit): `body` runs in a nested transaction
    /// (`mdb_txn_begin` with a parent) of a transaction shared with the other writes of its batch, possibly
    /// on another thread while this one waits, and the batch is committed with one `mdb_txn_commit`.
    /// An error thrown by `body` aborts only its own nested transaction and is rethrown as `.body`. `body` runs
    /// again when the batch had to be retried after the map grew. `.storage` means nothing of this write was
    /// stored (the batch's commit failed, or the map reached `maximumMapSize`: `.mapFull`).
    public func write<Result, Failure: Error>(
        _ body: (borrowing Transaction) throws(Failure) -> Result
    ) throws(TransactionError<Failure>) -> Result {
        var outcome: Swift.Result<Result, Failure>?
        let failure = withoutActuallyEscaping(body) { body -> LMDBError? in
            let request = WriteRequest { transaction in
                do throws(Failure) {
                    outcome = .success(try body(transaction))
                    return true
                } catch {
                    outcome = .failure(error)
                    return false
                }
            }
            submit(request)
            return request.error
        }
        if let failure { throw .storage(failure) }
        guard let outcome else { preconditionFailure("a write returned neither a result nor an error") }
        return try outcome.mapError { TransactionError.body($0) }.get()
    }

    /// `write(_:)` for a caller that does not wait: queues `body` and returns at once, possibly after applying
    /// batches itself when the writer was free. `completion` gets what `write(_:)` would have returned or
    /// thrown, once that is known and the change durable; it runs on the writer's thread, between batches,
    /// so it must be short and must not write.
    public func write<Result>(
        _ body: @escaping (borrowing Transaction) throws -> Result,
        whenDurable completion: @escaping (Swift.Result<Result, TransactionError<any Error>>) -> Void
    ) {
        let outcome = DeferredOutcome<Result>()
        let request = WriteRequest(
            { transaction in
                do {
                    outcome.value = .success(try body(transaction))
                    return true
                } catch {
                    outcome.value = .failure(error)
                    return false
                }
            },
            whenDone: { failure in
                if let failure { return completion(.failure(.storage(failure))) }
                guard let value = outcome.value else {
                    preconditionFailure("a write returned neither a result nor an error")
                }
                completion(value.mapError { TransactionError.body($0) })
            }
        )
        let leads = writeQueue.lock.withLock { () -> Bool in
            writeQueue.pending.append(request)
            if writeQueue.writerBusy { return false }
            writeQueue.writerBusy = true
            return true
        }
        if leads { lead(as: request) }
    }

    /// Runs `body` in a read-only transaction. A map grown by another process is adopted and the read retried;
    /// reader slots left by dead processes are cleared once when every slot is taken.
    public func read<Result, Failure: Error>(
        _ body: (borrowing Transaction) throws(Failure) -> Result
    ) throws(TransactionError<Failure>) -> Result {
        var checkedReaders = false
        while true {
            let outcome: Swift.Result<Result, Failure>
            do throws(LMDBError) {
                outcome = try mapLock.withShared { () throws(LMDBError) -> Swift.Result<Result, Failure> in
                    let transaction = try beginTransaction(readOnly: true)
                    do throws(Failure) {
                        let result = try body(transaction)
                        transaction.abort()
                        return .success(result)
                    } catch {
                        return .failure(error)
                    }
                }
            } catch {
                do throws(LMDBError) {
                    if error == .mapResized {
                        try adoptMapSize()
                        continue
                    }
                    if error == .readersFull && !checkedReaders {
                        checkedReaders = true
                        try readerCheck()
                        continue
                    }
                } catch {
                    throw .storage(error)
                }
                throw .storage(error)
            }
            return try outcome.mapError { TransactionError.body($0) }.get()
        }
    }

    /// How many writes were applied and in how many commits, since the environment was opened.
    public var writeStatistics: WriteStatistics {
        writeQueue.lock.withLock {
            WriteStatistics(
                requests: writeQueue.requests,
                commits: writeQueue.commits,
                queued: writeQueue.pending.count
            )
        }
    }

    /// Queues `request` and returns when its batch was applied; `request.error` then says whether LMDB failed.
    private func submit(_ request: WriteRequest) {
        let queue = writeQueue
        let leads = queue.lock.withLock { () -> Bool in
            queue.pending.append(request)
            if !queue.writerBusy {
                queue.writerBusy = true
                return true
            }
            while request.state == .queued { request.wakeUp.wait(queue.lock) }
            return request.state == .leading
        }
        if leads { lead(as: request) }
    }

    /// Applies the queued writes, batch after batch, as the file's MUSTs say: for `caller`, a request whose
    /// caller waits, one batch; for a caller that does not wait, or for a writer thread (nil), until the queue
    /// is empty.
    private func lead(as caller: WriteRequest?) {
        enum Next { case stop, applyNextBatch, startWriterThread }
        let queue = writeQueue
        let callerWaits = caller?.callerWaits ?? false
        while true {
            // Everything queued up to now is one batch.
            let batch = queue.lock.withLock { () -> [WriteRequest] in
                defer { queue.pending.removeAll(keepingCapacity: true) }
                return queue.pending
            }
            let wrote = apply(batch)
            for applied in batch { applied.body = nil }
            let next = queue.lock.withLock { () -> Next in
                queue.requests += batch.count
                if wrote { queue.commits += 1 }
                for request in batch {
                    request.state = .done
                    if request.callerWaits && request !== caller { request.wakeUp.signal() }
                }
                if queue.pending.isEmpty {
                    queue.writerBusy = false
                    return .stop
                }
                guard callerWaits else { return .applyNextBatch }
                // Whoever queued meanwhile is the next batch: a caller that waits writes it, else a thread.
                guard let waiting = queue.pending.first(where: \.callerWaits) else { return .startWriterThread }
                waiting.state = .leading
                waiting.wakeUp.signal()
                return .stop
            }
            for request in batch {
                request.whenDone?(request.error)
                request.whenDone = nil
            }
            switch next {
            case .stop: return
            case .applyNextBatch: continue
            case .startWriterThread:
                // Without a thread (the process is out of them), the caller applies the rest itself.
                if startWriterThread() { return }
            }
        }
    }

    /// Starts a thread that applies the queued writes until the queue is empty; false when none could start.
    private func startWriterThread() -> Bool {
        var thread = pthread_t()
        let environment = Unmanaged.passRetained(self).toOpaque()
        let started = pthread_create(
            &thread,
            nil,
            { raw in
                Unmanaged<Environment>.fromOpaque(raw!).takeRetainedValue().lead(as: nil)
                return nil
            },
            environment
        )
        guard started == 0 else {
            Unmanaged<Environment>.fromOpaque(environment).release()
            return false
        }
        pthread_detach(thread)
        return true
    }

    private enum BatchOutcome {
        /// Whether the transaction changed anything, and so was written and synced.
        case committed(wrote: Bool)
        case failed(LMDBError)
        case mapFull
        case mapResized
    }

    /// Applies and commits one batch, growing the map as needed; returns whether it wrote a durable commit.
    /// Every request that did not succeed has its `error` set.
    private func apply(_ batch: [WriteRequest]) -> Bool {
        while true {
            let outcome = mapLock.withShared { attempt(batch) }
            do throws(LMDBError) {
                switch outcome {
                case .committed(let wrote): return wrote
                case .failed(let error): throw error
                case .mapFull: try growMap()
                case .mapResized: try adoptMapSize()
                }
            } catch {
                for request in batch { request.error = error }
                return false
            }
        }
    }

    private func attempt(_ batch: [WriteRequest]) -> BatchOutcome {
        let transaction: Transaction
        do throws(LMDBError) {
            transaction = try beginTransaction()
        } catch {
            return Self.outcome(error)
        }
        writeQueue.lock.withLock { writeQueue.mapFilled = false }
        for request in batch {
            request.error = nil
            do throws(LMDBError) {
                let nested = try transaction.beginNested()
                if request.body?(nested) == true {
                    try nested.commit()
                } else {
                    nested.abort()
                }
            } catch  where error == .mapFull || error == .mapResized {
                // The whole batch is retried; `transaction` is aborted as it goes out of scope.
                return Self.outcome(error)
            } catch {
                request.error = error
            }
            if writeQueue.lock.withLock({ writeQueue.mapFilled }) { return .mapFull }
        }
        let previous: Int
        do throws(LMDBError) {
            previous = try info().lastTransactionID
            try transaction.commit()
        } catch {
            return Self.outcome(error)
        }
        return .committed(wrote: (try? info().lastTransactionID) != previous)
    }

    private static func outcome(_ error: LMDBError) -> BatchOutcome {
        switch error {
        case .mapFull: .mapFull
        case .mapResized: .mapResized
        default: .failed(error)
        }
    }

    /// Doubles the map, up to `maximumMapSize`, while no transaction of this process is open.
    private func growMap() throws(LMDBError) {
        try mapLock.withExclusive { () throws(LMDBError) in
            let current = try info().mapSize
            guard current < maximumMapSize else { throw .mapFull }
            try lmdbCall { mdb_env_set_mapsize(handle, min(current * 2, maximumMapSize)) }
        }
    }

    /// Tells the writer that an operation found the map full, so that it grows the map and applies the batch
    /// again, whatever the body then does with the error.
    func noteMapFull() {
        writeQueue.lock.withLock { writeQueue.mapFilled = true }
    }

    /// Adopts the larger map another process set (`mdb_env_set_mapsize` with 0).
    func adoptMapSize() throws(LMDBError) {
        try mapLock.withExclusive { () throws(LMDBError) in
            try lmdbCall { mdb_env_set_mapsize(handle, 0) }
        }
    }
}
