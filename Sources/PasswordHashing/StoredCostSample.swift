import Glibc
import Synchronization

// MUSTs of the unknown-user cost:
// - the dummy scrypt of an unknown user runs at the cost real stored hashes have, not at the
//   configured cost: after an operator changes `--scrypt-log-n`, every stored hash keeps its old
//   cost until its next successful login, and a dummy at the new cost would tell unknown users apart;
// - the cost comes from hashes the daemon has actually handled (seeded once from the store, then
//   every verify and every new hash), so no request can choose it.

/// The scrypt costs of the last stored hashes the process handled, and the most common of them.
final class StoredCostSample: Sendable {
    private struct State {
        var costs: [ScryptCost] = []
        var next = 0
        var seeded = false
    }

    static let capacity = 64
    private let state = Mutex(State())

    /// Remembers that a stored hash has `cost`; the oldest of `capacity` costs is forgotten.
    func note(_ cost: ScryptCost) {
        state.withLock { state in
            if state.costs.count < Self.capacity {
                state.costs.append(cost)
            } else {
                state.costs[state.next] = cost
            }
            state.next = (state.next + 1) % Self.capacity
        }
    }

    /// Runs `body` once per process, to learn the costs of hashes already stored.
    func seedOnce(_ body: () -> [ScryptCost]) {
        let first = state.withLock { state in
            defer { state.seeded = true }
            return !state.seeded
        }
        guard first else { return }
        for cost in body() { note(cost) }
    }

    /// The most common cost among those remembered (on a tie, the one seen last); nil before any.
    var mostCommon: ScryptCost? {
        state.withLock { state -> ScryptCost? in
            guard !state.costs.isEmpty else { return nil }
            // Oldest to newest, so that `>=` lets the later of two equally common costs win.
            let ordered =
                state.costs.count < Self.capacity
                ? state.costs : Array(state.costs[state.next...] + state.costs[..<state.next])
            var counts: [ScryptCost: Int] = [:]
            var best: (cost: ScryptCost, count: Int)?
            for cost in ordered {
                counts[cost, default: 0] += 1
                if let current = best, counts[cost]! < current.count { continue }
                best = (cost, counts[cost]!)
            }
            return best?.cost
        }
    }
}

/// A count of scrypt derivations, shared by the copies of one `PasswordHasher`.
final class DerivationCounter: Sendable {
    private let count = Atomic(0)

    func increment() {
        count.add(1, ordering: .relaxed)
    }

    var value: Int {
        count.load(ordering: .relaxed)
    }
}

/// A counting semaphore over pthreads: at most `count` holders at once, the others wait.
final class HashSlots: @unchecked Sendable {
    // Heap-allocated because pthread objects must not move; pthread makes them safe to share across threads.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var free: Int

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

    func acquire() {
        pthread_mutex_lock(mutex)
        while free == 0 { pthread_cond_wait(condition, mutex) }
        free -= 1
        pthread_mutex_unlock(mutex)
    }

    func release() {
        pthread_mutex_lock(mutex)
        free += 1
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }
}
