import Glibc
import LMDB
import Synchronization
import Testing
import TestSupport

// Group commit (LMDB/GroupCommit.swift): each test holds the writer busy with a first write whose body waits
// until the other writes are queued, so that they form one batch, deterministically.

private struct Refused: Error, Equatable {}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private final class Fixture: Sendable {
    let directory = TemporaryDirectory()
    let environment: Environment
    let database: Database

    init(maximumMapSize: Int = 1 << 30) throws {
        environment = try Environment(
            path: directory.path,
            mapSize: 1 << 20,
            maximumMapSize: maximumMapSize,
            maxDatabases: 4
        )
        let transaction = try environment.beginTransaction()
        database = try transaction.openDatabase(named: "test")
        try transaction.commit()
    }

    /// Starts a write that holds the writer until `count` more writes are queued behind it.
    func holdWriter(until count: Int) -> pthread_t {
        let started = Atomic(false)
        let thread = startThread { [self] in
            _ = try? environment.write { _ in
                started.store(true, ordering: .sequentiallyConsistent)
                while environment.writeStatistics.queued < count { sched_yield() }
            }
        }
        while !started.load(ordering: .sequentiallyConsistent) { sched_yield() }
        return thread
    }

    /// Runs `bodies` as concurrent writes, after a held write, and returns each one's outcome.
    func batch(
        _ bodies: [@Sendable (borrowing Transaction) throws -> Void]
    ) -> [Result<Void, TransactionError<any Error>>] {
        let holder = holdWriter(until: bodies.count)
        let outcomes = Mutex<[Int: Result<Void, TransactionError<any Error>>]>([:])
        let threads = bodies.enumerated().map { index, body in
            startThread { [self] in
                let outcome = Result { () throws(TransactionError<any Error>) in try environment.write(body) }
                outcomes.withLock { $0[index] = outcome }
            }
        }
        for thread in threads + [holder] { pthread_join(thread, nil) }
        return outcomes.withLock { all in bodies.indices.map { all[$0]! } }
    }

    func value(_ key: String) throws -> [UInt8]? {
        try environment.read { transaction in try transaction.get(bytes(key), in: database) }
    }
}

@Test func write_sameStepTwiceInOneBatch_exactlyOneWins() throws {
    let fixture = try Fixture()
    let database = fixture.database
    let before = fixture.environment.writeStatistics
    // The replay guard's shape: accept the step only if no step at least as late is recorded.
    let claim: @Sendable (borrowing Transaction) throws -> Void = { transaction in
        if try transaction.get(bytes("last-step"), in: database) != nil { throw Refused() }
        try transaction.put(bytes("100"), for: bytes("last-step"), in: database)
    }
    let outcomes = fixture.batch([claim, claim])

    #expect(outcomes.filter { (try? $0.get()) != nil }.count == 1)
    #expect(outcomes.filter { if case .failure(.body(let error)) = $0 { error is Refused } else { false } }.count == 1)
    #expect(try fixture.value("last-step") == bytes("100"))
    let after = fixture.environment.writeStatistics
    // The held write, which changes nothing and so is not written, then both claims in one commit.
    #expect(after.requests - before.requests == 3)
    #expect(after.commits - before.commits == 1)
}

@Test func write_failingRequestInABatch_leavesTheOthersApplied() throws {
    let fixture = try Fixture()
    let database = fixture.database
    let outcomes = fixture.batch([
        { transaction in try transaction.put(bytes("one"), for: bytes("k1"), in: database) },
        { transaction in
            try transaction.put(bytes("two"), for: bytes("k2"), in: database)
            try transaction.put(bytes("changed"), for: bytes("k1"), in: database)
            throw Refused()
        },
        { transaction in
            // Never sees the refused write's change (it may run before or after the first write).
            let first = try transaction.get(bytes("k1"), in: database)
            try transaction.put(first ?? bytes("missing"), for: bytes("k3"), in: database)
        },
    ])

    #expect((try? outcomes[0].get()) != nil)
    guard case .failure(.body(let refusal)) = outcomes[1], refusal is Refused else {
        Issue.record("the refused write did not report its body's error: \(outcomes[1])")
        return
    }
    #expect((try? outcomes[2].get()) != nil)
    #expect(try fixture.value("k1") == bytes("one"))
    #expect(try fixture.value("k2") == nil)
    #expect(try fixture.value("k3") == bytes("one") || fixture.value("k3") == bytes("missing"))
}

