import AccountStore
import Dispatch
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// A small pool of PostgreSQL connections for callers that block: `AccountStore` is called from the
/// daemon's worker threads, never from an event loop, so each call checks a connection out, waits on its
/// futures, and checks it back in. MUSTs:
/// - never wait on a future from an event loop thread (the store's contract forbids calling it there);
/// - every wait has a deadline: past it the connection is closed, which fails the query, so a server that
///   stops answering fails the call instead of hanging a worker;
/// - a connection that failed, or that the server closed, is never handed out again; the next call opens
///   a fresh one, which is how the store reconnects by itself after the server comes back;
/// - a pooled connection may have been closed by the server (a restart, pg_terminate_backend) without the
///   pool seeing it yet: a call whose first statement finds it so runs once more on a new connection. Only
///   then: before that statement's answer nothing of the call took effect (a write's first statement is
///   BEGIN, a read's a SELECT), whereas after it a failure may leave a change in doubt, never to be made twice;
/// - the first failure to reach the server and the first success after it are logged, once each.
final class ConnectionPool: Sendable {
    let location: PostgresLocation
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let eventLoops: any EventLoopGroup
    /// How long to wait for any one answer: the statement timeout plus time for the answer to arrive.
    let answerDeadline: TimeAmount
    private let permits: DispatchSemaphore

    private struct State {
        var idle: [PostgresConnection] = []
        var nextID = 1
        var reachable = true
        var closed = false
        /// Queries that never answered (see `Session.query`).
        var abandoned: [EventLoopFuture<PostgresQueryResult>] = []
    }
    private let state = Mutex(State())
    private let parametersDropped = Atomic(false)
    /// Every transaction is read-only (`--check`).
    let readOnly: Bool
    /// `guardedParameters` by name, as a probe expects to find them (`probeStartupParameters`).
    private let guardedStartupParameters: [String: String]
    /// The statement that gives a transaction what its startup parameters would have, for
    /// `startupParametersDropped`.
    let settingTransactionParameters: PostgresQuery

    /// `readOnly`: every transaction of the pool's connections is read-only (`--check`).
    init(location: PostgresLocation, password: String?, readOnly: Bool, logger: Logger) throws(AccountStoreError) {
        self.location = location
        self.readOnly = readOnly
        self.logger = logger
        eventLoops = MultiThreadedEventLoopGroup.singleton
        var configuration: PostgresConnection.Configuration
        switch location.endpoint {
        case .unixSocket(let path):
            configuration = .init(
                unixSocketPath: path,
                username: location.user,
                password: password,
                database: location.database
            )
        case .tcp(let host, let port):
            configuration = .init(
                host: host,
                port: port,
                username: location.user,
                password: password,
                database: location.database,
                tls: try Self.tls(location)
            )
        }
        configuration.options.connectTimeout = .seconds(location.connectTimeoutSeconds)
        // Set at connection start, so they hold for every statement: a statement (lock waits included)
        // that runs too long fails closed, and a daemon that stalls inside a transaction cannot hold row
        // locks (an account's replay step) for long. A pooler (PgBouncer) may drop them: `probeStartupParameters`.
        let guarded = Self.guardedParameters(location, readOnly: readOnly)
        configuration.options.additionalStartupParameters = [("application_name", "twofactord")] + guarded
        guardedStartupParameters = Dictionary(uniqueKeysWithValues: guarded)
        // In a transaction, read-only is the transaction's own setting, not the default for later ones.
        let settings = guarded.map { name, value in
            "set_config('\(name == "default_transaction_read_only" ? "transaction_read_only" : name)', '\(value)', true)"
        }
        settingTransactionParameters = PostgresQuery(unsafeSQL: "SELECT " + settings.joined(separator: ", "))
        self.configuration = configuration
        answerDeadline = .milliseconds(location.statementTimeoutMilliseconds + 5_000)
        permits = DispatchSemaphore(value: location.poolSize)
    }

