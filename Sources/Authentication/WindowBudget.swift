// MUSTs of a window budget (the per-account limits of AccountService, the log lines of the daemon):
// - a key gets at most `perKey` uses per window of `interval` seconds, and all keys together `inAll`; a use
//   beyond that is refused and counted, and the count is reported with the key's next granted use;
// - the table forgets keys whose window ended and whose refusals were reported, so it stays small;
// - a decision is a pure function of the counts and the given time (a clock that went back ends a window).

/// A fixed window of `perKey` uses per key and `inAll` for all keys together, every `interval` seconds. A pure
/// value: the caller gives the time.
public struct WindowBudget<Key: Hashable & Sendable>: Sendable {
    public enum Decision: Sendable, Equatable {
        /// Granted; `suppressedBefore` uses of this key were refused since the last one granted.
        case granted(suppressedBefore: Int)
        /// Refused; a use may be granted again in `retryAfter` seconds.
        case exhausted(retryAfter: Int64)
    }

    private struct Window: Sendable {
        var start: Int64
        var used: Int
        var suppressed: Int
    }

    public let interval: Int64
    public let perKey: Int
    public let inAll: Int
    private var windows: [Key: Window] = [:]
    private var all: Window?

    public init(interval: Int64, perKey: Int, inAll: Int = .max) {
        self.interval = max(1, interval)
        self.perKey = max(1, perKey)
        self.inAll = max(1, inAll)
    }

    /// A window ends after `interval` seconds, or at once when the clock went back.
    private func isOver(_ window: Window, at now: Int64) -> Bool {
        now < window.start || now - window.start >= interval
    }

    /// Spends one use of `key` at `now` (seconds), or counts it as refused.
    public mutating func spend(_ key: Key, now: Int64) -> Decision {
        if all.map({ isOver($0, at: now) }) ?? true {
            all = Window(start: now, used: 0, suppressed: 0)
            // Keys whose window ended and whose refusals were reported are forgotten, so the table stays small.
            windows = windows.filter { !isOver($0.value, at: now) || $0.value.suppressed > 0 }
        }
        var window = windows[key] ?? Window(start: now, used: 0, suppressed: 0)
        if isOver(window, at: now) { window = Window(start: now, used: 0, suppressed: window.suppressed) }
        guard window.used < perKey, let shared = all, shared.used < inAll else {
            window.suppressed += 1
            windows[key] = window
            let ends = window.used < perKey ? (all?.start ?? now) : window.start
            return .exhausted(retryAfter: max(1, ends + interval - now))
        }
        let suppressed = window.suppressed
        window.used += 1
        window.suppressed = 0
        all?.used += 1
        windows[key] = window
        return .granted(suppressedBefore: suppressed)
    }
}
