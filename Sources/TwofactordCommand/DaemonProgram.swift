import AccountService
import AccountStore
import ArgumentParser
import Daemon
import Glibc
import LMDBAccountStore
import Logging
import PasswordHashing
import ServiceLifecycle
import StoredRecords

/// twofactord's flags and what it does with them: serve, or run one maintenance job. Both daemon programs run
/// it, `twofactord` without the PostgreSQL store and `twofactord-postgres` with it (`FleetStore`).
public struct DaemonProgram: ParsableArguments {
    /// The help of a daemon program called `commandName`.
    public static func configuration(commandName: String) -> CommandConfiguration {
        CommandConfiguration(
            commandName: commandName,
            abstract: "The twofactord two-factor login daemon.",
            // Paragraphs, not lines: ArgumentParser wraps them to the terminal's width.
            discussion: """
                Serves logins (password plus TOTP code) and account administration on a Unix socket. \
                Runs in the foreground and logs to standard error; SIGTERM or SIGINT stop it after the \
                requests in flight. Under systemd socket activation it serves the inherited socket and \
                ignores --socket.

                Settings come from the configuration file (see twofactord.conf(5)), and every key of the \
                file is also a flag here, which wins over the file. SIGHUP reads the file again and \
                applies the log level, the issuer, the grace period, the session lifetime, the enrollment \
                lifetime, the maximum drift and the throttle limits; other changes need a restart.

                Exit status: 0 after a clean stop or a successful --check-config, 1 when the daemon \
                failed, 64 a usage error, 78 a configuration error.
                """
        )
    }

    public init() {}