    private static func tls(
        _ location: PostgresLocation
    ) throws(AccountStoreError) -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch location.tls {
        case .disable: return .disable
        case .require: tls.certificateVerification = .none
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            if let file = location.rootCertificateFile { tls.trustRoots = .file(file) }
        }
        do {
            return .require(try NIOSSLContext(configuration: tls))
        } catch {
            throw .storageFailure(
                "cannot set up TLS for the store \(location): \(error): check sslrootcert in the store URL"
            )
        }
    }

    /// Runs `body` with a connection of its own. A connection `body` leaves in doubt (a statement failed
    /// other than by a server's error answer) is closed instead of being reused. When the first statement of
    /// `body` found a pooled connection closed by the server (`Session.foundClosedAtFirstStatement`), `body`
    /// runs once more on a new connection: its first statement must be one that changes nothing (BEGIN, or a
    /// read's SELECT).
    func withConnection<Result>(
        _ body: (Session) throws(AccountStoreError) -> Result
    ) throws(AccountStoreError) -> Result {
        permits.wait()
        defer { permits.signal() }
        var (connection, pooled) = try checkOut(pooled: true)
        while true {
            let session = Session(connection: connection, pool: self)
            do {
                let result = try body(session)
                checkIn(connection, healthy: !session.broken)
                return result
            } catch {
                checkIn(connection, healthy: !session.broken)
                guard pooled, session.foundClosedAtFirstStatement else { throw error }
                (connection, pooled) = try checkOut(pooled: false)
            }
        }
    }

    /// A connection: an idle one of the pool when `pooled` and there is one still open, else a new one; and
    /// whether it came from the pool.
    private func checkOut(pooled: Bool) throws(AccountStoreError) -> (PostgresConnection, pooled: Bool) {
        while pooled, let connection = state.withLock({ $0.idle.popLast() }) {
            if !connection.isClosed { return (connection, true) }
            _ = try? connection.close().wait()
        }
        return (try connect(), false)
    }

    private func connect() throws(AccountStoreError) -> PostgresConnection {
        let (id, closed) = state.withLock { state in
            state.nextID += 1
            return (state.nextID, state.closed)
        }
        guard !closed else { throw .storageFailure("the PostgreSQL store \(location) was closed") }
        let connected: PostgresConnection
        do {
            let connection = try PostgresConnection.connect(
                on: eventLoops.next(),
                configuration: configuration,
                id: id,
                logger: Logger(label: "twofactord.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
            ).wait()
            let wasDown = state.withLock { state in
                defer { state.reachable = true }
                return !state.reachable
            }
            if wasDown { logger.notice("reconnected to PostgreSQL", metadata: ["store": "\(location)"]) }
            connected = connection
        } catch {
            let failure = Self.message(for: error, location: location, connecting: true)
            let wasUp = state.withLock { state in
                defer { state.reachable = false }
                return state.reachable
            }
            if wasUp { logger.error("cannot reach PostgreSQL", metadata: ["error": "\(failure)"]) }
            throw .storageFailure(failure)
        }
        try probeStartupParameters(on: connected)
        return connected
    }

    /// Whether every transaction must set its parameters itself: the startup parameters did not reach the server.
    var startupParametersDropped: Bool { parametersDropped.load(ordering: .relaxed) }

    /// How long a transaction may sit idle: a daemon that stalls inside one releases its row locks after this.
    private static func idleInTransactionMilliseconds(_ location: PostgresLocation) -> Int64 {
        min(max(location.statementTimeoutMilliseconds * 4, 10_000), Int64(Int32.max))
    }

    /// The startup parameters a transaction must run under: its timeouts, and for a read-only pool, read-only.
    private static func guardedParameters(_ location: PostgresLocation, readOnly: Bool) -> [(String, String)] {
        [
            ("statement_timeout", "\(location.statementTimeoutMilliseconds)"),
            ("idle_in_transaction_session_timeout", "\(idleInTransactionMilliseconds(location))"),
        ] + (readOnly ? [("default_transaction_read_only", "on")] : [])
    }

    /// Asks a new connection's server whether it took the startup parameters from this connection: each in force
    /// with the value sent, and set by the client (`source` 'client'). A pooler in transaction mode never gives
    /// that. PgBouncer drops startup parameters (its operator has it ignore them), and a later transaction may run
    /// on another server connection than the one asked, with whatever settings the role has or other clients left;
    /// a value that matches by another source proves nothing about that connection. So unless every parameter came
    /// from this client, every transaction sets them itself (one statement more each), for good: the pooler stays.
    private func probeStartupParameters(on connection: PostgresConnection) throws(AccountStoreError) {
        guard !startupParametersDropped else { return }
        let expected = guardedStartupParameters
        let session = Session(connection: connection, pool: self)
        var found: [String: String] = [:]
        do {
            let names = expected.keys.sorted().map { "'\($0)'" }.joined(separator: ", ")
            let rows = try session.query(
                PostgresQuery(unsafeSQL: "SELECT name, setting, source FROM pg_settings WHERE name IN (\(names))")
            )
            for row in rows {
                let (name, setting, source) = try row.decode((String, String, String).self)
                found[name] = source == "client" ? setting : "\(setting) (\(source))"
            }
        } catch let failure as QueryFailure where failure.sqlState != nil {
            // The server answered, but not with the settings (pg_settings revoked, say): nothing proves them.
            found = [:]
        } catch {
            _ = try? connection.close().wait()
            let cause = (error as? QueryFailure)?.error ?? error
            throw .storageFailure(Self.message(for: cause, location: location, connecting: true))
        }
        guard found != expected else { return }
        parametersDropped.store(true, ordering: .relaxed)
        let seen = expected.keys.sorted().map { "\($0)=\(found[$0] ?? "none")" }.joined(separator: " ")
        logger.notice(
            """
            the PostgreSQL server did not take the connection's startup parameters as sent (a pooler such as \
            PgBouncer in between): each transaction sets its timeouts itself, one statement more
            """,
            metadata: ["store": "\(location)", "server-settings": "\(seen)"]
        )
    }

    private func checkIn(_ connection: PostgresConnection, healthy: Bool) {
        let keep =
            healthy && !connection.isClosed
            && state.withLock { state in
                guard !state.closed else { return false }
                state.idle.append(connection)
                return true
            }
        if !keep { _ = try? connection.close().wait() }
    }

    /// Marks the server unreachable after a connection broke, so that the next success logs the recovery.
    func connectionBroke(_ message: String) {
        let wasUp = state.withLock { state in
            defer { state.reachable = false }
            return state.reachable
        }
        if wasUp { logger.error("lost the connection to PostgreSQL", metadata: ["error": "\(message)"]) }
    }

    /// Keeps a query's future that will never complete alive; rare (a connection lost at the wrong moment),
    /// and bounded by dropping the oldest beyond a thousand, which only a debug build would notice.
    func abandon(_ future: EventLoopFuture<PostgresQueryResult>) {
        state.withLock { state in
            state.abandoned.append(future)
            if state.abandoned.count > 1_000 { state.abandoned.removeFirst() }
        }
    }

    /// Closes every idle connection; connections in use close when they are checked in.
    func close() {
        let idle = state.withLock { state in
            state.closed = true
            defer { state.idle = [] }
            return state.idle
        }
        for connection in idle { _ = try? connection.close().wait() }
    }

    deinit { close() }

    /// What went wrong, in a few words, for a sentence that says what it means: the server's SQLSTATE and
    /// message, or the connection's failure.
    static func detail(of error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if error.code == .server, let server = error.serverInfo {
            return "SQLSTATE \(server[.sqlState] ?? ""): \(server[.message] ?? "")"
        }
        return error.underlying.map { "\($0)" } ?? "\(error.code)"
    }

    /// An operator's sentence for a PostgreSQL error: what failed, where, and what to do. Never the query's
    /// parameters (records, names) and never the password.
    static func message(for error: any Error, location: PostgresLocation, connecting: Bool) -> String {
        guard let error = error as? PSQLError else {
            return connecting
                ? "cannot reach the PostgreSQL store \(location): \(error): check that the server is running "
                    + "and reachable from this host"
                : "the connection to the PostgreSQL store \(location) failed (\(error)): the change may or may not "
                    + "have been made; twofactord reconnects at the next request"
        }
        let server = error.serverInfo
        let state = server?[.sqlState] ?? ""
        let text = server?[.message] ?? ""
        switch error.code {
        case .server where state == "28P01" || state == "28000":
            return "PostgreSQL refused the login of '\(location.user)' at \(location): \(text): check the password "
                + "in --store-password-file (or the credential \(PostgresPassword.credentialName)) and pg_hba.conf"
        case .server where state == "3D000":
            return "the database of \(location) does not exist: \(text): create it (see docs/fleet.md)"
        case .server where state == "57014":
            return "a statement on \(location) ran past statement_timeout and was cancelled: check the server's "
                + "load and locks (pg_stat_activity); nothing was changed"
        case .server where text.hasPrefix("unsupported startup parameter"):
            return
                "a pooler in front of PostgreSQL at \(location) refused a startup parameter (\(text)): for PgBouncer, "
                + "set ignore_startup_parameters = statement_timeout,idle_in_transaction_session_timeout,"
                + "default_transaction_read_only in pgbouncer.ini (docs/fleet.md)"
        case .server where state.hasPrefix("57P") || state.hasPrefix("08"):
            return "the PostgreSQL server at \(location) is shutting down or unavailable (\(text)): "
                + "twofactord reconnects by itself once it is back"
        case .server where state == "25006":
            return "the PostgreSQL server at \(location) takes no writes (SQLSTATE 25006: \(text)): it is a standby, "
                + "or default_transaction_read_only is on for this database or role: point the store at the primary "
                + "or turn that setting off; nothing was changed"
        case .server where state == "42501":
            return "PostgreSQL denied '\(location.user)' access at \(location): \(text): grant it the database "
                + "(see docs/fleet.md)"
        case .server:
            return "PostgreSQL at \(location) answered an error (SQLSTATE \(state)): \(text)"
        case .sslUnsupported:
            return "the PostgreSQL server at \(location) does not offer TLS, which sslmode asks for: enable ssl on "
                + "the server, or use a Unix socket"
        case .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            return "PostgreSQL at \(location) asked for a password twofactord does not have or cannot use: "
                + "give --store-password-file (or the credential \(PostgresPassword.credentialName))"
        default:
            let detail = error.underlying.map { "\($0)" } ?? "\(error.code)"
            return connecting
                ? "cannot reach the PostgreSQL store \(location): \(detail): check that the server is running "
                    + "and reachable from this host; twofactord retries at the next request"
                : "the connection to the PostgreSQL store \(location) failed (\(detail)): the change may or may not "
                    + "have been made; twofactord reconnects at the next request"
        }
    }
}

