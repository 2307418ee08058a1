import AccountStore
import Glibc

/// Where the PostgreSQL store lives, read from a `postgresql://` URL in libpq's style:
///
///     postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=MODE&sslrootcert=FILE&host=/SOCKET/DIR&...]
///
/// MUSTs:
/// - a URL that carries a password (`USER:PASSWORD@`, or `password=`) is refused: a URL is shown in `ps`,
///   in unit files and in logs; the password comes from a file (`passwordFile`) or a systemd credential;
/// - `description` never contains a password, so it may appear in every log line and error;
/// - an unknown parameter is an error, never ignored (a misspelt `sslmode` must not silently mean no TLS);
/// - `sslrootcert` is taken only with `sslmode=verify-full`, the one mode that checks the server: with libpq,
///   `require` and a root certificate means a checked CA, so a URL copied from libpq must not look checked here;
/// - only a loopback address, as parsed (or `localhost`), goes without TLS by default; a name that merely
///   starts with `127.` is a name.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// How TLS is used, as libpq's `sslmode` names it (only the modes that mean what they say).
    public enum TLSMode: String, Sendable, CaseIterable {
        /// No TLS: for a Unix socket or loopback.
        case disable
        /// TLS without checking the server's certificate: protects against listeners, not impostors.
        case require
        /// TLS, the certificate checked against the trusted roots (`sslrootcert`, else the system's) and the
        /// host name checked against it.
        case verifyFull = "verify-full"
    }

    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The server's socket file, e.g. `/run/postgresql/.s.PGSQL.5432`.
        case unixSocket(path: String)
    }

    public var endpoint: Endpoint
    public var user: String
    public var database: String
    public var tls: TLSMode
    /// A PEM file of the certificate authorities to trust for `verify-full`; nil: the system's roots.
    public var rootCertificateFile: String?
    /// Milliseconds one statement may run (lock waits included) before the server cancels it.
    public var statementTimeoutMilliseconds: Int64 = 5_000
    /// Seconds to wait for a connection to be made.
    public var connectTimeoutSeconds: Int64 = 5
    /// Connections to the server at most, per daemon.
    public var poolSize = 8

    /// The URL as given, minus nothing: it holds no password (see `init`).
    public let url: String

    public var description: String { url }

    /// Why a URL was refused.
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(url: String) throws(Problem) {
        self.url = url
        guard let schemeEnd = url.firstRange(of: "://"), StoreLocation.isPostgresURL(url) else {
            throw Problem(description: "the store '\(url)' is not a postgresql:// URL")
        }
        var rest = String(url[schemeEnd.upperBound...])
        var query = ""
        if let mark = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: mark)...])
            rest = String(rest[..<mark])
        }
        var authority = rest
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = String(rest[..<slash])
            path = String(rest[rest.index(after: slash)...])
        }
        var user = ""
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            user = String(authority[..<at])
            hostPort = String(authority[authority.index(after: at)...])
            if user.contains(":") {
                throw Problem(
                    description: "the store URL carries a password, which would show in ps, unit files and logs: "
                        + "remove it from the URL and put it in --store-password-file or the systemd credential "
                        + "twofactord-db-password"
                )
            }
        }
        var host = hostPort
        var port = 5432
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            host = String(hostPort[..<colon])
            guard let number = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(number) else {
                throw Problem(description: "the store URL's port must be a number from 1 to 65535")
            }
            port = number
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        host = try Self.percentDecoded(host)
        self.user = try Self.percentDecoded(user)
        self.database = try Self.percentDecoded(path)
        var tls: TLSMode?
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let name = String(parts[0])
            let value = try Self.percentDecoded(parts.count > 1 ? String(parts[1]) : "")
            switch name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw Problem(
                        description: "sslmode=\(value) is not supported: use "
                            + TLSMode.allCases.map(\.rawValue).joined(separator: ", ")
                    )
                }
                tls = mode
            case "sslrootcert": rootCertificateFile = value
            case "host": host = value
            case "port":
                guard let number = Int(value), (1...65535).contains(number) else {
                    throw Problem(description: "the store URL's port must be a number from 1 to 65535")
                }
                port = number
            case "user": self.user = value
            case "dbname": self.database = value
            case "statement_timeout":
                // PostgreSQL takes at most 2^31-1 ms (about 24 days) and refuses a connection asking more.
                guard let milliseconds = Int64(value), (1...Int64(Int32.max)).contains(milliseconds) else {
                    throw Problem(description: "statement_timeout takes milliseconds, from 1 to 2147483647")
                }
                statementTimeoutMilliseconds = milliseconds
            case "connect_timeout":
                guard let seconds = Int64(value), seconds > 0 else {
                    throw Problem(description: "connect_timeout takes seconds, more than 0")
                }
                connectTimeoutSeconds = seconds
            case "pool_size":
                guard let size = Int(value), (1...256).contains(size) else {
                    throw Problem(description: "pool_size takes a number of connections from 1 to 256")
                }
                poolSize = size
            case "password":
                throw Problem(
                    description: "the store URL carries a password, which would show in ps, unit files and logs: "
                        + "put it in --store-password-file or the systemd credential twofactord-db-password"
                )
            default:
                throw Problem(
                    description: "the store URL's parameter '\(name)' is unknown: known are sslmode, sslrootcert, "
                        + "host, port, user, dbname, statement_timeout, connect_timeout and pool_size"
                )
            }
        }
        guard !self.user.isEmpty else {
            throw Problem(description: "the store URL names no user: write postgresql://USER@HOST/DATABASE")
        }
        if self.database.isEmpty { self.database = self.user }
        if host.isEmpty { host = "/run/postgresql" }
        if host.hasPrefix("/") {
            // libpq's rule: a host that is a path names the directory of the socket, unless it is the socket.
            let isSocketFile = host.split(separator: "/").last?.hasPrefix(".s.PGSQL.") ?? false
            endpoint = .unixSocket(path: isSocketFile ? host : host + "/.s.PGSQL.\(port)")
            self.tls = tls ?? .disable
            if self.tls != .disable {
                throw Problem(description: "sslmode=\(self.tls.rawValue) is for TCP; a Unix socket needs no TLS")
            }
        } else {
            endpoint = .tcp(host: host, port: port)
            // A remote server gets checked TLS unless the URL says otherwise; loopback needs none.
            self.tls = tls ?? (Self.isLoopback(host) ? .disable : .verifyFull)
        }
        if rootCertificateFile != nil, self.tls != .verifyFull {
            throw Problem(
                description: "sslrootcert is used only with sslmode=verify-full (the server's certificate checked "
                    + "against it); with sslmode=\(self.tls.rawValue) nothing would check it: use verify-full, or "
                    + "drop sslrootcert"
            )
        }
    }

    /// Whether `host` is `localhost` or a loopback address (127.0.0.0/8, ::1), parsed as an address.
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, host, &v6) == 1 else { return false }
        return withUnsafeBytes(of: &v6) { $0.elementsEqual([UInt8](repeating: 0, count: 15) + [1]) }
    }

    private static func percentDecoded(_ text: String) throws(Problem) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            else { throw Problem(description: "the store URL has a malformed %-escape") }
            bytes.append(value)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
