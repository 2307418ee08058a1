import AccountService
import AccountStore
import Glibc
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import UserDatabase
import Wire

/// The twofactord server as a `Service`: it listens until graceful shutdown (SIGTERM, SIGINT),
/// then stops accepting, lets requests in flight finish within the grace period, and returns.
public final class DaemonServer: Service {
    private let configuration: DaemonConfiguration
    private let dispatcher: Dispatcher
    /// Whether a peer is an operator: the same answers decide a connection's share and its requests' rights.
    private let operatorLookups: OperatorCache
    private let logger: Logger
    /// Tells systemd (Type=notify) when the daemon serves and when it stops; silent without systemd.
    private let notifier = SystemdNotifier()

    public convenience init(configuration: DaemonConfiguration, service: AccountService, logger: Logger) {
        self.init(configuration: configuration, services: ServiceSlot(service), logger: logger)
    }

    /// Serves requests with `services.current`, which a reload may replace while the server runs.
    /// `maintenance` serves operators' backups and key rotations; nil when the store cannot do them.
    public init(
        configuration: DaemonConfiguration,
        services: ServiceSlot,
        maintenance: (any StoreMaintenance)? = nil,
        logger: Logger
    ) {
        self.configuration = configuration
        let operators = OperatorPolicy(groupName: configuration.operatorGroup)
        let codeCheckers = configuration.codeCheckGroup.map { OperatorPolicy(groupName: $0, daemonUID: 0) }
        let operatorLookups = OperatorCache(policy: operators)
        self.operatorLookups = operatorLookups
        // Asked only of code-check group members (`Dispatcher.codeCheck`).
        let loginNames = codeCheckers.map { _ in
            NSSLookupCache<String?>(refusal: nil) { UserDatabase.user(withUID: $0.uid)?.name }
        }
        self.dispatcher = Dispatcher(
            services: services,
            operators: operators,
            codeCheckers: codeCheckers,
            maintenance: maintenance,
            operatorLookups: operatorLookups,
            codeCheckerLookups: codeCheckers.map { OperatorCache(policy: $0) },
            loginNames: loginNames
        )
        self.logger = logger
    }

    /// Threads beyond `workerThreads` for requests that wait on durable writes.
    static let writeWaitingThreads = 32

    public func run() async throws {
        // Scrypt's concurrency (and so its memory) is bounded by the password hasher to `workerThreads`; the
        // extra threads serve requests that mostly wait for a durable write, which group commit shares
        // between all the requests waiting at once: the more wait together, the fewer commits.
        let workers = WorkerPool(
            threads: configuration.workerThreads + Self.writeWaitingThreads,
            maximumQueued: configuration.maximumQueuedRequests
        )
        let connections = ConnectionRegistry(limits: ShareLimits(total: connectionLimit()))
        let operators = operatorLookups
        // Told before the socket exists, so that whoever can connect finds it in the log already.
        if let reason = AuditSession.whyUnreadable {
            logger.notice("local session graces cannot apply, graces by remote host still do: \(reason)")
        }
        let serverChannel = try await bind(workers: workers, connections: connections, operators: operators)
        logger.notice(
            "listening",
            metadata: [
                "socket": "\(describe(configuration.listener))",
                "max-connections": "\(connections.limits.total)",
                "kept-for-operators": "\(connections.limits.reservedForOperators)",
                "per-uid": "\(connections.limits.perPeer)",
            ]
        )
        notifier.send("READY=1\nSTATUS=Serving on \(describe(configuration.listener))")

        try await withGracefulShutdownHandler {
            try await serverChannel.closeFuture.get()
        } onGracefulShutdown: {
            serverChannel.close(promise: nil)
        }
        logger.notice("stopping: finishing requests in flight")
        notifier.send("STOPPING=1\nSTATUS=Finishing requests in flight")
        await connections.drain(within: configuration.shutdownGraceSeconds)
        try await workers.shutdown()
        try await operators.shutdown()
        try await dispatcher.codeCheckerLookups?.shutdown()
        try await dispatcher.loginNames?.shutdown()
        if case .path(let path) = configuration.listener { unlink(path) }
        logger.notice("stopped")
    }

