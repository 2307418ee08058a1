import AccountService
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The account service the dispatcher uses, replaceable while the daemon runs: a reload builds a
/// new one over the same store with the new settings, and requests after the swap use it.
public final class ServiceSlot: Sendable {
    private let service: Mutex<AccountService>

    public init(_ service: AccountService) { self.service = Mutex(service) }

    public var current: AccountService { service.withLock { $0 } }

    public func replace(with service: AccountService) { self.service.withLock { $0 = service } }
}

/// Re-reads the settings on SIGHUP and applies what can change without a restart.
///
/// MUSTs: a file that fails to read or validate changes nothing (the daemon keeps its running
/// settings and says why); a changed key that needs a restart is named in the log, not applied.
public final class SettingsReloader: Sendable {
    public typealias Load = @Sendable () throws(DaemonSettings.Problem) -> DaemonSettings

    private let load: Load
    private let running: Mutex<DaemonSettings>
    private let apply: @Sendable (DaemonSettings) -> Void
    private let logger: Logger

    /// `load` reads the file and applies the flags again; `apply` puts reloadable settings in force.
    public init(
        running: DaemonSettings,
        load: @escaping Load,
        apply: @escaping @Sendable (DaemonSettings) -> Void,
        logger: Logger
    ) {
        self.running = Mutex(running)
        self.load = load
        self.apply = apply
        self.logger = logger
    }

    /// The settings in force.
    public var current: DaemonSettings { running.withLock { $0 } }

    /// One reload; returns the keys that changed but wait for a restart.
    @discardableResult
    public func reload() -> [String] {
        let loaded: DaemonSettings
        do {
            loaded = try load()
        } catch {
            logger.error("configuration not reloaded: keeping the running settings", metadata: ["reason": "\(error)"])
            return []
        }
        let previous = current
        let changed = loaded.changedKeys(comparedTo: previous)
        var next = previous
        var pending: [String] = []
        for key in changed {
            if key.reloadable {
                key.copy(from: loaded, to: &next)
            } else {
                pending.append("\(key.section).\(key.name)")
            }
        }
        running.withLock { $0 = next }
        apply(next)
        let applied = changed.filter(\.reloadable).map { "\($0.section).\($0.name)" }
        logger.notice(
            "configuration reloaded",
            metadata: ["applied": "\(applied.isEmpty ? "nothing" : applied.joined(separator: ","))"]
        )
        if !pending.isEmpty {
            logger.warning(
                "configuration changes need a restart of twofactord",
                metadata: ["keys": "\(pending.joined(separator: ","))"]
            )
        }
        return pending
    }
}

/// Calls `reload` on each SIGHUP until the daemon shuts down.
public struct HangupReloadService: Service {
    let reloader: SettingsReloader

    public init(reloader: SettingsReloader) { self.reloader = reloader }

    public func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            reloader.reload()
        }
    }
}

extension Dispatcher {
    /// A dispatcher over one service that is never replaced (tests, and servers without reload).
    init(service: AccountService, operators: OperatorPolicy, codeCheckers: OperatorPolicy? = nil) {
        self.init(services: ServiceSlot(service), operators: operators, codeCheckers: codeCheckers)
    }
}
