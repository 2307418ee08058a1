import Glibc

// MUSTs of the hash slots (review of 2026-12-07, availability):
// - at most `count` derivations run at once, so the memory scrypt holds is bounded;
// - a freed slot goes to the owners that wait in turn, each owner's derivations in the order they came: one
//   owner's many waiting derivations delay another owner's by at most one per round. The daemon runs more
//   threads than slots (threads for requests that wait on a durable write), so without turns a uid that
//   keeps its share of the worker pool full of logins queued them all at the slots ahead of anyone else's.

extension PasswordHasher {
    /// Whom the derivations of the current thread are for: the daemon binds the uid a request is charged to
    /// around the request. Waiting derivations take turns by owner; unbound, they wait in a turn of their own.
    public static let slotOwner = TaskLocal<UInt32?>(wrappedValue: nil)
}

/// A counting semaphore over pthreads: at most `count` holders at once; the others wait, and get the slots
/// round-robin across owners.
final class HashSlots: @unchecked Sendable {
    // Heap-allocated because pthread objects must not move; pthread makes them safe to share across threads.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `mutex`.
    private var free: Int
    private var nextTicket: UInt64 = 0
    /// Each owner's waiting tickets, oldest first.
    private var waiting: [UInt32?: [UInt64]] = [:]
    /// The owners that wait, in the order they get the next slots.
    private var rotation: [UInt32?] = []
    /// Tickets given a slot whose waiter has not woken yet.
    private var granted: Set<UInt64> = []

    init(_ count: Int) {
        free = count
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Derivations waiting for a slot, for tests.
    var waitingCount: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return waiting.values.reduce(0) { $0 + $1.count }
    }

    func acquire(for owner: UInt32? = PasswordHasher.slotOwner.get()) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if free > 0, rotation.isEmpty {
            free -= 1
            return
        }
        let ticket = nextTicket
        nextTicket += 1
        if waiting[owner] == nil { rotation.append(owner) }
        waiting[owner, default: []].append(ticket)
        while !granted.contains(ticket) { pthread_cond_wait(condition, mutex) }
        granted.remove(ticket)
    }

    func release() {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        free += 1
        guard !rotation.isEmpty else { return }
        while free > 0, !rotation.isEmpty {
            let owner = rotation.removeFirst()
            var tickets = waiting[owner] ?? []
            granted.insert(tickets.removeFirst())
            free -= 1
            if tickets.isEmpty {
                waiting[owner] = nil
            } else {
                waiting[owner] = tickets
                rotation.append(owner)
            }
        }
        pthread_cond_broadcast(condition)
    }
}
