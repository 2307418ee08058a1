import AccountService
import AccountStore
import ArgumentParser
import Daemon
import Glibc
import LMDBAccountStore
import Logging
import PasswordHashing
import ServiceLifecycle

@main
struct TwofactorDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "twofactord",
        abstract: "The twofactord two-factor login daemon.",
        discussion: """
            Serves logins (password plus TOTP code) and account administration on a Unix socket. \
            Runs in the foreground and logs to standard error; SIGTERM or SIGINT stop it after the \
            requests in flight. Under systemd socket activation it serves the inherited socket and \
            ignores --socket.
            """
    )

    @Option(name: .long, help: ArgumentHelp("The Unix socket to listen on.", valueName: "path"))
    var socket: String = "/run/twofactord/socket"

    @Option(
        name: .customLong("state-dir"),
        help: ArgumentHelp("The directory holding the LMDB files.", valueName: "dir")
    )
    var stateDirectory: String = "/var/lib/twofactord"

    @Option(
        name: .customLong("secrets-key-file"),
        help: ArgumentHelp(
            "The 32-byte key that seals TOTP secrets, created when missing (default: the systemd credential "
                + "twofactord-key when present, else secrets.key in the state directory).",
            valueName: "path"
        )
    )
    var secretsKeyFile: String?

    @Option(name: .customLong("operator-group"), help: "Members of this group may administer accounts.")
    var operatorGroup: String = "twofactord-operators"

    @Option(
        name: .customLong("code-check-group"),
        help: "Members of this group may also check codes without a password (pam_twofactor.so code_only)."
    )
    var codeCheckGroup: String?

    @Option(name: .customLong("socket-mode"), help: "File mode of the socket, in octal.")
    var socketMode: String = "0666"

    @Option(name: .customLong("scrypt-log-n"), help: "log2 of scrypt's N for new password hashes (r=8, p=1).")
    var scryptLogN: UInt8 = ScryptCost.owasp.logN

    @Option(
        name: .long,
        help: "Threads for password hashing and writes; each scrypt holds 128 MiB at the default cost."
    )
    var workers: Int = 2

    @Option(
        name: .customLong("max-connections"),
        help: "Open connections at most; a tenth is kept for operators, one user may hold a quarter of the rest."
    )
    var maxConnections: Int = 1000

    @Option(
        name: .customLong("request-deadline"),
        help: "Seconds a client may take to send one request once it started it; then its connection ends."
    )
    var requestDeadline: Int64 = 10

    @Option(name: .long, help: "The issuer shown in authenticator apps.")
    var issuer: String = "twofactord"

    @Option(
        name: .customLong("enrollment-lifetime"),
        help: "Seconds a shown QR code stays valid: the same secret is offered again until then, so one scan is enough."
    )
    var enrollmentLifetime: Int64 = 900

    @Option(
        name: .customLong("audit-max-records"),
        help: "The audit trail keeps at most this many records; the oldest go first."
    )
    var auditMaximumRecords: UInt64 = AuditRetention.standard.maximumRecords

    @Option(name: .customLong("audit-max-days"), help: "The audit trail keeps records for at most this many days.")
    var auditMaximumDays: Int64 = AuditRetention.standard.maximumAge / 86_400

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard UInt32(socketMode, radix: 8) != nil else {
            throw ValidationError("--socket-mode takes an octal mode such as 0660")
        }
        guard (10...22).contains(scryptLogN) else { throw ValidationError("--scrypt-log-n must be 10 to 22") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard (60...86_400).contains(enrollmentLifetime) else {
            throw ValidationError("--enrollment-lifetime must be 60 to 86400 seconds")
        }
        guard auditMaximumRecords >= 1, auditMaximumDays >= 1 else {
            throw ValidationError("--audit-max-records and --audit-max-days must be at least 1")
        }
        guard maxConnections >= 2 else { throw ValidationError("--max-connections must be at least 2") }
        guard requestDeadline >= 1 else { throw ValidationError("--request-deadline must be at least 1") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown --log-level '\(logLevel)'")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        // What a peer that is not an operator makes the daemon log is rate-limited per uid.
        let limiter = LogRateLimiter()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return RateLimitedLogHandler(wrapping: handler, limiter: limiter)
        }
        let logger = Logger(label: "twofactord")

        let listener: DaemonConfiguration.Listener =
            SocketActivation.inheritedListener().map { .inheritedDescriptor($0) } ?? .path(socket)
        let cost = ScryptCost(logN: scryptLogN, r: ScryptCost.owasp.r, p: ScryptCost.owasp.p)
        var configuration = DaemonConfiguration(
            listener: listener,
            socketMode: UInt32(socketMode, radix: 8) ?? 0o666,
            stateDirectory: stateDirectory,
            operatorGroup: operatorGroup,
            scryptCost: cost,
            workerThreads: workers,
            maximumConnections: maxConnections,
            requestDeadlineSeconds: requestDeadline,
            service: ServiceConfiguration(issuer: issuer, enrollmentLifetime: enrollmentLifetime)
        )
        configuration.codeCheckGroup = codeCheckGroup

        let store: LMDBAccountStore
        do {
            var key: SecretsKey?
            if let location = SecretsKey.configuredLocation(explicit: secretsKeyFile) {
                key = try SecretsKey.load(path: location.path, create: location.create)
            }
            store = try LMDBAccountStore(
                directory: stateDirectory,
                secretsKey: key,
                auditRetention: AuditRetention(
                    maximumRecords: auditMaximumRecords,
                    maximumAge: auditMaximumDays * 86_400
                )
            )
        } catch {
            logger.critical(
                "cannot open the state directory",
                metadata: ["dir": "\(stateDirectory)", "error": "\(error)"]
            )
            throw ExitCode(1)
        }
        let service = AccountService(
            store: store,
            hasher: PasswordHasher(cost: cost),
            configuration: configuration.service,
            clock: { Int64(time(nil)) },
            logger: logger
        )
        let server = DaemonServer(configuration: configuration, service: service, logger: logger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            logger.critical("twofactord stopped on an error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}
