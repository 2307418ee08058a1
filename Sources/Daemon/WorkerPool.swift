import NIOCore
import NIOPosix
import Synchronization

/// The threads that do blocking work (scrypt, durable writes), with a bound on how much may wait
/// and a fair order between the peers that wait.
///
/// Each running scrypt holds its full memory cost, so the thread count bounds memory. Places in the
/// pool (running or waiting) are divided by `ShareLimits`: past a peer's share, or past the places
/// left to non-operators, a request is refused `busy` before it runs. Waiting jobs run round-robin
/// across uids: every pool slot takes whichever job is due when a thread gets to it, not the one
/// that queued the slot.
final class WorkerPool: Sendable {
    struct Overloaded: Error, CustomStringConvertible {
        let refusal: ShareRefusal
        var description: String { "the daemon is busy: try again in a moment" }
    }

    /// A queued request; `release` gives its place back and is called before its future settles,
    /// so that whoever sees the answer can use the place again at once.
    private struct Job: Sendable {
        let run: @Sendable (_ release: @escaping @Sendable () -> Void) -> Void
        let cancel: @Sendable (_ release: @escaping @Sendable () -> Void) -> Void
    }

    private let pool: NIOThreadPool
    private let queue: Mutex<FairQueue<Job>>
    let limits: ShareLimits

    /// `threads` run at once; up to `maximumQueued` more wait, shared out as `ShareLimits(total:)` says.
    convenience init(threads: Int, maximumQueued: Int) {
        let threads = max(1, threads)
        self.init(threads: threads, limits: ShareLimits(total: threads + max(0, maximumQueued)))
    }

    init(threads: Int, limits: ShareLimits) {
        self.pool = NIOThreadPool(numberOfThreads: max(1, threads))
        self.limits = limits
        self.queue = Mutex(FairQueue(limits: limits))
        pool.start()
    }

    /// Runs `body` on a worker for `holder`, or fails at once with `Overloaded` when its share is used up.
    func run<T: Sendable>(
        on eventLoop: EventLoop,
        for holder: ShareHolder = ShareHolder(uid: 0, isOperator: true),
        _ body: @escaping @Sendable () -> T
    ) -> EventLoopFuture<T> {
        run(on: eventLoop, for: holder, answering: { answer in answer(body()) })
    }

    /// `run` for a body that may answer after it returns (a write it does not wait for): it gets `answer`, to
    /// call once, from any thread. The request keeps its place in the pool until then.
    func run<T: Sendable>(
        on eventLoop: EventLoop,
        for holder: ShareHolder = ShareHolder(uid: 0, isOperator: true),
        answering body: @escaping @Sendable (_ answer: @escaping @Sendable (T) -> Void) -> Void
    ) -> EventLoopFuture<T> {
        let promise = eventLoop.makePromise(of: T.self)
        let job = Job(
            run: { release in
                body { value in
                    release()
                    promise.succeed(value)
                }
            },
            cancel: { release in
                release()
                promise.fail(NIOThreadPoolError.ThreadPoolInactive())
            }
        )
        if let refusal = queue.withLock({ $0.admit(job, for: holder) }) {
            promise.fail(Overloaded(refusal: refusal))
            return promise.futureResult
        }
        // One slot per admitted job; the slot runs the job that is due, which may be another peer's.
        pool.submit { state in
            guard let (holder, job) = self.queue.withLock({ $0.next() }) else { return }
            let release: @Sendable () -> Void = { self.queue.withLock { $0.finished(for: holder) } }
            if state == .active { job.run(release) } else { job.cancel(release) }
        }
        return promise.futureResult
    }

    func shutdown() async throws {
        try await pool.shutdownGracefully()
    }
}
