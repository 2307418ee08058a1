import Glibc
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing

@testable import Daemon

/// NSS lookups that hang (LDAP down) stand in for `OperatorPolicy.isOperator` here: the cache must keep its
/// queue of lookups bounded and one uid's hung lookup out of another uid's way.
@Suite struct OperatorCacheTests {
    /// A lookup that blocks the uids in `hung` until `release()`, and counts the lookups of each uid.
    final class SlowDirectory: Sendable {
        private let hung: Set<UInt32>
        private let operators: Set<UInt32>
        private let released = Mutex(false)
        private let counts = Mutex<[UInt32: Int]>([:])

        init(hung: Set<UInt32>, operators: Set<UInt32> = []) {
            self.hung = hung
            self.operators = operators
        }

        func isOperator(_ peer: PeerCredentials) -> Bool {
            counts.withLock { $0[peer.uid, default: 0] += 1 }
            while hung.contains(peer.uid), !released.withLock({ $0 }) { usleep(1000) }
            return operators.contains(peer.uid)
        }

        func release() { released.withLock { $0 = true } }
        func lookups(of uid: UInt32) -> Int { counts.withLock { $0[uid, default: 0] } }
    }

    private func peer(_ uid: UInt32) -> PeerCredentials { PeerCredentials(pid: 1, uid: uid, gid: uid) }

    @Test func hungLookup_isAskedOncePerUid_howeverManyConnectionsWaitOnIt() async throws {
        let directory = SlowDirectory(hung: [1000])
        let cache = OperatorCache(daemonUID: 999, lookupTimeout: .milliseconds(100), lookup: directory.isOperator)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let holders = (0..<50).map { _ in cache.holder(for: peer(1000), on: loop) }
        for holder in holders {
            #expect(try await holder.get() == ShareHolder(uid: 1000, isOperator: false), "served after the timeout")
        }
        directory.release()
        // A lookup asked for after them runs after every lookup queued before it (the pool's queue is first in,
        // first out; shutting it down would drop what waits).
        _ = try await cache.holder(for: peer(3000), on: loop).get()
        for _ in 0..<10_000 where directory.lookups(of: 3000) == 0 { usleep(1000) }
        try await cache.shutdown()
        #expect(directory.lookups(of: 1000) == 1, "one lookup, not one per connection that missed the cache")
    }

    @Test func hungLookup_ofOneUid_doesNotHoldUpAnotherUidsLookup() async throws {
        let directory = SlowDirectory(hung: [1000], operators: [2000])
        let cache = OperatorCache(daemonUID: 999, lookupTimeout: .hours(1), lookup: directory.isOperator)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let hung = cache.holder(for: peer(1000), on: loop)
        let other = try await cache.holder(for: peer(2000), on: loop).get()
        #expect(other == ShareHolder(uid: 2000, isOperator: true), "decided by its own lookup, not by the timeout")
        directory.release()
        _ = try await hung.get()
        try await cache.shutdown()
    }

    @Test func lookupsPastTheBound_orForAnotherGidOfAUidUnderWay_areServedAsNonOperators_withoutQueuing() async throws {
        let directory = SlowDirectory(hung: [1000, 1001], operators: [1000, 1002])
        let cache = OperatorCache(
            daemonUID: 999,
            lookupTimeout: .hours(1),
            maximumLookups: 2,
            lookup: directory.isOperator
        )
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let hung = [cache.holder(for: peer(1000), on: loop), cache.holder(for: peer(1001), on: loop)]
        let third = try await cache.holder(for: peer(1002), on: loop).get()
        #expect(third == ShareHolder(uid: 1002, isOperator: false))
        let otherGid = try await cache.holder(for: PeerCredentials(pid: 1, uid: 1000, gid: 5), on: loop).get()
        #expect(otherGid == ShareHolder(uid: 1000, isOperator: false))
        directory.release()
        #expect(try await hung[0].get() == ShareHolder(uid: 1000, isOperator: true), "its own lookup decides it")
        _ = try await hung[1].get()
        try await cache.shutdown()
        #expect(directory.lookups(of: 1002) == 0, "nothing was queued behind the hung lookups")
    }
}

/// A connection whose peer needs an operator lookup is charged to its uid from its accept
/// (`ConnectionRegistry.admit`), while the lookup, which may hang, decides where its place belongs.
@Suite struct ConnectionAdmissionTests {
    private func peer(_ uid: UInt32) -> PeerCredentials { PeerCredentials(pid: 1, uid: uid, gid: uid) }