    static let defaults = DaemonSettings()

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The configuration file. Default \(DaemonSettings.defaultPath), skipped when missing.",
            valueName: "path"
        )
    )
    var config: String?

    @Flag(name: .customLong("check-config"), help: "Check the configuration, print the settings in force, and exit.")
    var checkConfig = false

    @Option(help: ArgumentHelp("The Unix socket to listen on. Default \(defaults.socket).", valueName: "path"))
    var socket: String?

    @Option(
        name: .customLong("state-dir"),
        help: ArgumentHelp(
            "The directory holding the LMDB files. Default \(defaults.stateDirectory).",
            valueName: "dir"
        )
    )
    var stateDirectory: String?

    @Option(
        name: .customLong("secrets-key-file"),
        help: ArgumentHelp(
            "The 32-byte key that seals TOTP secrets, created with a new store when missing. Default: the "
                + "systemd credential twofactord-key when present, else secrets.key in the state directory.",
            valueName: "path"
        )
    )
    var secretsKeyFile: String?

    @Option(
        help: ArgumentHelp(
            "A postgresql:// URL (no password in it) of a store shared by a fleet of hosts, instead of LMDB in "
                + "the state directory. Default: LMDB.",
            valueName: "url"
        )
    )
    var store: String?

    @Option(
        name: .customLong("store-password-file"),
        help: ArgumentHelp(
            "The file holding the PostgreSQL password. Default: the systemd credential twofactord-db-password "
                + "when present, else none.",
            valueName: "path"
        )
    )
    var storePasswordFile: String?

    @Option(
        name: .customLong("operator-group"),
        help: ArgumentHelp(
            "Members of this group may administer accounts. Default \(defaults.operatorGroup).",
            valueName: "group"
        )
    )
    var operatorGroup: String?

    @Option(
        name: .customLong("code-check-group"),
        help: ArgumentHelp(
            "Members of this group may also check codes without a password (pam_twofactor.so code_only). Default none.",
            valueName: "group"
        )
    )
    var codeCheckGroup: String?

    @Option(
        name: .customLong("socket-mode"),
        help: ArgumentHelp("File mode of the socket, in octal. Default 0666.", valueName: "mode")
    )
    var socketMode: String?

    @Option(
        name: .customLong("scrypt-log-n"),
        help: ArgumentHelp(
            "log2 of scrypt's N for new password hashes (r=8, p=1). Default \(defaults.scryptLogN).",
            valueName: "n"
        )
    )
    var scryptLogN: String?

    @Option(
        help: ArgumentHelp(
            """
            Password hashes that run at once; each scrypt holds 128 MiB at the default cost. \
            Default \(defaults.workers).
            """,
            valueName: "count"
        )
    )
    var workers: String?

    @Option(
        name: .customLong("max-connections"),
        help: ArgumentHelp(
            """
            Open connections at most; a tenth is kept for operators, one user may hold a quarter of the rest. \
            Default \(defaults.maximumConnections).
            """,
            valueName: "count"
        )
    )
    var maxConnections: String?

    @Option(
        name: .customLong("request-deadline"),
        help: ArgumentHelp(
            """
            Seconds a client may take to send one request once it started it, or to read an answer; then its \
            connection ends. Default \(defaults.requestDeadline).
            """,
            valueName: "seconds"
        )
    )
    var requestDeadline: String?

    @Option(
        help: ArgumentHelp("The issuer shown in authenticator apps. Default \(defaults.issuer).", valueName: "name")
    )
    var issuer: String?

    @Option(
        name: .customLong("enrollment-lifetime"),
        help: ArgumentHelp(
            """
            Seconds a shown QR code stays valid: the same secret is offered again until then, so one scan is \
            enough. Default \(defaults.enrollmentLifetime).
            """,
            valueName: "seconds"
        )
    )
    var enrollmentLifetime: String?

    @Option(
        name: .customLong("grace-period"),
        help: ArgumentHelp(
            """
            Seconds after a login that checked a code during which logins of that account from the same remote \
            host or local login session need only the password; 0 is off. An organization may set its own. \
            Default \(defaults.gracePeriod).
            """,
            valueName: "seconds"
        )
    )
    var gracePeriod: String?

    @Option(
        name: .customLong("max-drift-steps"),
        help: ArgumentHelp(
            """
            The most time steps an authenticator's clock may drift before its codes are refused: each \
            authenticator learns its drift from its accepted codes, up to this. 0 to 10, default \
            \(defaults.maximumDriftSteps).
            """,
            valueName: "steps"
        )
    )
    var maximumDriftSteps: String?

    @Option(
        name: .customLong("session-lifetime"),
        help: ArgumentHelp(
            """
            Seconds a connection acts for the account it logged in as (twofactorctl --as), however busy it \
            keeps; then it must log in again. 60 to 86400, default \(defaults.sessionLifetime).
            """,
            valueName: "seconds"
        )
    )
    var sessionLifetime: String?

    @Option(
        name: .customLong("audit-max-records"),
        help: ArgumentHelp(
            """
            Each organization's part of the audit trail keeps at most this many records; its oldest go \
            first, so no organization can push another's records out. \
            Default \(defaults.auditRetention.maximumRecords).
            """,
            valueName: "count"
        )
    )
    var auditMaximumRecords: String?

    @Option(
        name: .customLong("audit-max-days"),
        help: ArgumentHelp(
            """
            The audit trail keeps records for at most this many days. \
            Default \(defaults.auditRetention.maximumAge / 86_400).
            """,
            valueName: "days"
        )
    )
    var auditMaximumDays: String?

    @OptionGroup(title: "Maintenance (one job, then exit)")
    var maintenance: MaintenanceOptions

    @Option(
        name: .customLong("log-level"),
        help: ArgumentHelp(
            "trace, debug, info, notice, warning, error or critical. Default \(defaults.logLevel.rawValue).",
            valueName: "level"
        )
    )
    var logLevel: String?

    @Option(
        name: .customLong("throttle-free-failures"),
        help: ArgumentHelp(
            "Failed logins an account may make before it is slowed down. Default \(defaults.throttle.freeFailures).",
            valueName: "count"
        )
    )
    var freeFailures: String?

    @Option(
        name: .customLong("throttle-base-delay"),
        help: ArgumentHelp(
            "Seconds of the first lock, doubling with each further failure. Default \(defaults.throttle.baseDelay).",
            valueName: "seconds"
        )
    )
    var baseDelay: String?

    @Option(
        name: .customLong("throttle-max-delay"),
        help: ArgumentHelp(
            "The longest lock, in seconds. Default \(defaults.throttle.maximumDelay).",
            valueName: "seconds"
        )
    )
    var maximumDelay: String?

    /// The flags given, under the names DaemonSettings knows them by.
    var source: SettingsSource {
        let given: [(String, String?)] = [
            ("--socket", socket), ("--state-dir", stateDirectory), ("--secrets-key-file", secretsKeyFile),
            ("--store", store), ("--store-password-file", storePasswordFile),
            ("--operator-group", operatorGroup), ("--code-check-group", codeCheckGroup),
            ("--socket-mode", socketMode), ("--scrypt-log-n", scryptLogN), ("--workers", workers),
            ("--max-connections", maxConnections), ("--request-deadline", requestDeadline), ("--issuer", issuer),
            ("--enrollment-lifetime", enrollmentLifetime), ("--grace-period", gracePeriod),
            ("--max-drift-steps", maximumDriftSteps), ("--session-lifetime", sessionLifetime),
            ("--audit-max-records", auditMaximumRecords), ("--audit-max-days", auditMaximumDays),
            ("--log-level", logLevel), ("--throttle-free-failures", freeFailures),
            ("--throttle-base-delay", baseDelay), ("--throttle-max-delay", maximumDelay),
        ]
        return SettingsSource(file: config, flags: given.compactMap { name, value in value.map { .init(name, $0) } })
    }

    public func validate() throws {
        var settings = DaemonSettings()
        do {
            try settings.apply(flags: source.flags.map { (flag: $0.name, value: $0.value) })
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// Serves, or runs the maintenance job asked for. `fleetStore` opens a PostgreSQL store; without it (in
    /// `twofactord`), a run that needs one becomes `twofactord-postgres` (`FleetProgram`) once the settings
    /// are read, before anything is opened.
    public func run(fleetStore: (any FleetStore.Type)?) async throws {
        // Group commit runs each write in a nested LMDB transaction, whose page lists (about 3 MiB, freed at
        // its end) are allocated on whichever thread leads the batch; with glibc's default of one arena per
        // thread, each of those threads would keep them, doubling the daemon's resident memory under load.
        MallocArenas.limit(to: 2)
        let source = self.source
        let loaded: (settings: DaemonSettings, fileFound: Bool)
        do {
            loaded = try source.load()
        } catch {
            Self.printError("twofactord: \(error)")
            throw ExitCode(78)
        }
        let settings = loaded.settings
        if checkConfig {
            let origin = loaded.fileFound ? "file \(source.path)" : "no file at \(source.path): built-in defaults"
            print("# twofactord: the settings in force (\(origin), then flags)\n" + settings.rendered(), terminator: "")
            return
        }
        if fleetStore == nil, FleetProgram.isNeeded(store: settings.store, copyTarget: maintenance.copyStoreTo) {
            do {
                try FleetProgram.replaceThisProcess()
            } catch {
                Self.printError("twofactord: \(error)")
                throw ExitCode(1)
            }
        }

        let threshold = DaemonLogHandler.Threshold(settings.logLevel)
        // What a peer that is not an operator makes the daemon log is rate-limited per uid.
        let limiter = LogRateLimiter()
        LoggingSystem.bootstrap { _ in
            RateLimitedLogHandler(wrapping: DaemonLogHandler(threshold: threshold), limiter: limiter)
        }
        let logger = Logger(label: "twofactord")

        let listener: DaemonConfiguration.Listener =
            SocketActivation.inheritedListener().map { .inheritedDescriptor($0) } ?? .path(settings.socket)
        let cost = ScryptCost(logN: settings.scryptLogN, r: ScryptCost.owasp.r, p: ScryptCost.owasp.p)
        var configuration = DaemonConfiguration(
            listener: listener,
            socketMode: settings.socketMode,
            stateDirectory: settings.stateDirectory,
            operatorGroup: settings.operatorGroup,
            scryptCost: cost,
            workerThreads: settings.workers,
            maximumConnections: settings.maximumConnections,
            requestDeadlineSeconds: settings.requestDeadline,
            service: Self.serviceConfiguration(settings)
        )
        configuration.codeCheckGroup = settings.codeCheckGroup

        try maintenance.refuseLMDBOnlyJob(with: settings)
        do {
            if let written = try maintenance.backUpWithoutOpening(settings) {
                print(written)
                return
            }
        } catch {
            logger.critical(
                "--backup failed",
                metadata: ["store": "\(OpenedStore.describe(settings))", "error": "\(error)"]
            )
            throw ExitCode(1)
        }
        let opened: OpenedStore
        var prepared: String?
        // Held until the process ends: a daemon or a writing job is alone on its state directory.
        var stateLock: StateDirectoryLock?
        defer { withExtendedLifetime(stateLock) {} }
        do {
            if settings.store == nil, maintenance.needsTheStateDirectoryAlone {
                stateLock = try lockStateDirectory(settings, listener: listener, logger: logger)
            }
            if settings.store == nil { prepared = try maintenance.prepare(settings: settings) }
            opened = try OpenedStore.open(
                settings: settings,
                fleetStore: fleetStore,
                logger: logger,
                readOnly: maintenance.check,
                mayCreate: maintenance.mayCreateAStore
            )
        } catch {
            let failed = settings.store == nil ? "cannot open the state directory" : "cannot open the PostgreSQL store"
            logger.critical(
                "\(maintenance.job.map { $0 + ": " } ?? "")\(failed)",
                metadata: ["store": "\(OpenedStore.describe(settings))", "error": "\(error)"]
            )
            throw ExitCode(1)
        }
        if maintenance.isRequested {
            do {
                print(
                    try prepared ?? maintenance.run(opened, settings: settings, fleetStore: fleetStore, logger: logger)
                )
                return
            } catch {
                logger.critical("maintenance failed", metadata: ["error": "\(error)"])
                throw ExitCode(1)
            }
        }
        let store = opened.store
        if settings.store != nil {
            logger.notice("serving from the PostgreSQL store", metadata: ["store": "\(OpenedStore.describe(settings))"])
        }
        // `workers` bounds the hashes that run at once (each holds scrypt's memory); the daemon has more
        // threads than that, for the logins that wait on a group commit rather than on the CPU.
        let hasher = PasswordHasher(cost: cost, concurrentHashes: settings.workers)
        // One per daemon: a reload keeps what each account may still cause this minute.
        let limits = AccountLimits()
        let makeService: @Sendable (DaemonSettings) -> AccountService = { settings in
            AccountService(
                store: store,
                hasher: hasher,
                configuration: Self.serviceConfiguration(settings),
                clock: { Int64(time(nil)) },
                logger: logger,
                limits: limits
            )
        }
        let services = ServiceSlot(makeService(settings))
        let reloader = SettingsReloader(
            running: settings,
            load: { () throws(DaemonSettings.Problem) in try source.load().settings },
            apply: { settings in
                threshold.current = settings.logLevel
                services.replace(with: makeService(settings))
            },
            logger: logger
        )
        let server = DaemonServer(
            configuration: configuration,
            services: services,
            maintenance: opened.maintenance,
            logger: logger
        )
        var running: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: server),
            .init(service: HangupReloadService(reloader: reloader), successTerminationBehavior: .ignore),
        ]
        if let interval = SystemdNotifier.watchdogInterval() {
            let watchdog = WatchdogService(notifier: SystemdNotifier(), interval: interval)
            running.append(.init(service: watchdog, successTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: running,
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
        // No request runs any more: the denials only counted so far get their records before the counts are gone.
        services.current.auditUnauditedDenials()
    }

    /// The state directory's lock, held by a serving daemon or a writing job. A daemon that socket activation
    /// started while an offline job (a restore, key rotation or copy) holds the directory waits for the job to end,
    /// telling systemd why and that its start takes longer, then serves the connections that waited on its
    /// socket: failing instead, it would be restarted until systemd gave up, and the socket unit with it. Anything
    /// else is refused at once.
    private func lockStateDirectory(
        _ settings: DaemonSettings,
        listener: DaemonConfiguration.Listener,
        logger: Logger
    ) throws(AccountStoreError) -> StateDirectoryLock {
        guard !maintenance.isRequested, case .inheritedDescriptor = listener else {
            return try StateDirectoryLock(settings.stateDirectory, creating: maintenance.mayCreateAStore)
        }
        let notifier = SystemdNotifier()
        var toldWhy = false
        return try StateDirectoryLock.waitingForIt(settings.stateDirectory, creating: maintenance.mayCreateAStore) {
            if !toldWhy {
                toldWhy = true
                logger.warning(
                    "another twofactord (a restore, key rotation or copy) holds the state directory: waiting",
                    metadata: ["state-dir": "\(settings.stateDirectory)"]
                )
            }
            // systemd then waits 5 s more for READY=1 (sd_notify(3)); the next line comes in one.
            notifier.send(
                "STATUS=Waiting for \(settings.stateDirectory), which another twofactord is using\n"
                    + "EXTEND_TIMEOUT_USEC=5000000"
            )
        }
    }

    static func serviceConfiguration(_ settings: DaemonSettings) -> ServiceConfiguration {
        var configuration = ServiceConfiguration(
            issuer: settings.issuer,
            enrollmentLifetime: settings.enrollmentLifetime,
            throttle: settings.throttle,
            maximumDrift: settings.maximumDriftSteps
        )
        configuration.gracePeriod = settings.gracePeriod
        configuration.sessionLifetime = settings.sessionLifetime
        return configuration
    }

    static func printError(_ message: String) {
        var line = Array((message + "\n").utf8)
        _ = line.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
