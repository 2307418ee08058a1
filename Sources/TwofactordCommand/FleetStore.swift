import AccountStore
import Glibc
import Logging
import StoredRecords

/// The PostgreSQL store of a fleet (`--store postgresql://...`, `--copy-store-to postgresql://...`), as the
/// program that links it opens it: `twofactord-postgres`. PostgresNIO brings Foundation, CoreFoundation and
/// ICU along, whose start-up code runs in every program that links them and whose pages stay resident, about
/// 4 MiB of an idle daemon (docs/performance.md, Idle memory), and TLS code the LMDB daemon never runs. So
/// `twofactord` links none of it: a run that needs the store becomes `twofactord-postgres` (`FleetProgram`).
public protocol FleetStore {
    /// The store at `url`, its secrets sealed under `secretsKey`; `passwordFile` as `--store-password-file`.
    /// `readOnly` (`--check`): nothing is migrated or written, and a schema that would be is reported instead.
    static func open(
        url: String,
        passwordFile: String?,
        secretsKey: SecretsKey,
        auditRetention: AuditRetention,
        readOnly: Bool,
        logger: Logger
    ) throws -> any AccountStore

    /// The schema version of `store`, one this program opened, for `--check`.
    static func schemaVersion(of store: any AccountStore) throws -> Int
}

/// `twofactord-postgres`, which `twofactord` becomes for a PostgreSQL store: the same flags, settings and
/// daemon, with the store linked in.
enum FleetProgram {
    static let name = "twofactord-postgres"

    /// Whether a run with these settings works on a PostgreSQL store.
    static func isNeeded(store: String?, copyTarget: String?) -> Bool {
        store != nil || copyTarget.map(StoreLocation.isPostgresURL) == true
    }

    /// The opener of a program that links one; this is not reached in `twofactord`, which became
    /// `twofactord-postgres` before opening anything.
    static func linked(_ opener: (any FleetStore.Type)?) throws -> any FleetStore.Type {
        guard let opener else { throw Unavailable(reason: "this program does not link the PostgreSQL store") }
        return opener
    }

    /// Runs `twofactord-postgres` from this program's directory in this process, with the same arguments and
    /// environment. The process keeps its id, open descriptors and parent, so socket activation
    /// (`LISTEN_PID`), `sd_notify` and a service manager's supervision carry over. Returns only by throwing.
    static func replaceThisProcess() throws -> Never {
        var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &target, target.count - 1)
        guard length > 0 else {
            throw Unavailable(reason: "cannot find this program's own file: \(String(cString: strerror(errno)))")
        }
        let ownPath = String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let directory = ownPath.lastIndex(of: "/").map { String(ownPath[..<$0]) } ?? "."
        let path = directory + "/" + name
        // The arguments as the kernel gave them (`CommandLine.arguments` would have repaired bytes that are
        // not UTF-8), after the new program's path.
        let program = strdup(path)
        var argv = [program] + (1..<Int(CommandLine.argc)).map { CommandLine.unsafeArgv[$0] } + [nil]
        execv(path, &argv)
        let problem = String(cString: strerror(errno))
        free(program)
        throw Unavailable(
            reason: "\(path) cannot be run (\(problem)): install it beside twofactord, as make install does"
        )
    }

    struct Unavailable: Error, CustomStringConvertible {
        let reason: String
        var description: String {
            "a PostgreSQL store is served by \(FleetProgram.name), but \(reason)"
        }
    }
}