    /// Raises the soft file-descriptor limit to the hard one and keeps the connection cap below
    /// it, with room for the daemon's own files: a full table must refuse connections, not fail accept().
    private func connectionLimit() -> Int {
        let descriptors = FileDescriptorLimit.raiseToHardLimit()
        let margin = min(64, descriptors / 4)
        let limit = min(configuration.maximumConnections, max(2, descriptors - margin))
        if limit < configuration.maximumConnections {
            logger.warning(
                "fewer connections than configured: the file-descriptor limit is too low",
                metadata: [
                    "max-connections": "\(configuration.maximumConnections)", "used": "\(limit)",
                    "nofile": "\(descriptors)",
                ]
            )
        }
        return limit
    }

    private func bind(
        workers: WorkerPool,
        connections: ConnectionRegistry,
        operators: OperatorCache
    ) async throws -> Channel {
        let dispatcher = self.dispatcher
        let logger = self.logger
        let refusals = RefusalLog(logger: logger)
        let maximumQueued = 32
        let idleTimeout = TimeAmount.seconds(configuration.idleTimeoutSeconds)
        let requestDeadline = TimeAmount.seconds(configuration.requestDeadlineSeconds)
        // One event loop accepts and serves every connection: with a group of loops, each accepted connection went
        // from the accepting loop to its own and back twice before its first read (NIO's accept path), a tenth to a
        // third of a millisecond of a one-request client's wait. The loops only frame requests and hand them to the
        // workers, which one loop keeps up with (docs/performance.md, `twofactor login` process start).
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton.next())
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            // A peer that shuts down its sending side still gets the answers to what it sent.
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                PeerCredentials.read(from: channel).flatMap { peer in
                    connections.admit(channel, of: peer, operators: operators).map { (peer, $0) }
                }.flatMapThrowing { peer, admission in
                    let (holder, refusal) = admission
                    if let refusal {
                        refusals.refused(holder, "a connection", because: refusal)
                        try channel.pipeline.syncOperations.addHandler(RefusedConnectionHandler(refusal))
                        return
                    }
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: idleTimeout),
                        FrameDeadlineHandler(deadline: requestDeadline),
                        ByteToMessageHandler(RequestFrameDecoder(), maximumBufferSize: 16 * 1024),
                        ConnectionHandler(
                            peer: peer,
                            holder: holder,
                            dispatcher: dispatcher,
                            workers: workers,
                            connections: connections,
                            maximumQueued: maximumQueued,
                            answerDeadline: requestDeadline,
                            logger: logger,
                            refusals: refusals
                        ),
                    ])
                }
            }
        switch configuration.listener {
        case .inheritedDescriptor(let descriptor):
            return try await bootstrap.withBoundSocket(descriptor).get()
        case .path(let path):
            try SocketPath.prepare(path)
            // The socket is made with the mode asked, not the umask's: it accepts connections as soon as it exists,
            // before the fchmodat below could narrow it.
            let umaskBefore = umask(mode_t(0o777 & ~configuration.socketMode))
            defer { umask(umaskBefore) }
            let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            // Not through a link: in a folder others can write, the socket could be swapped for a link to any
            // file between the bind and this call, and that file would get the socket's mode.
            guard fchmodat(AT_FDCWD, path, mode_t(configuration.socketMode), AT_SYMLINK_NOFOLLOW) == 0 else {
                let reason = String(cString: strerror(errno))
                try? await channel.close()
                throw SocketPath.Problem(description: "cannot set the mode of '\(path)': \(reason)")
            }
            return channel
        }
    }

    private func describe(_ listener: DaemonConfiguration.Listener) -> String {
        switch listener {
        case .path(let path): path
        case .inheritedDescriptor(let fd): "fd \(fd) (socket activation)"
        }
    }
}

/// The open connections, so that shutdown can ask each to finish and wait for them, and the
/// places they hold under the connection cap (`ShareLimits`).
final class ConnectionRegistry: Sendable {
    private struct State {
        /// Each open connection, and whom its place is charged to.
        var channels: [ObjectIdentifier: (channel: any Channel, holder: ShareHolder)] = [:]
        var ledger: ShareLedger
        /// The uids that have a connection waiting for its operator lookup without a place (`admit`).
        var waitingWithoutPlace: Set<UInt32> = []
    }

    private let state: Mutex<State>
    let limits: ShareLimits

    init(limits: ShareLimits) {
        self.limits = limits
        self.state = Mutex(State(ledger: ShareLedger(limits: limits)))
    }

