import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import Daemon

@Suite struct WorkerPoolTests {
    @Test func run_pastTheQueueBound_isOverloaded_andFreesItsPlaceWhenDone() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = WorkerPool(threads: 1, maximumQueued: 1)
        let loop = group.next()
        let gate = Gate()

        // One job runs (blocked on the gate), one waits: the pool is full.
        let running = pool.run(on: loop) { gate.wait() }
        let queued = pool.run(on: loop) { 2 }
        await #expect(throws: WorkerPool.Overloaded.self) { try await pool.run(on: loop) { 3 }.get() }

        gate.open()
        #expect(try await running.get() == 1)
        #expect(try await queued.get() == 2)
        #expect(try await pool.run(on: loop) { 4 }.get() == 4, "finished jobs give their places back")

        try await pool.shutdown()
        try await group.shutdownGracefully()
    }

    /// A request that answers after its body returned (a code check whose write is queued) keeps its place until
    /// it answers, though its thread is free meanwhile.
    @Test func runAnswering_holdsItsPlaceUntilItAnswers_notWhileItsThreadRuns() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = WorkerPool(threads: 1, maximumQueued: 1)
        let loop = group.next()
        let later = Mutex<(@Sendable (Int) -> Void)?>(nil)

        let first = pool.run(on: loop, answering: { answer in later.withLock { $0 = answer } })
        while later.withLock({ $0 == nil }) { try await Task.sleep(for: .milliseconds(1)) }
        // Its thread is free: a second request runs on it at once.
        #expect(try await pool.run(on: loop) { 2 }.get() == 2)
        // Its place is still held: with another one taken, the pool is full (a refusal comes at once).
        let gate = Gate()
        let running = pool.run(on: loop) { gate.wait() }
        let third = pool.run(on: loop) { 3 }
        gate.open()
        await #expect(throws: WorkerPool.Overloaded.self) { try await third.get() }
        #expect(try await running.get() == 1)

        later.withLock { $0?(1) }
        #expect(try await first.get() == 1)
        #expect(try await pool.run(on: loop) { 4 }.get() == 4, "answered requests give their places back")

        try await pool.shutdown()
        try await group.shutdownGracefully()
    }
}

/// Blocks a worker thread until the test opens it.
private final class Gate: Sendable {
    private let isOpen = Mutex(false)

    func wait() -> Int {
        while !isOpen.withLock({ $0 }) { usleep(1000) }
        return 1
    }

    func open() { isOpen.withLock { $0 = true } }
}
