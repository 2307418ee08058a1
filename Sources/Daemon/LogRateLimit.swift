import Authentication
import Glibc
import Logging
import Synchronization

// MUSTs of log rate limiting:
// - a peer that is not an operator causes at most `linesPerPeer` log lines per `interval` seconds per key
//   (its uid, or its uid and a kind of refusal); what it causes beyond that is counted, not written, and the
//   count is reported on the key's next written line (`WindowBudget`);
// - all non-operator peers together cause at most `linesInAll` lines per interval, so that many uids cannot
//   add up to an unbounded log either;
// - lines caused by operators, or by the daemon itself, are never dropped.

/// The peer whose request the current thread is serving, for log rate limiting. Bound by the
/// connection handler around the work it does for a peer; unbound for the daemon's own lines.
enum PeerLogContext {
    @TaskLocal static var current: ShareHolder?
}

/// Shares one budget of log lines between every logger of the process.
public final class LogRateLimiter: Sendable {
    private let limit: Mutex<WindowBudget<String>>
    private let clock: @Sendable () -> Int64

    /// By default a peer may cause 20 lines per minute, and all non-operator peers 200.
    public init(
        interval: Int64 = 60,
        linesPerPeer: Int = 20,
        linesInAll: Int = 200,
        clock: (@Sendable () -> Int64)? = nil
    ) {
        limit = Mutex(WindowBudget(interval: interval, perKey: linesPerPeer, inAll: linesInAll))
        self.clock = clock ?? { monotonicSeconds() }
    }

    func admit(_ key: String) -> WindowBudget<String>.Decision {
        let now = clock()
        return limit.withLock { $0.spend(key, now: now) }
    }
}

/// Seconds of the monotonic clock: rate windows must not jump with the wall clock.
func monotonicSeconds() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Int64(now.tv_sec)
}

/// Writes one line per peer and kind of refusal per interval, with the number refused meanwhile,
/// instead of one line per refused request.
final class RefusalLog: Sendable {
    private let limiter: LogRateLimiter
    private let logger: Logger

    init(logger: Logger, interval: Int64 = 60) {
        self.logger = logger
        self.limiter = LogRateLimiter(interval: interval, linesPerPeer: 1, linesInAll: 100)
    }

    func refused(_ holder: ShareHolder, _ what: String, because refusal: ShareRefusal) {
        let reason =
            switch refusal {
            case .peerShareExhausted: "this uid holds its whole share"
            case .full: "no place is left for peers that are not operators"
            }
        refused(holder, what, reason: reason)
    }

    func refused(_ holder: ShareHolder, _ what: String, reason: String) {
        guard case .granted(let suppressed) = limiter.admit("\(holder.uid) \(what) \(reason)") else { return }
        logger.warning(
            "refused: \(what)",
            metadata: [
                "uid": "\(holder.uid)", "reason": "\(reason)", "refused-since-last-line": "\(suppressed)",
            ]
        )
    }
}

/// A log handler that drops what a non-operator peer causes beyond its budget (see `LogRateLimiter`).
public struct RateLimitedLogHandler: LogHandler {
    private var inner: any LogHandler
    private let limiter: LogRateLimiter

    public init(wrapping inner: any LogHandler, limiter: LogRateLimiter) {
        self.inner = inner
        self.limiter = limiter
    }

    public func log(event: LogEvent) {
        guard let peer = PeerLogContext.current, !peer.isOperator else {
            inner.log(event: event)
            return
        }
        guard case .granted(let suppressed) = limiter.admit("uid \(peer.uid)") else { return }
        var event = event
        if suppressed > 0 {
            event.metadata = (event.metadata ?? [:]).merging(["suppressed-before": "\(suppressed)"]) { $1 }
        }
        inner.log(event: event)
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }

    public var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    public var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }
}
