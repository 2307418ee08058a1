import AccountStore

/// How failed logins slow an account down.
///
/// The first `freeFailures` failures cost nothing; after that the account is locked for a delay
/// that doubles with every further failure, from `baseDelay` up to `maximumDelay` seconds,
/// counted from the last failure. A success resets the count (see `AccountStore.recordSuccess`).
public struct ThrottlePolicy: Sendable, Hashable {
    public var freeFailures: UInt32
    public var baseDelay: Int64
    public var maximumDelay: Int64

    /// Five free tries, then 30 s, 60 s, 120 s ... up to 15 minutes.
    public static let standard = ThrottlePolicy(freeFailures: 5, baseDelay: 30, maximumDelay: 900)

    public init(freeFailures: UInt32, baseDelay: Int64, maximumDelay: Int64) {
        self.freeFailures = freeFailures
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
    }

    /// The delay imposed after `failureCount` consecutive failures (0 when none).
    public func delay(afterFailures failureCount: UInt32) -> Int64 {
        guard failureCount >= freeFailures else { return 0 }
        let doublings = min(failureCount - freeFailures, 32)
        let delay = baseDelay << Int64(doublings)
        return delay > maximumDelay || delay <= 0 ? maximumDelay : delay
    }

    /// Seconds the account must still wait at `now`, or nil when it may try.
    public func retryAfter(for account: Account, now: UnixTime) -> Int64? {
        guard let lastFailure = account.lastFailureAt else { return nil }
        let delay = delay(afterFailures: account.failureCount)
        guard delay > 0 else { return nil }
        let wait = lastFailure + delay - now
        return wait > 0 ? wait : nil
    }
}
