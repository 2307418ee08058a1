import AccountStore

/// How failed logins slow an account down (NIST SP 800-63B, 5.2.2).
///
/// The first `freeFailures` failures of a throttle key cost nothing; after that the key is locked for a
/// delay that doubles with every further failure, from `baseDelay` up to `maximumDelay` seconds, counted
/// from the last failure. A success resets the key. Separately, an account whose failures through
/// privileged peers (sshd, login: the PAM paths) reach `hardLockAfter` in a row is locked until an admin or
/// operator unlocks it; so is a name without an account, whose failures the store counts in its place.
public struct ThrottlePolicy: Sendable, Hashable {
    public var freeFailures: UInt32
    public var baseDelay: Int64
    public var maximumDelay: Int64
    public var hardLockAfter: UInt32

    /// Five free tries, then 30 s, 60 s, 120 s ... up to an hour; a hard lock after 100 failures in a row.
    public static let standard = ThrottlePolicy(freeFailures: 5, baseDelay: 30, maximumDelay: 3600, hardLockAfter: 100)

    public init(freeFailures: UInt32, baseDelay: Int64, maximumDelay: Int64, hardLockAfter: UInt32 = 100) {
        self.freeFailures = freeFailures
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
        self.hardLockAfter = hardLockAfter
    }

    /// The delay imposed after `failureCount` consecutive failures (0 when none).
    public func delay(afterFailures failureCount: UInt32) -> Int64 {
        guard failureCount >= freeFailures else { return 0 }
        let doublings = min(failureCount - freeFailures, 32)
        let delay = baseDelay << Int64(doublings)
        return delay > maximumDelay || delay <= 0 ? maximumDelay : delay
    }

    /// Seconds to wait at `now` after `failures` failures, the last at `lastFailure`; nil when free to try.
    public func retryAfter(failures: UInt32, lastFailure: UnixTime?, now: UnixTime) -> Int64? {
        guard let lastFailure else { return nil }
        let delay = delay(afterFailures: failures)
        guard delay > 0 else { return nil }
        let wait = lastFailure + delay - now
        return wait > 0 ? wait : nil
    }

    /// Seconds the account must still wait at `now` because of its failures through privileged peers,
    /// or nil when it may try. A hard-locked account waits `Int64.max`: until it is unlocked.
    public func retryAfter(for account: Account, now: UnixTime) -> Int64? {
        retryAfter(accountWide: account.accountWideFailures, now: now)
    }

    /// `retryAfter(for:now:)` over the account-wide failures the store counted: an account's own, or the
    /// stand-in's of a name without an account, which is locked by the same rule.
    public func retryAfter(accountWide: ThrottleRecord, now: UnixTime) -> Int64? {
        if accountWide.failures >= hardLockAfter { return .max }
        return retryAfter(failures: accountWide.failures, lastFailure: accountWide.lastFailureAt, now: now)
    }
}
