import Glibc
import Synchronization

// MUSTs of the unknown-user cost:
// - the dummy scrypt of an unknown user runs at the cost real stored hashes have, not at the
//   configured cost: after an operator changes `--scrypt-log-n`, every stored hash keeps its old
//   cost until its next successful login, and a dummy at the new cost would tell unknown users apart;
// - the cost comes from hashes the daemon has actually handled (seeded once from the store, then each
//   account's hash as its logins meet it), one place per account, so that no request can choose it:
//   neither one account's many logins nor its password changes weigh more than any other account.

/// The scrypt costs of the stored hashes of the last accounts the process handled, and the most common of them.
final class StoredCostSample: Sendable {
    private struct State {
        /// Oldest first; at most one entry per owner.
        var entries: [(owner: String, cost: ScryptCost)] = []
        var seeded = false
    }

    static let capacity = 64
    private let state = Mutex(State())

    /// Remembers that `owner`'s stored hash has `cost`, in place of what was remembered of `owner`; the
    /// oldest of `capacity` owners is forgotten.
    func note(_ cost: ScryptCost, of owner: String) {
        state.withLock { state in
            state.entries.removeAll { $0.owner == owner }
            if state.entries.count == Self.capacity { state.entries.removeFirst() }
            state.entries.append((owner, cost))
        }
    }

    /// Runs `body` once per process, to learn the costs of hashes already stored.
    func seedOnce(_ body: () -> [(owner: String, cost: ScryptCost)]) {
        let first = state.withLock { state in
            defer { state.seeded = true }
            return !state.seeded
        }
        guard first else { return }
        for (owner, cost) in body() { note(cost, of: owner) }
    }

    /// The most common cost among those remembered (on a tie, the one seen last); nil before any.
    var mostCommon: ScryptCost? {
        state.withLock { state -> ScryptCost? in
            // Oldest to newest, so that `>=` lets the later of two equally common costs win.
            var counts: [ScryptCost: Int] = [:]
            var best: (cost: ScryptCost, count: Int)?
            for (_, cost) in state.entries {
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