/// A checked-out connection. Every query waits with the pool's deadline.
final class Session {
    let connection: PostgresConnection
    unowned let pool: ConnectionPool
    /// The connection failed in a way that leaves its state unknown: it must not be reused.
    private(set) var broken = false
    /// The first statement found the connection already closed or being closed by the server (`isClosedByServer`):
    /// it took no effect, and neither did anything before it (`ConnectionPool.withConnection`).
    private(set) var foundClosedAtFirstStatement = false
    private var statementsSent = 0

    init(connection: PostgresConnection, pool: ConnectionPool) {
        self.connection = connection
        self.pool = pool
    }

    /// Runs one statement and returns its rows. A server error leaves the connection usable (the caller
    /// rolls back); any other failure marks it broken.
    func query(_ query: PostgresQuery) throws(QueryFailure) -> [PostgresRow] {
        statementsSent += 1
        do {
            return try answer(query)
        } catch {
            if statementsSent == 1 && Self.isClosedByServer(error) { foundClosedAtFirstStatement = true }
            throw error
        }
    }

    /// Whether `failure` says that the server had closed the connection or was closing it: a connection found
    /// closed, or the server's own words for a backend that is going (SQLSTATE class 57P: terminated by an
    /// administrator or a shutdown, idle_session_timeout; class 08: a connection exception). Not a missing
    /// answer: the server may still be working on that statement.
    private static func isClosedByServer(_ failure: QueryFailure) -> Bool {
        if let state = failure.sqlState { return state.hasPrefix("57P") || state.hasPrefix("08") }
        if let lost = failure.error as? ConnectionLost { return lost == .closed }
        guard let error = failure.error as? PSQLError else { return false }
        return error.code == .serverClosedConnection || error.code == .connectionError
            || error.code == .uncleanShutdown
    }

