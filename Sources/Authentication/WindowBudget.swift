// MUSTs of a window budget (the per-account limits of AccountService, the log lines of the daemon):
// - a key gets at most `perKey` uses per window of `interval` seconds, and all keys together `inAll`; a use
//   beyond that is refused and counted, and the count is reported with the key's next granted use;
// - a use spent together with a group's use in a second budget (`spend(_:now:alongWith:in:)`) is granted only
//   when both have room, and then counted in both; refused, it is counted in neither, only as refused for the
//   key: a key at its own limit cannot use up its group's budget;
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
        let window = currentWindow(of: key, at: now)
        if let wait = refusal(of: window, at: now) { return refuse(key, window, retryAfter: wait) }
        return grant(key, window)
    }

    /// Spends one use of `key` at `now` and one of `group` in `groups`, or neither: refused by either budget,
    /// the use is counted as refused for `key` alone, and reported with its next granted use. For a limit per
    /// key within a limit per group (each account's refusals within its organization's).
    public mutating func spend<Group>(
        _ key: Key,
        now: Int64,
        alongWith group: Group,
        in groups: inout WindowBudget<Group>
    ) -> Decision {
        let window = currentWindow(of: key, at: now)
        let groupWindow = groups.currentWindow(of: group, at: now)
        if let wait = refusal(of: window, at: now) ?? groups.refusal(of: groupWindow, at: now) {
            return refuse(key, window, retryAfter: wait)
        }
        _ = groups.grant(group, groupWindow)
        return grant(key, window)
    }

    /// The refusals of each key not yet reported with a granted use, which it forgets: for a caller that reports
    /// them itself (a daemon stopping).
    public mutating func takeSuppressed() -> [(key: Key, count: Int)] {
        let taken = windows.compactMap { key, window in window.suppressed > 0 ? (key, window.suppressed) : nil }
        for (key, _) in taken { windows[key]?.suppressed = 0 }
        return taken
    }

    /// Whether `key` has no use left in its window at `now`: true right after the use that spent its last one.
    public func isSpent(_ key: Key, now: Int64) -> Bool {
        guard let window = windows[key], !isOver(window, at: now) else { return false }
        return window.used >= perKey
    }

    /// The window of `key` at `now`, after starting a new window for all keys when the last one ended.
    private mutating func currentWindow(of key: Key, at now: Int64) -> Window {
        if all.map({ isOver($0, at: now) }) ?? true {
            all = Window(start: now, used: 0, suppressed: 0)
            // Keys whose window ended and whose refusals were reported are forgotten, so the table stays small.
            windows = windows.filter { !isOver($0.value, at: now) || $0.value.suppressed > 0 }
        }
        let window = windows[key] ?? Window(start: now, used: 0, suppressed: 0)
        return isOver(window, at: now) ? Window(start: now, used: 0, suppressed: window.suppressed) : window
    }

    /// The seconds until `window` (current) may be granted a use again; nil when it may be now.
    private func refusal(of window: Window, at now: Int64) -> Int64? {
        guard let shared = all else { return nil }
        guard window.used >= perKey || shared.used >= inAll else { return nil }
        let ends = window.used < perKey ? shared.start : window.start
        return max(1, ends + interval - now)
    }

    private mutating func refuse(_ key: Key, _ window: Window, retryAfter: Int64) -> Decision {
        var window = window
        window.suppressed += 1
        windows[key] = window
        return .exhausted(retryAfter: retryAfter)
    }

    private mutating func grant(_ key: Key, _ window: Window) -> Decision {
        var window = window
        let suppressed = window.suppressed
        window.used += 1
        window.suppressed = 0
        all?.used += 1
        windows[key] = window
        return .granted(suppressedBefore: suppressed)
    }
}
