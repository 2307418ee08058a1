import Glibc

/// Monotonic time and the few system facts the load generator reads, without Foundation.
public enum BenchClock {
    /// Nanoseconds on the monotonic clock: for latencies and run time, immune to clock steps.
    public static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Unix time in seconds, read exactly as the daemon reads it: `time()`, which glibc serves from
    /// the coarse real-time clock, a few milliseconds behind CLOCK_REALTIME. With the precise clock,
    /// a code for the next step sent just after a second began could be two steps ahead of the
    /// daemon's clock, outside its window, and be refused.
    public static func unixSeconds() -> Int64 { Int64(time(nil)) }

    /// Sleeps until the wall clock reaches the next whole second, where a new TOTP step starts, or
    /// until the monotonic clock reaches `end`, whichever comes first.
    static func sleepToNextSecond(orUntil end: UInt64) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        // 20 ms past the second, so the coarse clock of `unixSeconds` has surely moved on too.
        let toNextSecond = UInt64(1_000_000_000 - Int(now.tv_nsec)) + 20_000_000
        let current = nanoseconds()
        let toEnd = end > current ? end - current : 0
        usleep(UInt32(max(min(toNextSecond, toEnd) / 1000, 1)))
    }
}

/// Runs `body(index)` on `count` threads of their own and returns the results in index order.
/// The load generator's connections block on their sockets, so each gets a real thread rather
/// than a task on the cooperative pool (which has only as many threads as cores).
func onThreads<Result: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> Result) -> [Result] {
    let slots = (0..<count).map { ThreadSlot(index: $0, body: body) }
    var threads: [pthread_t] = []
    for slot in slots {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(slot as AnyObject).toOpaque()
        let status = pthread_create(
            &thread,
            nil,
            { raw in
                let slot = Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue() as! any ThreadRunnable
                slot.runOnThisThread()
                return nil
            },
            context
        )
        precondition(status == 0, "pthread_create failed: \(String(cString: strerror(status)))")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
    return slots.map { $0.result! }
}

private protocol ThreadRunnable: AnyObject {
    func runOnThisThread()
}

/// One thread's work and result. Unchecked Sendable: `result` is written by exactly one thread
/// before it ends and read only after pthread_join, which synchronises memory.
private final class ThreadSlot<Result: Sendable>: ThreadRunnable, @unchecked Sendable {
    var result: Result?
    let index: Int
    let body: @Sendable (Int) -> Result

    init(index: Int, body: @escaping @Sendable (Int) -> Result) {
        self.index = index
        self.body = body
    }

    func runOnThisThread() { result = body(index) }
}