@Test func write_returnsOnlyAfterItsBatchCommitted() throws {
    let fixture = try Fixture()
    let environment = fixture.environment
    let database = fixture.database
    let early = Atomic(0)
    let threads = (0..<16).map { worker in
        startThread {
            for index in 0..<40 {
                let seen = Mutex((transaction: 0, commits: 0))
                try! environment.write { transaction in
                    seen.withLock { $0 = (transaction.id, environment.writeStatistics.commits) }
                    try transaction.put(bytes("\(index)"), for: bytes("w\(worker)"), in: database)
                }
                let (transaction, commits) = seen.withLock { $0 }
                // Durable means committed: the environment's last transaction is at least this write's, and
                // the writer counted the commit of this write's batch.
                let committed = try! environment.info().lastTransactionID
                if committed < transaction || environment.writeStatistics.commits <= commits {
                    early.add(1, ordering: .relaxed)
                }
            }
        }
    }
    for thread in threads { pthread_join(thread, nil) }

    #expect(early.load(ordering: .relaxed) == 0)
    let statistics = environment.writeStatistics
    #expect(statistics.requests == 16 * 40)
    // Callers outnumber commits: writes queued while the writer was busy shared a commit.
    #expect(statistics.commits < statistics.requests)
    #expect(try fixture.value("w15") == bytes("39"))
}

