import AccountService
import PasswordHashing

/// Where the daemon listens, where it keeps state, and how hard it works.
public struct DaemonConfiguration: Sendable {
    public enum Listener: Sendable, Hashable {
        /// Bind a new socket at this path (an existing stale socket file is replaced).
        case path(String)
        /// Serve a socket that is already bound and listening, e.g. fd 3 from systemd socket activation.
        case inheritedDescriptor(Int32)
    }

    public var listener: Listener
    /// File mode of a socket the daemon binds itself. Who may do what is decided per request from
    /// SO_PEERCRED, so the default lets every local user connect to log in.
    public var socketMode: UInt32
    public var stateDirectory: String
    /// Members of this group (and root, and the daemon's own user) are operators.
    public var operatorGroup: String
    /// Members of this group (besides operators) may check codes without a password (CodeCheck),
    /// e.g. a group that a setgid `twofactor shell` runs with. Nil: operators only.
    public var codeCheckGroup: String? = nil
    public var scryptCost: ScryptCost
    /// Threads doing blocking work (scrypt, durable writes). Each running scrypt holds `scryptCost.memoryBytes`.
    public var workerThreads: Int
    /// Requests allowed to wait for a worker before new ones are answered `busy`.
    public var maximumQueuedRequests: Int
    /// Open connections at most; a tenth is kept for operators and one uid may hold a quarter of
    /// the rest. Lowered at start when the file-descriptor limit is too low for it.
    public var maximumConnections: Int
    /// A frame must arrive whole within this many seconds of its first byte, or the connection ends.
    public var requestDeadlineSeconds: Int64
    /// A connection that sends nothing for this long is closed.
    public var idleTimeoutSeconds: Int64
    /// How long SIGTERM waits for requests in flight before closing their connections.
    public var shutdownGraceSeconds: Int64
    public var service: ServiceConfiguration

    public init(
        listener: Listener,
        socketMode: UInt32 = 0o666,
        stateDirectory: String,
        operatorGroup: String = "twofactord-operators",
        scryptCost: ScryptCost = .owasp,
        workerThreads: Int = 2,
        maximumQueuedRequests: Int = 64,
        maximumConnections: Int = 1000,
        requestDeadlineSeconds: Int64 = 10,
        idleTimeoutSeconds: Int64 = 300,
        shutdownGraceSeconds: Int64 = 10,
        service: ServiceConfiguration = ServiceConfiguration()
    ) {
        self.listener = listener
        self.socketMode = socketMode
        self.stateDirectory = stateDirectory
        self.operatorGroup = operatorGroup
        self.scryptCost = scryptCost
        self.workerThreads = workerThreads
        self.maximumQueuedRequests = maximumQueuedRequests
        self.maximumConnections = maximumConnections
        self.requestDeadlineSeconds = requestDeadlineSeconds
        self.idleTimeoutSeconds = idleTimeoutSeconds
        self.shutdownGraceSeconds = shutdownGraceSeconds
        self.service = service
    }
}