    private func answer(_ query: PostgresQuery) throws(QueryFailure) -> [PostgresRow] {
        guard !connection.isClosed else {
            markBroken(ConnectionLost.closed)
            throw QueryFailure(error: ConnectionLost.closed, sqlState: nil)
        }
        // The wait is on a promise of our own, failed at the deadline: postgres-nio leaves a query written to
        // a connection that closed meanwhile unanswered forever, so its future alone may never complete.
        let eventLoop = connection.eventLoop
        let answer = eventLoop.makePromise(of: [PostgresRow].self)
        let future = connection.query(query, logger: Self.quiet)
        future.whenComplete { result in answer.completeWith(result.map { $0.rows }) }
        let guardTask = eventLoop.scheduleTask(in: pool.answerDeadline) { [connection, pool] in
            answer.fail(ConnectionLost.noAnswer)
            // Kept, never completed: a dropped unfulfilled future is a fatal error in debug builds.
            pool.abandon(future)
            connection.close().whenComplete { _ in }
        }
        defer { guardTask.cancel() }
        do {
            return try answer.futureResult.wait()
        } catch let error as PSQLError where error.code == .server {
            let state = error.serverInfo?[.sqlState] ?? ""
            // A cancelled statement or a dying backend leaves the session in doubt.
            if state.hasPrefix("57P") || state.hasPrefix("08") { markBroken(error) }
            throw QueryFailure(error: error, sqlState: state)
        } catch {
            markBroken(error)
            throw QueryFailure(error: error, sqlState: nil)
        }
    }

    private func markBroken(_ error: any Error) {
        broken = true
        pool.connectionBroke(ConnectionPool.message(for: error, location: pool.location, connecting: false))
    }

    private static let quiet = Logger(label: "twofactord.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// A connection that failed under a query without postgres-nio saying so.
enum ConnectionLost: Error, CustomStringConvertible {
    case closed
    case noAnswer

    var description: String {
        switch self {
        case .closed: "the connection was closed"
        case .noAnswer: "no answer within statement_timeout plus 5 seconds"
        }
    }
}

/// A failed statement: the server's SQLSTATE when the server answered, nil when the connection failed.
struct QueryFailure: Error {
    let error: any Error
    let sqlState: String?

    var isRetryable: Bool { sqlState == "40001" || isDeadlock }
    /// An undefined table, column or function, a type that does not match (SQLSTATE class 42 but for a denied
    /// privilege), or a NOT NULL column the statement does not fill: what a schema newer than this build gives.
    var mayMeanANewerSchema: Bool {
        guard let sqlState else { return false }
        return (sqlState.hasPrefix("42") && sqlState != "42501") || sqlState == "23502"
    }
    var isDeadlock: Bool { sqlState == "40P01" }
}
