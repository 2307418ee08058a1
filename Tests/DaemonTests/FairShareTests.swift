import Authentication
import Testing

@testable import Daemon

@Suite struct FairShareTests {
    let nobody = ShareHolder(uid: 65534, isOperator: false)
    let alice = ShareHolder(uid: 1000, isOperator: false)
    let root = ShareHolder(uid: 0, isOperator: true)

    @Test func ledger_oneUID_getsItsShareOnly_andOthersStillGetPlaces() {
        var ledger = ShareLedger(limits: ShareLimits(total: 10, reservedForOperators: 2, perPeer: 3))
        for _ in 0..<3 { #expect(ledger.acquire(for: nobody) == nil) }
        #expect(ledger.acquire(for: nobody) == .peerShareExhausted)
        #expect(ledger.acquire(for: alice) == nil, "another user is not starved")
        #expect(ledger.acquire(for: root) == nil)
    }

    @Test func ledger_keepsPlacesForOperators_whenOtherUsersFillTheRest() {
        var ledger = ShareLedger(limits: ShareLimits(total: 6, reservedForOperators: 2, perPeer: 4))
        for _ in 0..<4 { #expect(ledger.acquire(for: nobody) == nil) }
        #expect(ledger.acquire(for: alice) == .full, "4 of 6 places is all that non-operators get")
        #expect(ledger.acquire(for: root) == nil)
        #expect(ledger.acquire(for: root) == nil)
        #expect(ledger.acquire(for: root) == .full, "the total binds operators too")
    }

    @Test func ledger_release_givesThePlaceBack_toTheSameUIDOnly() {
        var ledger = ShareLedger(limits: ShareLimits(total: 4, reservedForOperators: 0, perPeer: 1))
        #expect(ledger.acquire(for: nobody) == nil)
        #expect(ledger.acquire(for: nobody) == .peerShareExhausted)
        ledger.release(for: alice)  // alice holds nothing: must not free nobody's place
        #expect(ledger.acquire(for: nobody) == .peerShareExhausted)
        ledger.release(for: nobody)
        #expect(ledger.acquire(for: nobody) == nil)
        #expect(ledger.held == 1)
    }

    /// A connection root opened for su: its place goes to the user who ran su, within that user's share.
    @Test func ledger_move_chargesThePlaceToAnother_orLeavesItWhereItWas() {
        var ledger = ShareLedger(limits: ShareLimits(total: 6, reservedForOperators: 2, perPeer: 3))
        for _ in 0..<6 { #expect(ledger.acquire(for: root) == nil) }
        for _ in 0..<3 { #expect(ledger.move(from: root, to: nobody) == nil) }
        #expect(ledger.move(from: root, to: nobody) == .peerShareExhausted)
        #expect(ledger.held(by: root.uid) == 3 && ledger.held(by: nobody.uid) == 3 && ledger.held == 6)
        #expect(ledger.move(from: root, to: alice) == nil)
        #expect(ledger.move(from: root, to: alice) == .full, "non-operators hold 4 of 6 places at most")
        #expect(ledger.held(by: root.uid) == 2 && ledger.held(by: alice.uid) == 1 && ledger.held == 6)
        let stranger = ShareHolder(uid: 7, isOperator: false)
        #expect(ledger.move(from: stranger, to: alice) == nil, "a holder without a place has nothing to move")
        #expect(ledger.held(by: alice.uid) == 1 && ledger.held == 6)
    }

    @Test func limits_fromATotal_keepATenthForOperators_andAQuarterOfTheRestPerUID() {
        let limits = ShareLimits(total: 1000)
        #expect(limits.reservedForOperators == 100)
        #expect(limits.perPeer == 225)
        #expect(ShareLimits(total: 2).perPeer >= 1)
    }

    @Test func queue_servesUIDsRoundRobin_soAFloodDelaysOthersByOneJobPerRound() {
        var queue = FairQueue<String>(limits: ShareLimits(total: 100, reservedForOperators: 10, perPeer: 50))
        for index in 0..<20 { #expect(queue.admit("nobody \(index)", for: nobody) == nil) }
        #expect(queue.admit("root", for: root) == nil)
        #expect(queue.admit("alice", for: alice) == nil)
        let order = (0..<5).compactMap { _ in queue.next()?.job }
        #expect(order == ["nobody 0", "root", "alice", "nobody 1", "nobody 2"])
    }

    @Test func queue_refusesPastTheShare_beforeAnythingRuns_andFreesAFinishedPlace() throws {
        var queue = FairQueue<Int>(limits: ShareLimits(total: 10, reservedForOperators: 2, perPeer: 2))
        #expect(queue.admit(1, for: nobody) == nil)
        #expect(queue.admit(2, for: nobody) == nil)
        #expect(queue.admit(3, for: nobody) == .peerShareExhausted)
        #expect(queue.waitingCount == 2)
        let next = queue.next()
        let (holder, job) = try #require(next)
        #expect(job == 1)
        #expect(queue.admit(3, for: nobody) == .peerShareExhausted, "a running job still holds its place")
        queue.finished(for: holder)
        #expect(queue.admit(3, for: nobody) == nil)
    }

    @Test func logLimit_writesABudgetPerKey_thenCountsWhatItDrops() {
        var limit = WindowBudget<String>(interval: 60, perKey: 2)
        #expect(limit.spend("uid 65534", now: 0) == .granted(suppressedBefore: 0))
        #expect(limit.spend("uid 65534", now: 1) == .granted(suppressedBefore: 0))
        for second in 2..<60 {
            #expect(limit.spend("uid 65534", now: Int64(second)) == .exhausted(retryAfter: 60 - Int64(second)))
        }
        #expect(limit.spend("uid 1000", now: 30) == .granted(suppressedBefore: 0), "another key has its own budget")
        #expect(limit.spend("uid 65534", now: 60) == .granted(suppressedBefore: 58), "the next line reports the drops")
    }

    @Test func logLimit_boundsAllKeysTogether() {
        var limit = WindowBudget<String>(interval: 60, perKey: 5, inAll: 3)
        for uid in 0..<3 { #expect(limit.spend("uid \(uid)", now: 0) == .granted(suppressedBefore: 0)) }
        #expect(
            limit.spend("uid 99", now: 0) == .exhausted(retryAfter: 60),
            "many uids cannot add up to an unbounded log"
        )
        #expect(limit.spend("uid 99", now: 61) == .granted(suppressedBefore: 1))
    }
}
