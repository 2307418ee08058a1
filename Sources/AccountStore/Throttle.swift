/// Where a login attempt comes from, as far as throttling is concerned: a stranger's failures must not
/// lock the account for anyone else (docs/product.md "Logging in", and the hardening rules).
public enum ThrottleOrigin: Sendable, Hashable {
    /// An unprivileged local peer, or the user who ran su or sudo (the invoker a privileged peer reports),
    /// by uid: its failures count against (account, uid) only.
    case peer(uid: UInt32)
    /// A privileged peer (sshd, login through PAM) reporting the remote host: its failures count
    /// against (account, host) and toward the account's hard lock (the name's, for a name without an account).
    case host(String)
    /// A privileged peer without a remote host or invoker (a local console login, cron): its failures
    /// count against the account itself.
    case local

    /// Whether failures from here count toward the account's own counter and hard lock (for a name without an
    /// account, toward the stand-in counter the store keeps in its place).
    public var isPrivileged: Bool {
        if case .peer = self { false } else { true }
    }
}

/// One throttle counter: the name tried (an existing account's name, or a stand-in for an unknown one,
/// so that unknown users are throttled exactly like existing ones) and the origin of the attempts.
public struct ThrottleKey: Sendable, Hashable {
    public var subject: String
    public var origin: ThrottleOrigin

    public init(subject: String, origin: ThrottleOrigin) {
        self.subject = subject
        self.origin = origin
    }
}

/// The failures counted for one throttle key, or for a subject as a whole (`AccountStore.ThrottleDecision`).
public struct ThrottleRecord: Sendable, Hashable {
    public var failures: UInt32
    public var lastFailureAt: UnixTime?

    public init(failures: UInt32 = 0, lastFailureAt: UnixTime? = nil) {
        self.failures = failures
        self.lastFailureAt = lastFailureAt
    }

    /// Counts one more failure at `time`; the count stops at its maximum instead of wrapping to zero.
    public mutating func countFailure(at time: UnixTime) {
        failures = failures == .max ? .max : failures + 1
        lastFailureAt = time
    }
}

extension Account {
    /// The account's own failures through privileged peers, as the throttle reads them.
    public var accountWideFailures: ThrottleRecord {
        get { ThrottleRecord(failures: failureCount, lastFailureAt: lastFailureAt) }
        set { (failureCount, lastFailureAt) = (newValue.failures, newValue.lastFailureAt) }
    }
}

/// The throttle's rule, given what the store counted: the attempt key's own record and, for a privileged
/// origin only, the failures of the subject as a whole. Those are the account's own counter when an account
/// of that name exists, and otherwise a stand-in record the store keeps for the name, so that a name
/// without an account is counted and locked exactly like an account (docs/security.md, "Strangers cannot
/// lock anyone out"). An unprivileged origin gets nil: its failures never reach the subject as a whole.
public typealias ThrottleDecision = (_ key: ThrottleRecord, _ accountWide: ThrottleRecord?) -> AttemptReservation

/// The answer to `AccountStore.reserveAttempt`.
public enum AttemptReservation: Sendable, Hashable {
    /// The attempt may run; it was already counted as a failure, to be cleared if it succeeds.
    case allowed
    /// Locked for this many more seconds (`Int64.max`: until unlocked); nothing was counted.
    case locked(retryAfter: Int64)
}

/// The failures counted for one origin of a subject, as `AccountStore.throttleRecords` lists them.
public struct OriginThrottleRecord: Sendable, Hashable {
    public var origin: ThrottleOrigin
    public var record: ThrottleRecord

    public init(origin: ThrottleOrigin, record: ThrottleRecord) {
        self.origin = origin
        self.record = record
    }
}

/// Which throttle records `AccountStore.throttleRecords` lists. The store reads only records with at least
/// `minimumFailures` failures, the last at or after `failedSince` (a query a database can answer from its
/// columns), and lists those of them that `accepts`: for `user show`, the ones that hold a lock now.
public struct ThrottleFilter {
    public var minimumFailures: UInt32
    public var failedSince: UnixTime
    public var accepts: (ThrottleRecord) -> Bool

    public init(minimumFailures: UInt32, failedSince: UnixTime, accepts: @escaping (ThrottleRecord) -> Bool) {
        self.minimumFailures = minimumFailures
        self.failedSince = failedSince
        self.accepts = accepts
    }

    /// Whether `record` passes the whole filter; stores that cannot ask their database use this.
    public func matches(_ record: ThrottleRecord) -> Bool {
        guard record.failures >= minimumFailures, let last = record.lastFailureAt, last >= failedSince else {
            return false
        }
        return accepts(record)
    }
}

/// One subject's listed throttle records: the latest failures first, at most the limit asked for, and how
/// many records the filter accepted in all.
public struct ThrottleListing: Sendable, Hashable {
    public var records: [OriginThrottleRecord]
    public var total: Int

    public init(records: [OriginThrottleRecord] = [], total: Int = 0) {
        self.records = records
        self.total = total
    }

    /// Keeps the accepted records in listing order: latest failure first, then by origin so the order is stable.
    public static func listing(of accepted: [OriginThrottleRecord], limit: Int) -> ThrottleListing {
        let ordered = accepted.sorted { left, right in
            let (leftTime, rightTime) = (left.record.lastFailureAt ?? 0, right.record.lastFailureAt ?? 0)
            if leftTime != rightTime { return leftTime > rightTime }
            return left.origin.sortKey < right.origin.sortKey
        }
        return ThrottleListing(records: Array(ordered.prefix(max(0, limit))), total: accepted.count)
    }
}

extension ThrottleOrigin {
    /// Orders origins of the same last failure: uids, then hosts, then the local console.
    fileprivate var sortKey: String {
        switch self {
        case .peer(let uid): "u" + String(repeating: "0", count: 10 - String(uid).count) + String(uid)
        case .host(let host): "h" + host
        case .local: "l"
        }
    }
}
