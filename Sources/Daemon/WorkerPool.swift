import NIOCore
import NIOPosix
import Synchronization

/// The threads that do blocking work (scrypt, durable writes), with a bound on how much may wait.
///
/// Each running scrypt holds its full memory cost, so the thread count bounds memory; the queue
/// bound keeps a flood of requests from piling up unbounded work: past it, requests are answered `busy`.
final class WorkerPool: Sendable {
    struct Overloaded: Error, CustomStringConvertible {
        var description: String { "the daemon is busy: try again in a moment" }
    }

    private let pool: NIOThreadPool
    private let pending = Atomic<Int>(0)
    private let maximumPending: Int

    init(threads: Int, maximumQueued: Int) {
        self.pool = NIOThreadPool(numberOfThreads: max(1, threads))
        self.maximumPending = max(1, threads) + max(0, maximumQueued)
        pool.start()
    }

    func run<T: Sendable>(on eventLoop: EventLoop, _ body: @escaping @Sendable () -> T) -> EventLoopFuture<T> {
        guard pending.add(1, ordering: .relaxed).newValue <= maximumPending else {
            pending.subtract(1, ordering: .relaxed)
            return eventLoop.makeFailedFuture(Overloaded())
        }
        let result = pool.runIfActive(eventLoop: eventLoop, body)
        // Counted down when the future settles, so a job refused by a stopping pool is released too.
        result.whenComplete { _ in self.pending.subtract(1, ordering: .relaxed) }
        return result
    }

    func shutdown() async throws {
        try await pool.shutdownGracefully()
    }
}