@Test func write_batchThatFillsTheMap_growsItAndAppliesEveryRequest() throws {
    let fixture = try Fixture()
    let database = fixture.database
    let big = [UInt8](repeating: 1, count: 600 << 10)
    let outcomes = fixture.batch(
        (0..<4).map { index in
            { transaction in try transaction.put(big, for: bytes("big\(index)"), in: database) }
        }
    )
    for outcome in outcomes { #expect((try? outcome.get()) != nil) }
    #expect(try fixture.environment.info().mapSize > 1 << 20)
    #expect(try fixture.value("big3")?.count == big.count)
}

/// The writer notices a full map where LMDB reports it, so a body that turns the error into one of its own (as
/// a store's body may) still has the map grown and its write applied.
@Test func write_bodyThatConvertsTheMapFullError_stillGrowsTheMapAndApplies() throws {
    let fixture = try Fixture()
    let database = fixture.database
    let big = [UInt8](repeating: 1, count: 600 << 10)
    let outcomes = fixture.batch(
        (0..<4).map { index in
            { transaction in
                do {
                    try transaction.put(big, for: bytes("big\(index)"), in: database)
                } catch {
                    throw Refused()
                }
            }
        }
    )
    for outcome in outcomes { #expect((try? outcome.get()) != nil) }
    #expect(try fixture.environment.info().mapSize > 1 << 20)
    #expect(try fixture.value("big3")?.count == big.count)
}

@Test func write_pastTheMaximumMapSize_failsTheWholeBatch_andNobodyReturnsSuccess() throws {
    let fixture = try Fixture(maximumMapSize: 2 << 20)
    let database = fixture.database
    let outcomes = fixture.batch([
        { transaction in try transaction.put(bytes("small"), for: bytes("small"), in: database) },
        { transaction in try transaction.put([UInt8](repeating: 1, count: 4 << 20), for: bytes("huge"), in: database) },
    ])
    // The batch could not be committed, so neither write may report success.
    for outcome in outcomes {
        guard case .failure(.storage(LMDBError.mapFull)) = outcome else {
            Issue.record("a write of a batch that cannot fit reported \(outcome)")
            continue
        }
    }
    #expect(try fixture.value("small") == nil)
    // The next write, alone, goes through.
    try fixture.environment.write { transaction in try transaction.put(bytes("v"), for: bytes("small"), in: database) }
    #expect(try fixture.value("small") == bytes("v"))
}

// Writes whose callers do not wait (`write(_:whenDurable:)`).

/// A one-shot flag a test thread can wait on, with a deadline so that a wrong writer order fails instead of hanging.
private final class Flag: Sendable {
    private let raised = Atomic(false)

    func raise() { raised.store(true, ordering: .sequentiallyConsistent) }

    /// Whether the flag was raised within `seconds`.
    func wait(seconds: Double) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let deadline = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 + seconds
        while !raised.load(ordering: .sequentiallyConsistent) {
            clock_gettime(CLOCK_MONOTONIC, &now)
            if Double(now.tv_sec) + Double(now.tv_nsec) / 1e9 > deadline { return false }
            usleep(1_000)
        }
        return true
    }
}

@Test func writeWhenDurable_reportsEachOutcomeOnlyAfterItsBatchCommitted() throws {
    let fixture = try Fixture()
    let environment = fixture.environment
    let database = fixture.database
    let early = Atomic(0)
    let reported = Atomic(0)
    let refusedAsThrown = Atomic(0)
    let lost = Atomic(0)
    let threads = (0..<16).map { worker in
        startThread {
            for index in 0..<40 {
                let done = Flag()
                let seen = Mutex((transaction: 0, commits: 0))
                environment.write(
                    { transaction in
                        seen.withLock { $0 = (transaction.id, environment.writeStatistics.commits) }
                        try transaction.put(bytes("\(index)"), for: bytes("w\(worker)"), in: database)
                        if index % 10 == 9 { throw Refused() }
                        return index
                    },
                    whenDurable: { outcome in
                        // A write that stored something is reported once it is committed (a refused one may
                        // have been alone in a batch that wrote nothing).
                        let (transaction, commits) = seen.withLock { $0 }
                        let committed = try! environment.info().lastTransactionID
                        if (try? outcome.get()) != nil,
                            committed < transaction || environment.writeStatistics.commits <= commits
                        {
                            early.add(1, ordering: .relaxed)
                        }
                        switch outcome {
                        case .success(let value) where value == index && index % 10 != 9:
                            reported.add(1, ordering: .relaxed)
                        case .failure(.body(let error)) where error is Refused && index % 10 == 9:
                            refusedAsThrown.add(1, ordering: .relaxed)
                        default:
                            break
                        }
                        done.raise()
                    }
                )
                if !done.wait(seconds: 30) {
                    lost.add(1, ordering: .relaxed)
                    return
                }
            }
        }
    }
    for thread in threads { pthread_join(thread, nil) }

    #expect(lost.load(ordering: .relaxed) == 0, "writes never reported")
    #expect(early.load(ordering: .relaxed) == 0)
    #expect(reported.load(ordering: .relaxed) == 16 * 36)
    #expect(refusedAsThrown.load(ordering: .relaxed) == 16 * 4)
    let statistics = environment.writeStatistics
    #expect(statistics.requests == 16 * 40)
    #expect(statistics.commits < statistics.requests)
    // The refused tenth write of each worker left the ninth's value.
    #expect(try fixture.value("w15") == bytes("38"))
}

/// A caller that waits and writes a batch leaves the writes queued behind it, whose callers do not wait, to a
/// thread of their own: here those writes cannot finish until that caller has returned.
@Test func aWaitingCallerThatWritesABatch_returns_withoutApplyingTheWritesOfCallersWhoDoNotWait() throws {
    let fixture = try Fixture()
    let environment = fixture.environment
    let database = fixture.database
    let queuedBehind = 4
    let writing = Flag()
    let waitingCallerReturned = Flag()
    let reported = Atomic(0)
    let heldUp = Atomic(0)
    let waiting = startThread {
        try! environment.write { transaction in
            writing.raise()
            while environment.writeStatistics.queued < queuedBehind { sched_yield() }
            try transaction.put(bytes("first"), for: bytes("waiting"), in: database)
        }
        waitingCallerReturned.raise()
    }
    try #require(writing.wait(seconds: 30))
    for index in 0..<queuedBehind {
        // The writer is busy: each is queued, and this thread goes on at once.
        environment.write(
            { transaction in
                if !waitingCallerReturned.wait(seconds: 2) { heldUp.add(1, ordering: .relaxed) }
                try transaction.put(bytes("\(index)"), for: bytes("d\(index)"), in: database)
            },
            whenDurable: { outcome in
                if (try? outcome.get()) != nil { reported.add(1, ordering: .relaxed) }
            }
        )
    }
    pthread_join(waiting, nil)
    let allReported = Flag()
    let watcher = startThread {
        while reported.load(ordering: .relaxed) < queuedBehind { usleep(1_000) }
        allReported.raise()
    }
    #expect(allReported.wait(seconds: 30))
    pthread_join(watcher, nil)
    #expect(heldUp.load(ordering: .relaxed) == 0)
    #expect(try fixture.value("waiting") == bytes("first"))
    for index in 0..<queuedBehind { #expect(try fixture.value("d\(index)") == bytes("\(index)")) }
}

/// A caller that does not wait and finds the writer free writes on: the batch of a waiting caller queued behind
/// it too, and that caller returns with its result.
@Test func aCallerWhoDoesNotWait_writesTheBatchOfAWaitingCallerQueuedBehindIt() throws {
    let fixture = try Fixture()
    let environment = fixture.environment
    let database = fixture.database
    let writing = Flag()
    let reported = Flag()
    let leader = startThread {
        environment.write(
            { transaction in
                writing.raise()
                while environment.writeStatistics.queued < 1 { sched_yield() }
                try transaction.put(bytes("first"), for: bytes("deferred"), in: database)
            },
            whenDurable: { outcome in if (try? outcome.get()) != nil { reported.raise() } }
        )
    }
    try #require(writing.wait(seconds: 30))
    let result = try environment.write { transaction in
        try transaction.put(bytes("second"), for: bytes("waiting"), in: database)
        return 2
    }
    pthread_join(leader, nil)
    #expect(result == 2)
    #expect(reported.wait(seconds: 30))
    #expect(try fixture.value("deferred") == bytes("first"))
    #expect(try fixture.value("waiting") == bytes("second"))
    #expect(fixture.environment.writeStatistics.commits == 2)
}
