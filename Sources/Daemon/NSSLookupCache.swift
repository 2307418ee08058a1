import NIOCore
import NIOPosix
import Synchronization

// MUSTs of the lookup cache:
// - a lookup (NSS: LDAP, sssd) never runs on an event loop, and at most one runs per uid: the connections and
//   requests of a uid whose lookup is under way wait on that one, so a hung NSS costs a flood one lookup;
// - a lookup never waits for a thread: at most `maximumLookups` run at once, each on its own thread, so one
//   uid's hung lookup delays no other uid's; past them, and for a uid whose lookup is still under way past
//   the timeout, the peer gets the refusing answer at once;
// - no connection or request waits on a lookup for longer than the timeout;
// - a lookup that fails or hangs gives the refusing answer, never one that grants anything;
// - an answer serves for `lifetime` seconds from when it came, then the next connection or request looks
//   again: a change to the passwd or group database takes effect within that time.

/// An NSS answer about a peer (`OperatorCache`: whether it is an operator; `Dispatcher.loginNames`: its login
/// name), remembered per uid and gid for a while, so that a flood of connections or requests from one user costs
/// one NSS lookup, not one per connection or request. Lookups may block (LDAP, sssd), so they run on their own
/// threads, never on an event loop or a worker.
final class NSSLookupCache<Answer: Sendable>: Sendable {
    private struct Key: Hashable {
        var uid: UInt32
        var gid: UInt32
    }

    /// The lookup under way for a uid: for whose gid, and the answer the connections and requests that wait on
    /// it get (the lookup's, or the refusing one once the timeout passed).
    private struct Lookup {
        var gid: UInt32
        var decided: EventLoopFuture<Answer>
    }

    /// What a connection or request does about its answer.
    private enum Next {
        case known(Answer)
        case wait(EventLoopFuture<Answer>)
        case lookUp(EventLoopPromise<Answer>)
    }

    private struct State {
        var answers: [Key: (answer: Answer, until: Int64)] = [:]
        var running: [UInt32: Lookup] = [:]
    }

    private let lookup: @Sendable (PeerCredentials) -> Answer
    /// What a peer gets when no lookup answered in time: the answer that grants nothing.
    private let refusal: Answer
    private let lookups: NIOThreadPool
    private let maximumLookups: Int
    private let state = Mutex(State())
    private let lifetime: Int64
    private let lookupTimeout: TimeAmount

    /// `lookup` asks NSS about a peer (it may block); `refusal` is the answer that grants nothing.
    init(
        refusal: Answer,
        lifetimeSeconds: Int64 = 30,
        lookupTimeout: TimeAmount = .seconds(2),
        maximumLookups: Int = 4,
        lookup: @escaping @Sendable (PeerCredentials) -> Answer
    ) {
        self.lookup = lookup
        self.refusal = refusal
        self.lifetime = lifetimeSeconds
        self.lookupTimeout = lookupTimeout
        self.maximumLookups = max(1, maximumLookups)
        self.lookups = NIOThreadPool(numberOfThreads: self.maximumLookups)
        lookups.start()
    }

    /// The answer for `peer`, for a request on a worker thread (never an event loop): the one cached for its uid
    /// and gid, or that of the lookup under way for its uid, waited for at most the lookup timeout; the refusing
    /// answer past the timeout or the bound on lookups.
    func answer(for peer: PeerCredentials) -> Answer {
        // Without a future when the answer is known: waiting on even a fulfilled one hops to its event loop and
        // back, a wake-up of another thread for every request (a fifth of the code checks per second).
        if let known = known(for: peer) { return known }
        return (try? answer(for: peer, on: MultiThreadedEventLoopGroup.singleton.any()).wait()) ?? refusal
    }

    /// The answer for `peer` while it is fresh, else nil.
    func known(for peer: PeerCredentials) -> Answer? {
        let now = monotonicSeconds()
        guard let known = state.withLock({ $0.answers[Key(uid: peer.uid, gid: peer.gid)] }), known.until > now else {
            return nil
        }
        return known.answer
    }

    /// The last answer for `peer`, however old, or nil when it never had one.
    func last(for peer: PeerCredentials) -> Answer? {
        state.withLock { $0.answers[Key(uid: peer.uid, gid: peer.gid)]?.answer }
    }

    func answer(for peer: PeerCredentials, on eventLoop: EventLoop) -> EventLoopFuture<Answer> {
        let key = Key(uid: peer.uid, gid: peer.gid)
        let now = monotonicSeconds()
        let next = state.withLock { state -> Next in
            if let known = state.answers[key], known.until > now { return .known(known.answer) }
            if let running = state.running[peer.uid] {
                // Another gid of the same uid (a setgid program) gets no lookup of its own while one runs.
                return running.gid == peer.gid ? .wait(running.decided) : .known(refusal)
            }
            guard state.running.count < maximumLookups else { return .known(refusal) }
            let decided = eventLoop.makePromise(of: Answer.self)
            state.running[peer.uid] = Lookup(gid: peer.gid, decided: decided.futureResult)
            return .lookUp(decided)
        }
        switch next {
        case .known(let answer):
            return eventLoop.makeSucceededFuture(answer)
        case .wait(let decided):
            return decided.hop(to: eventLoop)
        case .lookUp(let decided):
            start(for: peer, key: key, deciding: decided, on: eventLoop)
            return decided.futureResult
        }
    }

    private func start(
        for peer: PeerCredentials,
        key: Key,
        deciding decided: EventLoopPromise<Answer>,
        on eventLoop: EventLoop
    ) {
        let lookup = self.lookup
        let lifetime = self.lifetime
        let refusal = self.refusal
        // A lookup that hangs (LDAP down) must not hold up connections or requests: after a while they get the
        // refusing answer, and so does every later one of its uid until the lookup ends.
        let timeout = eventLoop.scheduleTask(in: lookupTimeout) {
            decided.succeed(refusal)
        }
        lookups.runIfActive(eventLoop: eventLoop) { lookup(peer) }.whenComplete { result in
            timeout.cancel()
            let answer = (try? result.get()) ?? refusal
            // An answer serves for `lifetime` from when it came, however long the lookup took.
            let answered = monotonicSeconds()
            self.state.withLock { state in
                if state.answers.count > 4096 { state.answers = state.answers.filter { $0.value.until > answered } }
                state.answers[key] = (answer, answered + lifetime)
                state.running[peer.uid] = nil
            }
            // Ignored when the timeout decided first.
            decided.succeed(answer)
        }
    }

    func shutdown() async throws {
        try await lookups.shutdownGracefully()
    }
}
