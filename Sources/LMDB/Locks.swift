import Glibc

/// A pthread read/write lock that prefers writers, so a steady stream of readers cannot starve the
/// (rare) exclusive holder. Used to keep every transaction out while the LMDB map is resized, and (by
/// LMDBAccountStore) every write out while the secrets key is rotated.
package final class ReadWriteLock: @unchecked Sendable {
    // Heap-allocated because a pthread lock must not move; pthread makes it safe to share across threads.
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    package init() {
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        let result = pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
        precondition(result == 0, "pthread_rwlock_init failed: \(result)")
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    package func withShared<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    package func withExclusive<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}

/// A pthread mutex.
package final class Lock: @unchecked Sendable {
    // Heap-allocated because a pthread mutex must not move; pthread makes it safe to share across threads.
    fileprivate let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    package init() {
        let result = pthread_mutex_init(mutex, nil)
        precondition(result == 0, "pthread_mutex_init failed: \(result)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    package func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A pthread condition variable, always waited on with one `Lock` held.
final class Condition: @unchecked Sendable {
    // Heap-allocated because a pthread condition must not move; pthread makes it safe to share across threads.
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        let result = pthread_cond_init(condition, nil)
        precondition(result == 0, "pthread_cond_init failed: \(result)")
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
    }

    /// Waits for `signal()`; the caller holds `lock` (inside `lock.withLock`) and re-checks its predicate.
    func wait(_ lock: Lock) {
        pthread_cond_wait(condition, lock.mutex)
    }

    func signal() {
        pthread_cond_signal(condition)
    }
}