    /// Registers `channel` of `peer`, charged to whom `operators` says, or says why it may not stay open.
    ///
    /// A connection whose operator status needs a lookup (up to its timeout when NSS hangs) is charged to its uid
    /// from its accept, as the uid's last answer said (`OperatorCache.provisionalHolder`: a non-operator when it
    /// has none), and moved if the lookup says otherwise: a connection waiting for its lookup counts in its uid's
    /// share like any other, one past that share is refused at once, and an operator whose answer expired is not
    /// refused as a non-operator past its share. Only when the places left to non-operators are all taken does a connection wait for its lookup without
    /// a place (one of its uid at a time), so that a member of the operator group still gets the places kept for
    /// operators.
    func admit(
        _ channel: any Channel,
        of peer: PeerCredentials,
        operators: OperatorCache
    ) -> EventLoopFuture<(ShareHolder, ShareRefusal?)> {
        let eventLoop = channel.eventLoop
        if let known = operators.knownHolder(for: peer) {
            return eventLoop.makeSucceededFuture((known, add(channel, for: known)))
        }
        let decided = operators.holder(for: peer, on: eventLoop)
        let undecided = operators.provisionalHolder(for: peer)
        switch add(channel, for: undecided) {
        case nil:
            // An operator's place moves to the operators' places, which the one it gives back leaves room in.
            return decided.map { holder in (holder, self.charge(channel, to: holder)) }
        case .peerShareExhausted:
            return eventLoop.makeSucceededFuture((undecided, .peerShareExhausted))
        case .full:
            let waits = state.withLock { $0.waitingWithoutPlace.insert(peer.uid).inserted }
            guard waits else { return eventLoop.makeSucceededFuture((undecided, .full)) }
            return decided.map { holder in
                self.state.withLock { _ = $0.waitingWithoutPlace.remove(peer.uid) }
                return (holder, self.add(channel, for: holder))
            }
        }
    }

    /// Registers `channel` for `holder`, or says why it may not stay open.
    func add(_ channel: any Channel, for holder: ShareHolder) -> ShareRefusal? {
        let key = ObjectIdentifier(channel)
        let refusal = state.withLock { state -> ShareRefusal? in
            if let refusal = state.ledger.acquire(for: holder) { return refusal }
            state.channels[key] = (channel, holder)
            return nil
        }
        guard refusal == nil else { return refusal }
        channel.closeFuture.whenComplete { _ in
            self.state.withLock { state in
                if let entry = state.channels.removeValue(forKey: key) { state.ledger.release(for: entry.holder) }
            }
        }
        return nil
    }

    /// Charges `channel`'s place to `holder` from now on (`ShareHolder.charged`: a login root carries for an
    /// invoker), or says why `holder` has no room; the connection must then close.
    func charge(_ channel: any Channel, to holder: ShareHolder) -> ShareRefusal? {
        let key = ObjectIdentifier(channel)
        return state.withLock { state -> ShareRefusal? in
            guard let entry = state.channels[key], entry.holder != holder else { return nil }
            if let refusal = state.ledger.move(from: entry.holder, to: holder) { return refusal }
            state.channels[key]?.holder = holder
            return nil
        }
    }

    private var isEmpty: Bool { state.withLock { $0.channels.isEmpty } }
    private var open: [any Channel] { state.withLock { $0.channels.values.map(\.channel) } }

    func drain(within seconds: Int64) async {
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(DrainEvent())
        }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline, !isEmpty {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for channel in open {
            try? await channel.close()
        }
    }
}

/// Serves a connection past the cap: says so once, with id 0 as for a frame that could not be read,
/// and closes at once, so that refused connections never hold file descriptors.
final class RefusedConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let refusal: ShareRefusal

    init(_ refusal: ShareRefusal) {
        self.refusal = refusal
    }

    /// The answer to a connection refused for `refusal`, before its Hello or in place of a request's answer.
    static func response(for refusal: ShareRefusal) -> Response {
        refusal.response(
            tooMany: "this user holds too many connections to the daemon: close some, then try again",
            busy: "the daemon has too many connections: try again in a moment"
        )
    }

    func channelActive(context: ChannelHandlerContext) {
        let bytes = WireCodec.encodeResponse(Self.response(for: refusal), id: 0)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// The process's limit on open files (RLIMIT_NOFILE).
public enum FileDescriptorLimit {
    /// Raises the soft limit to the hard limit and returns the soft limit in force afterwards.
    @discardableResult
    public static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }
}
