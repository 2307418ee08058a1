import Foundation
import Glibc

/// A throwaway PostgreSQL cluster (Debian's postgresql package) in a temporary directory, listening on a
/// Unix socket only. The server refuses to run as root, so as root (CI) initdb and pg_ctl run as the
/// `postgres` user the package creates; otherwise as the current user. When the server cannot be started
/// the error says why, and the tests that need it fail: they never pass without a server.
///
/// Logins: the superuser `postgres` by trust, every other role by password (scram-sha-256), so the
/// daemon's password handling is exercised; `makeDatabase()` gives each test a database of its own owned
/// by the role `twofactord`, whose password is in `passwordFile`.
public final class PostgresCluster: @unchecked Sendable {
    public static let binaries = "/usr/lib/postgresql/15/bin"
    public static let role = "twofactord"
    /// A password for the test role only; it passes nowhere else.
    public static let rolePassword = "test-only-Db-passw0rd"

    /// The cluster most tests share; started on first use, stopped when the test process exits.
    public static let shared: Result<PostgresCluster, ClusterError> = Result { () throws(ClusterError) in
        let cluster = try PostgresCluster()
        sharedForExit = cluster
        atexit { PostgresCluster.sharedForExit?.discard() }
        return cluster
    }
    nonisolated(unsafe) private static var sharedForExit: PostgresCluster?

    /// The cluster's directory: data, socket, log and the password file.
    public let directory: String
    public var socketDirectory: String { directory }
    public var passwordFile: String { directory + "-password" }
    private var dataDirectory: String { directory + "/data" }
    private var logFile: String { directory + "/server.log" }
    private let owner: (uid: uid_t, gid: gid_t)?
    /// With `tls`: the server also listens on loopback TCP at this port, for TLS connections only, with a
    /// certificate for `localhost` signed by itself (`certificateFile`, also the root to trust).
    public let tlsPort: Int?
    public var certificateFile: String { directory + "/server.crt" }
    /// The port of the server (and of its socket's name).
    public var port: Int { tlsPort ?? 5432 }

    public struct ClusterError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Creates and starts a new cluster; with `tls`, one that also serves TLS on loopback.
    public init(tls: Bool = false) throws(ClusterError) {
        guard access(Self.binaries + "/initdb", X_OK) == 0 else {
            throw ClusterError(
                description: "PostgreSQL is not installed (\(Self.binaries)/initdb is missing): run make test-deps "
                    + "(it installs Debian's postgresql package)"
            )
        }
        var template = Array("/tmp/tfd-pg-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw ClusterError(description: "cannot make a directory for the cluster: errno \(errno)")
        }
        directory = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
        if geteuid() == 0 {
            guard let entry = getpwnam("postgres") else {
                throw ClusterError(
                    description: "running as root, but there is no postgres user to run the server as: "
                        + "install Debian's postgresql package (make test-deps)"
                )
            }
            owner = (entry.pointee.pw_uid, entry.pointee.pw_gid)
            chown(directory, entry.pointee.pw_uid, entry.pointee.pw_gid)
        } else {
            owner = nil
        }
        chmod(directory, 0o700)
        tlsPort = tls ? Self.freeLoopbackPort() : nil
        let passwordFile = self.passwordFile
        _ = FileManager.default.createFile(
            atPath: passwordFile,
            contents: Data((Self.rolePassword + "\n").utf8),
            attributes: [.posixPermissions: 0o600]
        )
        try asServerUser(
            [
                Self.binaries + "/initdb", "-D", dataDirectory, "-U", "postgres", "-A", "trust", "--no-sync",
                "-E", "UTF8", "--locale=C",
            ],
            what: "initdb"
        )
        var hba = """
            local all postgres trust
            local all all scram-sha-256
            """
        if tls {
            // TLS connections only over TCP: a client without TLS finds no matching line and is refused.
            hba += "\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256"
            try makeCertificate()
        }
        guard FileManager.default.createFile(atPath: dataDirectory + "/pg_hba.conf", contents: Data(hba.utf8)) else {
            throw ClusterError(description: "cannot write pg_hba.conf in \(dataDirectory)")
        }
        if let owner { chown(dataDirectory + "/pg_hba.conf", owner.uid, owner.gid) }
        try start()
        try psql("CREATE ROLE \(Self.role) LOGIN PASSWORD '\(Self.rolePassword)'")
    }

