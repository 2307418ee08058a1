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
