// MUSTs of a shared resource (worker queue places, connections):
// - at most `total` places are held in all;
// - peers that are not operators hold at most `total - reservedForOperators` places together, and
//   one such uid at most `perPeer`: one local user can neither fill it for other users nor for root;
// - operators (root carries every login through PAM) are bounded by the total only; a login root
//   carries for an invoker (su, sudo) is charged to the invoker as a non-operator (`ShareHolder.charged`),
//   its worker place and its connection alike: su holds its connection while it asks for the code, for as
//   long as the user who ran it leaves the prompt;
// - a decision is a pure function of the counts: no clock, no I/O.

/// How a resource is divided between peers.
struct ShareLimits: Sendable, Equatable {
    var total: Int
    var reservedForOperators: Int
    var perPeer: Int

    /// `total` places, a tenth (at least one) kept for operators, and a quarter (at least one) per
    /// other uid, so that at least four users fit before any of them is refused.
    init(total: Int) {
        let total = max(2, total)
        let reserved = max(1, total / 10)
        self.init(total: total, reservedForOperators: reserved, perPeer: max(1, (total - reserved) / 4))
    }

    init(total: Int, reservedForOperators: Int, perPeer: Int) {
        self.total = max(1, total)
        self.reservedForOperators = min(max(0, reservedForOperators), self.total)
        self.perPeer = max(1, perPeer)
    }
}

/// Why a peer did not get a place.
enum ShareRefusal: Sendable, Equatable {
    /// This uid holds its whole share.
    case peerShareExhausted
    /// All places for non-operators (or all places) are taken.
    case full
}

/// Who holds a place: the uid from SO_PEERCRED, and whether it is an operator.
struct ShareHolder: Sendable, Hashable {
    var uid: UInt32
    var isOperator: Bool
}

/// The places held in a resource divided by `ShareLimits`.
struct ShareLedger: Sendable {
    let limits: ShareLimits
    private(set) var held = 0
    private(set) var heldByOthers = 0
    private var heldByUID: [UInt32: Int] = [:]

    init(limits: ShareLimits) {
        self.limits = limits
    }

    func held(by uid: UInt32) -> Int { heldByUID[uid] ?? 0 }

    /// Takes a place for `holder`, or says why not.
    mutating func acquire(for holder: ShareHolder) -> ShareRefusal? {
        guard held < limits.total else { return .full }
        if !holder.isOperator {
            guard held(by: holder.uid) < limits.perPeer else { return .peerShareExhausted }
            guard heldByOthers < limits.total - limits.reservedForOperators else { return .full }
            heldByOthers += 1
        }
        held += 1
        heldByUID[holder.uid, default: 0] += 1
        return nil
    }

    /// Gives back a place taken by `acquire(for:)`.
    mutating func release(for holder: ShareHolder) {
        guard let count = heldByUID[holder.uid], count > 0 else { return }
        heldByUID[holder.uid] = count == 1 ? nil : count - 1
        held -= 1
        if !holder.isOperator { heldByOthers -= 1 }
    }

    /// Hands a place `from` holds to `to`, or says why `to` has no room; then `from` keeps it.
    mutating func move(from: ShareHolder, to: ShareHolder) -> ShareRefusal? {
        guard from != to, held(by: from.uid) > 0 else { return nil }
        release(for: from)
        guard let refusal = acquire(for: to) else { return nil }
        // The place just given back is free, within every bound `from` had.
        _ = acquire(for: from)
        return refusal
    }
}

/// Jobs waiting for a worker, admitted by a `ShareLedger` and served round-robin across uids, so
/// that a uid with many waiting jobs delays another uid's job by at most one job per round.
struct FairQueue<Job> {
    private(set) var ledger: ShareLedger
    private var waiting: [UInt32: [(holder: ShareHolder, job: Job)]] = [:]
    /// The uids that have waiting jobs, in the order they are served next.
    private var rotation: [UInt32] = []

    init(limits: ShareLimits) {
        ledger = ShareLedger(limits: limits)
    }

    var waitingCount: Int { waiting.values.reduce(0) { $0 + $1.count } }

    /// Queues `job` when `holder` has room; its place is held until `finished(for:)`.
    mutating func admit(_ job: Job, for holder: ShareHolder) -> ShareRefusal? {
        if let refusal = ledger.acquire(for: holder) { return refusal }
        if waiting[holder.uid] == nil { rotation.append(holder.uid) }
        waiting[holder.uid, default: []].append((holder, job))
        return nil
    }

    /// The next job to run: the oldest of the uid whose turn it is.
    mutating func next() -> (holder: ShareHolder, job: Job)? {
        guard !rotation.isEmpty else { return nil }
        let uid = rotation.removeFirst()
        var jobs = waiting[uid] ?? []
        let first = jobs.removeFirst()
        if jobs.isEmpty {
            waiting[uid] = nil
        } else {
            waiting[uid] = jobs
            rotation.append(uid)
        }
        return first
    }

    /// A job taken by `next()` finished: its place is free again.
    mutating func finished(for holder: ShareHolder) {
        ledger.release(for: holder)
    }
}
