/// Where a login attempt comes from, as far as throttling is concerned: a stranger's failures must not
/// lock the account for anyone else (shared/PRODUCT.md "Logging in", and the hardening rules).
public enum ThrottleOrigin: Sendable, Hashable {
    /// An unprivileged local peer, by uid: its failures count against (account, uid) only.
    case peer(uid: UInt32)
    /// A privileged peer (sshd, login, su through PAM) reporting the remote host: its failures count
    /// against (account, host) and toward the account's hard lock (the name's, for a name without an account).
    case host(String)
    /// A privileged peer without a remote host (a local console login, sudo): its failures count against
    /// the account itself.
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