    @Test func connectionsWaitingForTheirLookup_holdTheirUidsShare_andMoveToTheOperatorsPlacesIfOperators() async throws
    {
        let directory = OperatorCacheTests.SlowDirectory(hung: [1000], operators: [1000])
        let loop = NIOAsyncTestingEventLoop()
        let cache = OperatorCache(daemonUID: 999, lookupTimeout: .hours(1), lookup: directory.isOperator)
        let registry = ConnectionRegistry(limits: ShareLimits(total: 10, reservedForOperators: 2, perPeer: 3))
        let waiting = (0..<3).map { _ in
            registry.admit(NIOAsyncTestingChannel(loop: loop), of: peer(1000), operators: cache)
        }
        let (_, pastTheShare) = try await registry.admit(
            NIOAsyncTestingChannel(loop: loop),
            of: peer(1000),
            operators: cache
        )
        .get()
        #expect(pastTheShare == .peerShareExhausted, "refused while the lookup still hangs")
        directory.release()
        for admitted in waiting {
            let (holder, refusal) = try await admitted.get()
            #expect(holder == ShareHolder(uid: 1000, isOperator: true) && refusal == nil)
        }
        // Operators' places are bounded by the total only.
        let (_, more) = try await registry.admit(NIOAsyncTestingChannel(loop: loop), of: peer(1000), operators: cache)
            .get()
        #expect(more == nil)
        // The lookups' timeouts, cancelled or not, leave the loop before it goes.
        await loop.advanceTime(by: .hours(2))
        try await cache.shutdown()
    }

    /// An operator's uid holding more connections than a non-operator's share may open another one when its answer
    /// has expired: while the new lookup runs, the connection is charged as the last answer said, not as a
    /// non-operator past its share.
    @Test func anOperatorWithMoreConnectionsThanAShare_isAdmitted_whenItsAnswerHasExpired() async throws {
        let directory = OperatorCacheTests.SlowDirectory(hung: [], operators: [1000])
        let loop = NIOAsyncTestingEventLoop()
        let cache = OperatorCache(daemonUID: 999, lifetimeSeconds: 0, lookup: directory.isOperator)
        let registry = ConnectionRegistry(limits: ShareLimits(total: 10, reservedForOperators: 2, perPeer: 2))
        for index in 0..<4 {
            let (holder, refusal) = try await registry.admit(
                NIOAsyncTestingChannel(loop: loop),
                of: peer(1000),
                operators: cache
            )
            .get()
            #expect(refusal == nil, "connection \(index) refused: \(String(describing: refusal))")
            #expect(holder == ShareHolder(uid: 1000, isOperator: true))
        }
        #expect(directory.lookups(of: 1000) == 4, "each connection found the answer expired")
        await loop.advanceTime(by: .hours(2))
        try await cache.shutdown()
    }

    @Test func withTheNonOperatorPlacesFull_oneConnectionOfAUid_waitsForItsLookup_andGetsTheOperatorsPlaces()
        async throws
    {
        let directory = OperatorCacheTests.SlowDirectory(hung: [1000], operators: [1000])
        let loop = NIOAsyncTestingEventLoop()
        let cache = OperatorCache(daemonUID: 999, lookupTimeout: .hours(1), lookup: directory.isOperator)
        // Two places for non-operators, two kept for operators.
        let registry = ConnectionRegistry(limits: ShareLimits(total: 4, reservedForOperators: 2, perPeer: 2))
        for _ in 0..<2 {
            let (_, refusal) = try await registry.admit(
                NIOAsyncTestingChannel(loop: loop),
                of: peer(2000),
                operators: cache
            )
            .get()
            #expect(refusal == nil)
        }
        let waiting = registry.admit(NIOAsyncTestingChannel(loop: loop), of: peer(1000), operators: cache)
        let (_, second) = try await registry.admit(NIOAsyncTestingChannel(loop: loop), of: peer(1000), operators: cache)
            .get()
        #expect(second == .full, "one connection of a uid at a time waits without a place")
        directory.release()
        let (holder, refusal) = try await waiting.get()
        #expect(holder == ShareHolder(uid: 1000, isOperator: true) && refusal == nil)
        // The lookups' timeouts, cancelled or not, leave the loop before it goes.
        await loop.advanceTime(by: .hours(2))
        try await cache.shutdown()
    }
}
