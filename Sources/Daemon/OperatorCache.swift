import NIOCore
import NIOPosix
import Synchronization

// MUSTs of the operator cache:
// - a lookup (NSS: LDAP, sssd) never runs on an event loop, and at most one runs per uid: the connections of a
//   uid whose lookup is under way wait on that one, so a hung NSS costs a flood of connections one lookup;
// - a lookup never waits for a thread: at most `maximumLookups` run at once, each on its own thread, so one
//   uid's hung lookup delays no other uid's; past them, and for a uid whose lookup is still under way past
//   the timeout, the peer is served as a non-operator at once;
// - no connection or request waits on a lookup for longer than the timeout;
// - an answer serves for `lifetime` seconds, then the next connection or request looks again: a change to
//   the group takes effect within that time.

/// Whether a peer is an operator (`OperatorPolicy`), decided when its connection is accepted and
/// remembered per uid and gid for a while, so that a flood of connections or requests from one user costs
/// one NSS lookup, not one per connection or request. The Dispatcher asks it too (`isOperator`), for the
/// privileges of each request. Lookups may block (LDAP, sssd), so they run on their own threads, never on an
/// event loop or a worker.
final class OperatorCache: Sendable {
    private struct Key: Hashable {
        var uid: UInt32
        var gid: UInt32
    }

    /// The lookup under way for a uid: for whose gid, and the decision the connections that wait on it get
    /// (the lookup's answer, or non-operator once the timeout passed).
    private struct Lookup {
        var gid: UInt32
        var decided: EventLoopFuture<Bool>
    }

    private struct State {
        var answers: [Key: (isOperator: Bool, until: Int64)] = [:]
        var running: [UInt32: Lookup] = [:]
    }

    private let lookup: @Sendable (PeerCredentials) -> Bool
    private let daemonUID: UInt32
    private let lookups: NIOThreadPool
    private let maximumLookups: Int
    private let state = Mutex(State())
    private let lifetime: Int64
    private let lookupTimeout: TimeAmount

    convenience init(policy: OperatorPolicy, lifetimeSeconds: Int64 = 30) {
        self.init(daemonUID: policy.daemonUID, lifetimeSeconds: lifetimeSeconds, lookup: policy.isOperator)
    }

    /// `lookup` decides a peer that is neither root nor the daemon's user (`OperatorPolicy.isOperator`; a test's stand-in).
    init(
        daemonUID: UInt32,
        lifetimeSeconds: Int64 = 30,
        lookupTimeout: TimeAmount = .seconds(2),
        maximumLookups: Int = 4,
        lookup: @escaping @Sendable (PeerCredentials) -> Bool
    ) {
        self.lookup = lookup
        self.daemonUID = daemonUID
        self.lifetime = lifetimeSeconds
        self.lookupTimeout = lookupTimeout
        self.maximumLookups = max(1, maximumLookups)
        self.lookups = NIOThreadPool(numberOfThreads: self.maximumLookups)
        lookups.start()
    }

    /// Whether `peer` is an operator, for a request on a worker thread (never an event loop): the answer cached
    /// for its uid and gid, or that of the lookup under way for its uid, waited for at most the lookup timeout;
    /// no past the timeout or the bound on lookups, as for a connection.
    func isOperator(_ peer: PeerCredentials) -> Bool {
        // Without a future when the answer is known: waiting on even a fulfilled one hops to its event loop and
        // back, a wake-up of another thread for every request (a fifth of the code checks per second).
        if let known = knownHolder(for: peer) { return known.isOperator }
        return (try? holder(for: peer, on: MultiThreadedEventLoopGroup.singleton.any()).wait().isOperator) ?? false
    }

    /// Whether `peer` is an operator when that needs no lookup: root, the daemon's user, or an answer still fresh.
    func knownHolder(for peer: PeerCredentials) -> ShareHolder? {
        if peer.uid == 0 || peer.uid == daemonUID { return ShareHolder(uid: peer.uid, isOperator: true) }
        let now = monotonicSeconds()
        guard let known = state.withLock({ $0.answers[Key(uid: peer.uid, gid: peer.gid)] }), known.until > now else {
            return nil
        }
        return ShareHolder(uid: peer.uid, isOperator: known.isOperator)
    }

    /// Whom a connection of `peer` is charged to while its lookup runs: as the last answer for its uid and gid
    /// said, however old (a group change shows once the lookup ends), else as a non-operator. For share
    /// decisions only: rights wait for the lookup (`isOperator`).
    func provisionalHolder(for peer: PeerCredentials) -> ShareHolder {
        let last = state.withLock { $0.answers[Key(uid: peer.uid, gid: peer.gid)]?.isOperator }
        return ShareHolder(uid: peer.uid, isOperator: last ?? false)
    }

    func holder(for peer: PeerCredentials, on eventLoop: EventLoop) -> EventLoopFuture<ShareHolder> {
        if let known = knownHolder(for: peer) { return eventLoop.makeSucceededFuture(known) }
        let key = Key(uid: peer.uid, gid: peer.gid)
        let now = monotonicSeconds()
        enum Next {
            case known(Bool)
            case wait(EventLoopFuture<Bool>)
            case lookUp(EventLoopPromise<Bool>)
        }
        let next = state.withLock { state -> Next in
            if let known = state.answers[key], known.until > now { return .known(known.isOperator) }
            if let running = state.running[peer.uid] {
                // Another gid of the same uid (a setgid program) gets no lookup of its own while one runs.
                return running.gid == peer.gid ? .wait(running.decided) : .known(false)
            }
            guard state.running.count < maximumLookups else { return .known(false) }
            let decided = eventLoop.makePromise(of: Bool.self)
            state.running[peer.uid] = Lookup(gid: peer.gid, decided: decided.futureResult)
            return .lookUp(decided)
        }
        switch next {
        case .known(let isOperator):
            return eventLoop.makeSucceededFuture(ShareHolder(uid: peer.uid, isOperator: isOperator))
        case .wait(let decided):
            return decided.hop(to: eventLoop).map { ShareHolder(uid: peer.uid, isOperator: $0) }
        case .lookUp(let decided):
            start(for: peer, key: key, now: now, deciding: decided, on: eventLoop)
            return decided.futureResult.map { ShareHolder(uid: peer.uid, isOperator: $0) }
        }
    }

    private func start(
        for peer: PeerCredentials,
        key: Key,
        now: Int64,
        deciding decided: EventLoopPromise<Bool>,
        on eventLoop: EventLoop
    ) {
        let lookup = self.lookup
        let lifetime = self.lifetime
        // A lookup that hangs (LDAP down) must not leave connections uncounted: after a while the
        // peer is served as a non-operator for the share decisions (Dispatcher still asks per request),
        // and so is every later connection of its uid until the lookup ends.
        let timeout = eventLoop.scheduleTask(in: lookupTimeout) {
            decided.succeed(false)
        }
        lookups.runIfActive(eventLoop: eventLoop) { lookup(peer) }.whenComplete { result in
            timeout.cancel()
            let isOperator = (try? result.get()) ?? false
            // An answer serves for `lifetime` from when it came, however long the lookup took.
            let answered = monotonicSeconds()
            self.state.withLock { state in
                if state.answers.count > 4096 { state.answers = state.answers.filter { $0.value.until > answered } }
                state.answers[key] = (isOperator, answered + lifetime)
                state.running[peer.uid] = nil
            }
            // Ignored when the timeout decided first.
            decided.succeed(isOperator)
        }
    }

    func shutdown() async throws {
        try await lookups.shutdownGracefully()
    }
}
