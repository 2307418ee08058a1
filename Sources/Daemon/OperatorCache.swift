import NIOCore

/// Whether a peer is an operator (`OperatorPolicy`), decided when its connection is accepted and
/// remembered per uid and gid for a while (`NSSLookupCache`, whose MUSTs it keeps: one lookup per uid at a time,
/// a bounded number at once, none waited for past its timeout, a non-operator past it), so that a flood of
/// connections or requests from one user costs one NSS lookup, not one per connection or request. The Dispatcher
/// asks it too (`isOperator`), for the privileges of each request.
final class OperatorCache: Sendable {
    private let daemonUID: UInt32
    private let answers: NSSLookupCache<Bool>

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
        self.daemonUID = daemonUID
        self.answers = NSSLookupCache(
            refusal: false,
            lifetimeSeconds: lifetimeSeconds,
            lookupTimeout: lookupTimeout,
            maximumLookups: maximumLookups,
            lookup: lookup
        )
    }

    /// Whether `peer` is an operator, for a request on a worker thread (never an event loop): the answer cached
    /// for its uid and gid, or that of the lookup under way for its uid, waited for at most the lookup timeout;
    /// no past the timeout or the bound on lookups, as for a connection.
    func isOperator(_ peer: PeerCredentials) -> Bool {
        if peer.uid == 0 || peer.uid == daemonUID { return true }
        return answers.answer(for: peer)
    }

    /// Whether `peer` is an operator when that needs no lookup: root, the daemon's user, or an answer still fresh.
    func knownHolder(for peer: PeerCredentials) -> ShareHolder? {
        if peer.uid == 0 || peer.uid == daemonUID { return ShareHolder(uid: peer.uid, isOperator: true) }
        return answers.known(for: peer).map { ShareHolder(uid: peer.uid, isOperator: $0) }
    }

    /// Whom a connection of `peer` is charged to while its lookup runs: as the last answer for its uid and gid
    /// said, however old (a group change shows once the lookup ends), else as a non-operator. For share
    /// decisions only: rights wait for the lookup (`isOperator`).
    func provisionalHolder(for peer: PeerCredentials) -> ShareHolder {
        ShareHolder(uid: peer.uid, isOperator: answers.last(for: peer) ?? false)
    }

    func holder(for peer: PeerCredentials, on eventLoop: EventLoop) -> EventLoopFuture<ShareHolder> {
        if let known = knownHolder(for: peer) { return eventLoop.makeSucceededFuture(known) }
        return answers.answer(for: peer, on: eventLoop).map { ShareHolder(uid: peer.uid, isOperator: $0) }
    }

    func shutdown() async throws {
        try await answers.shutdown()
    }
}
