import NIOCore
import NIOPosix
import Synchronization

/// Whether a peer is an operator (`OperatorPolicy`), decided when its connection is accepted and
/// remembered per uid and gid for a while, so that a flood of connections from one user costs one
/// NSS lookup, not one per connection. Lookups may block (LDAP, sssd), so they run on their own
/// thread, never on an event loop.
final class OperatorCache: Sendable {
    private struct Key: Hashable {
        var uid: UInt32
        var gid: UInt32
    }

    private let policy: OperatorPolicy
    private let lookups: NIOThreadPool
    private let answers = Mutex<[Key: (isOperator: Bool, until: Int64)]>([:])
    private let lifetime: Int64
    private let lookupTimeout = TimeAmount.seconds(2)

    init(policy: OperatorPolicy, lifetimeSeconds: Int64 = 30) {
        self.policy = policy
        self.lifetime = lifetimeSeconds
        self.lookups = NIOThreadPool(numberOfThreads: 1)
        lookups.start()
    }

    func holder(for peer: PeerCredentials, on eventLoop: EventLoop) -> EventLoopFuture<ShareHolder> {
        if peer.uid == 0 || peer.uid == policy.daemonUID {
            return eventLoop.makeSucceededFuture(ShareHolder(uid: peer.uid, isOperator: true))
        }
        let key = Key(uid: peer.uid, gid: peer.gid)
        let now = monotonicSeconds()
        if let known = answers.withLock({ $0[key] }), known.until > now {
            return eventLoop.makeSucceededFuture(ShareHolder(uid: peer.uid, isOperator: known.isOperator))
        }
        let policy = self.policy
        let lifetime = self.lifetime
        let decided = eventLoop.makePromise(of: ShareHolder.self)
        // A lookup that hangs (LDAP down) must not leave connections uncounted: after a while the
        // peer is served as a non-operator for the share decisions (Dispatcher still asks per request).
        let timeout = eventLoop.scheduleTask(in: lookupTimeout) {
            decided.succeed(ShareHolder(uid: peer.uid, isOperator: false))
        }
        lookups.runIfActive(eventLoop: eventLoop) { policy.isOperator(peer) }.whenComplete { result in
            timeout.cancel()
            let isOperator = (try? result.get()) ?? false
            self.answers.withLock { answers in
                if answers.count > 4096 { answers = answers.filter { $0.value.until > now } }
                answers[key] = (isOperator, now + lifetime)
            }
            decided.succeed(ShareHolder(uid: peer.uid, isOperator: isOperator))
        }
        return decided.futureResult
    }

    func shutdown() async throws {
        try await lookups.shutdownGracefully()
    }
}
