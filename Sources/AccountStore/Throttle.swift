/// Where a login attempt comes from, as far as throttling is concerned: a stranger's failures must not
/// lock the account for anyone else (shared/PRODUCT.md "Logging in", and the hardening rules).
public enum ThrottleOrigin: Sendable, Hashable {
    /// An unprivileged local peer, or the user who ran su or sudo (the invoker a privileged peer reports),
    /// by uid: its failures count against (account, uid) only.
    case peer(uid: UInt32)
    /// A privileged peer (sshd, login through PAM) reporting the remote host: its failures count
    /// against (account, host) and toward the account's hard lock.
    case host(String)
    /// A privileged peer without a remote host or invoker (a local console login, cron): its failures
    /// count against the account itself.
    case local

    /// Whether failures from here count toward the account's own counter and hard lock.
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

/// The failures counted for one throttle key.
public struct ThrottleRecord: Sendable, Hashable {
    public var failures: UInt32
    public var lastFailureAt: UnixTime?

    public init(failures: UInt32 = 0, lastFailureAt: UnixTime? = nil) {
        self.failures = failures
        self.lastFailureAt = lastFailureAt
    }
}

/// The answer to `AccountStore.reserveAttempt`.
public enum AttemptReservation: Sendable, Hashable {
    /// The attempt may run; it was already counted as a failure, to be cleared if it succeeds.
    case allowed
    /// Locked for this many more seconds (`Int64.max`: until unlocked); nothing was counted.
    case locked(retryAfter: Int64)
}