    /// Starts the server (again) and waits until it accepts connections.
    public func start() throws(ClusterError) {
        var options =
            "-c unix_socket_directories='\(socketDirectory)' -c fsync=off "
            + "-c max_connections=400 -c shared_buffers=32MB"
        if let tlsPort {
            options +=
                " -c listen_addresses='localhost' -c port=\(tlsPort) -c ssl=on"
                + " -c ssl_cert_file='\(certificateFile)' -c ssl_key_file='\(directory)/server.key'"
        } else {
            options += " -c listen_addresses=''"
        }
        try asServerUser(
            [Self.binaries + "/pg_ctl", "-D", dataDirectory, "-l", logFile, "-o", options, "-w", "-t", "60", "start"],
            what: "pg_ctl start"
        )
    }

    /// Stops the server; `immediate` skips the checkpoint (the data is thrown away anyway).
    public func stop(immediate: Bool = true) {
        _ = try? asServerUser(
            [Self.binaries + "/pg_ctl", "-D", dataDirectory, "-m", immediate ? "immediate" : "fast", "-w", "stop"],
            what: "pg_ctl stop"
        )
    }

    /// The server's process, while it runs.
    public var serverProcess: pid_t? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
            let line = text.split(separator: "\n").first
        else { return nil }
        return pid_t(line)
    }

    /// Sends `signal` to the server and every process it started (SIGSTOP: a server that stops answering
    /// without closing its connections, as a hung host or a cut network looks; SIGCONT resumes it).
    public func signalServer(_ signal: Int32) throws(ClusterError) {
        guard let server = serverProcess else {
            throw ClusterError(description: "the server is not running (no postmaster.pid)")
        }
        var processes = [server]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // Fields after the command name: state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == server { processes.append(pid) }
        }
        for pid in processes { kill(pid, signal) }
    }

    deinit { discard() }

    /// Stops the server and removes its files (the shared cluster's static value is never destroyed, so
    /// the test process does this at exit).
    func discard() {
        try? signalServer(SIGCONT)
        stopBouncer()
        stop()
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.removeItem(atPath: passwordFile)
    }

    /// A new, empty database owned by the test role; returns its `postgresql://` URL.
    public func makeDatabase() throws(ClusterError) -> String {
        let name = "t_" + UUID().uuidString.prefix(13).lowercased().replacingOccurrences(of: "-", with: "_")
        try psql("CREATE DATABASE \(name) OWNER \(Self.role)")
        return url(database: name)
    }

    /// The URL of `database` on this cluster's socket, for the test role.
    public func url(database: String) -> String {
        "postgresql://\(Self.role)@/\(database)?host=\(socketDirectory)"
    }

    /// Runs SQL as the superuser (root may connect to the socket directly; trust needs no password).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws(ClusterError) -> String {
        let result = Self.spawn(
            [
                "/usr/bin/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", socketDirectory, "-p",
                "\(port)", "-U", "postgres",
                "-d", database, "-c", sql,
            ]
        )
        guard result.status == 0 else { throw ClusterError(description: "psql failed: \(result.output)") }
        return result.output
    }

    /// The port of the PgBouncer in front of the cluster (`startBouncer`), on the same socket directory.
    public static let bouncerPort = 6432

    /// Starts PgBouncer in transaction mode in front of this cluster, configured as docs/fleet.md says: it passes
    /// the role's logins on with the same password, and ignores the startup parameters it cannot pass on (unless
    /// `ignoringStartupParameters` is false, as an operator who did not read that far would have it).
    public func startBouncer(ignoringStartupParameters: Bool = true) throws(ClusterError) {
        let ignored =
            ignoringStartupParameters
            ? "statement_timeout,idle_in_transaction_session_timeout,default_transaction_read_only" : ""
        let configuration = """
            [databases]
            * = host=\(socketDirectory) port=\(port)
            [pgbouncer]
            listen_addr =
            listen_port = \(Self.bouncerPort)
            unix_socket_dir = \(socketDirectory)
            auth_type = scram-sha-256
            auth_file = \(directory)/bouncer-users.txt
            pool_mode = transaction
            ignore_startup_parameters = \(ignored)
            logfile = \(directory)/bouncer.log
            pidfile = \(directory)/bouncer.pid
            """
        let files = [
            ("bouncer.ini", configuration),
            ("bouncer-users.txt", "\"\(Self.role)\" \"\(Self.rolePassword)\"\n"),
        ]
        for (name, text) in files {
            let path = directory + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
                throw ClusterError(description: "cannot write \(path)")
            }
            if let owner { chown(path, owner.uid, owner.gid) }
        }
        try asServerUser(["/usr/sbin/pgbouncer", "-d", "-q", directory + "/bouncer.ini"], what: "pgbouncer")
        for _ in 0..<200 where access(socketDirectory + "/.s.PGSQL.\(Self.bouncerPort)", F_OK) != 0 {
            usleep(25_000)
        }
    }

    /// `url` (of `makeDatabase`) through the PgBouncer of `startBouncer`.
    public func throughBouncer(_ url: String) -> String {
        url + "&port=\(Self.bouncerPort)"
    }

    /// Kills the PgBouncer of `startBouncer`. Not SIGTERM or SIGINT: PgBouncer 1.18 takes them for a shutdown that
    /// waits, and outlived the tests that way; it holds nothing worth a clean end.
    private func stopBouncer() {
        guard let text = try? String(contentsOfFile: directory + "/bouncer.pid", encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return }
        kill(pid, SIGKILL)
    }

    /// The URL of `database` over TLS on loopback, for the test role (a cluster made with `tls` only).
    public func tlsURL(database: String, mode: String, rootCertificate: String?) -> String {
        "postgresql://\(Self.role)@localhost:\(port)/\(database)?sslmode=\(mode)"
            + (rootCertificate.map { "&sslrootcert=\($0)" } ?? "")
    }

    /// A self-signed certificate for `localhost` (and its key, readable by the server user only).
    private func makeCertificate() throws(ClusterError) {
        try Self.makeSelfSignedCertificate(key: directory + "/server.key", certificate: certificateFile)
        if let owner {
            chown(directory + "/server.key", owner.uid, owner.gid)
            chown(certificateFile, owner.uid, owner.gid)
        }
    }

    /// A self-signed certificate for `localhost` with openssl, for a server or as a root no server uses.
    public static func makeSelfSignedCertificate(key: String, certificate: String) throws(ClusterError) {
        let result = spawn([
            "/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", certificate,
        ])
        guard result.status == 0 else { throw ClusterError(description: "openssl req failed: \(result.output)") }
        chmod(key, 0o600)
    }

    /// A TCP port on loopback that nothing listens on now.
    private static func freeLoopbackPort() -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length)
                return getsockname(socket, pointer, &length)
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private func asServerUser(_ arguments: [String], what: String) throws(ClusterError) {
        var command = arguments
        if let owner {
            command =
                ["/usr/bin/setpriv", "--reuid", "\(owner.uid)", "--regid", "\(owner.gid)", "--clear-groups"]
                + arguments
        }
        let result = Self.spawn(command)
        guard result.status == 0 else {
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            throw ClusterError(
                description: "\(what) failed (status \(result.status)): \(result.output)\nserver log:\n\(log)"
            )
        }
    }

    /// Runs a command (with `ChildProcess`, not Foundation's Process, see DEVELOPERS.md) and returns its
    /// status and its standard output and error, read from a file once it exited.
    static func spawn(_ arguments: [String]) -> (status: Int32, output: String) {
        let outputPath = "/tmp/tfd-pg-output-\(UUID().uuidString)"
        defer { unlink(outputPath) }
        let pid: pid_t
        do { pid = try ChildProcess.start(arguments, output: outputPath) } catch { return (-1, error.description) }
        let status = ChildProcess.wait(pid)
        return (status, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }
}
