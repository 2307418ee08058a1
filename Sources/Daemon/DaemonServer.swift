import AccountService
import Glibc
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The twofactord server as a `Service`: it listens until graceful shutdown (SIGTERM, SIGINT),
/// then stops accepting, lets requests in flight finish within the grace period, and returns.
public final class DaemonServer: Service {
    private let configuration: DaemonConfiguration
    private let dispatcher: Dispatcher
    private let logger: Logger
    private let connections = ConnectionRegistry()
    /// Tells systemd (Type=notify) when the daemon serves and when it stops; silent without systemd.
    private let notifier = SystemdNotifier()

    public convenience init(configuration: DaemonConfiguration, service: AccountService, logger: Logger) {
        self.init(configuration: configuration, services: ServiceSlot(service), logger: logger)
    }

    /// Serves requests with `services.current`, which a reload may replace while the server runs.
    public init(configuration: DaemonConfiguration, services: ServiceSlot, logger: Logger) {
        self.configuration = configuration
        self.dispatcher = Dispatcher(
            services: services,
            operators: OperatorPolicy(groupName: configuration.operatorGroup)
        )
        self.logger = logger
    }

    public func run() async throws {
        let workers = WorkerPool(
            threads: configuration.workerThreads,
            maximumQueued: configuration.maximumQueuedRequests
        )
        let serverChannel = try await bind(workers: workers)
        logger.notice("listening", metadata: ["socket": "\(describe(configuration.listener))"])
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
        if case .path(let path) = configuration.listener { unlink(path) }
        logger.notice("stopped")
    }

    private func bind(workers: WorkerPool) async throws -> Channel {
        let dispatcher = self.dispatcher
        let logger = self.logger
        let connections = self.connections
        let maximumQueued = 8
        let idleTimeout = TimeAmount.seconds(configuration.idleTimeoutSeconds)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .childChannelInitializer { channel in
                PeerCredentials.read(from: channel).flatMapThrowing { peer in
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: idleTimeout),
                        ByteToMessageHandler(RequestFrameDecoder(), maximumBufferSize: 16 * 1024),
                        ConnectionHandler(
                            peer: peer,
                            dispatcher: dispatcher,
                            workers: workers,
                            maximumQueued: maximumQueued,
                            logger: logger
                        ),
                    ])
                    connections.add(channel)
                }
            }
        switch configuration.listener {
        case .inheritedDescriptor(let descriptor):
            return try await bootstrap.withBoundSocket(descriptor).get()
        case .path(let path):
            try SocketPath.prepare(path)
            let channel = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
            guard chmod(path, mode_t(configuration.socketMode)) == 0 else {
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

/// The open connections, so that shutdown can ask each to finish and wait for them.
final class ConnectionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        channels.withLock { $0[key] = channel }
        channel.closeFuture.whenComplete { _ in
            _ = self.channels.withLock { $0.removeValue(forKey: key) }
        }
    }

    func drain(within seconds: Int64) async {
        let open = channels.withLock { Array($0.values) }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(DrainEvent())
        }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline, !channels.withLock({ $0.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for channel in channels.withLock({ Array($0.values) }) {
            try? await channel.close()
        }
    }
}
