// MUSTs of the access grants (issue 11: grace periods and scoped exemptions):
// - a grace or exemption is a plain value on its account: it never outlives the account, and every
//   backend stores it with the record (no store method of its own);
// - an expired grant never applies (`activeGrace`, `activeExemption` compare with `now`), whether or not it
//   was swept yet; a sweep only frees space;
// - the lists are bounded, so a record cannot grow without limit: the grant expiring first makes room.

/// What a grace period is bound to: something the client cannot choose on its own.
public enum GraceKey: Sendable, Hashable, CustomStringConvertible {
    /// The remote host a privileged client (sshd through the PAM module) reported in the request.
    case remoteHost(String)
    /// The kernel's audit login session of a local client (`/proc/PID/sessionid`, set by pam_loginuid), on the
    /// boot of the host it was read on.
    case session(LoginSession)

    public var description: String {
        switch self {
        case .remoteHost(let host): "host \(host)"
        case .session(let session): "session \(session.id)"
        }
    }
}

/// A local login session: the kernel numbers them from 1 again at every boot, and every host of a fleet
/// numbers its own, so the number alone names a different session after a reboot or on another host. The boot
/// (`/proc/sys/kernel/random/boot_id`, random for each boot of each host) makes it one session.
public struct LoginSession: Sendable, Hashable {
    /// The 16 bytes of the boot id; empty for a session stored before boots were (no running boot has it).
    public var boot: [UInt8]
    public var id: UInt32

    public init(boot: [UInt8], id: UInt32) {
        self.boot = boot
        self.id = id
    }
}

/// A grace period: logins of the account through `key` need no code until `expiresAt`.
public struct Grace: Sendable, Hashable {
    public var key: GraceKey
    public var grantedAt: UnixTime
    public var expiresAt: UnixTime

    public init(key: GraceKey, grantedAt: UnixTime, expiresAt: UnixTime) {
        self.key = key
        self.grantedAt = grantedAt
        self.expiresAt = expiresAt
    }
}

/// A scoped exemption for automation: through PAM service `service` (and, when given, from peer uid
/// `fromUID`), until `until`, the account's password alone is enough.
public struct Exemption: Sendable, Hashable {
    public var service: String
    public var fromUID: UInt32?
    public var until: UnixTime
    public var grantedBy: Actor
    public var grantedAt: UnixTime

    public init(service: String, fromUID: UInt32?, until: UnixTime, grantedBy: Actor, grantedAt: UnixTime) {
        self.service = service
        self.fromUID = fromUID
        self.until = until
        self.grantedBy = grantedBy
        self.grantedAt = grantedAt
    }
}

extension Account {
    /// No account keeps more graces than this (one per host or session it logged in from lately).
    public static let maximumGraces = 16
    /// No account keeps more exemptions than this.
    public static let maximumExemptions = 16

    /// The grace for `key` that is still running at `now`.
    public func activeGrace(for key: GraceKey, at now: UnixTime) -> Grace? {
        graces.first { $0.key == key && $0.expiresAt > now }
    }

    /// The graces still running at `now`.
    public func activeGraces(at now: UnixTime) -> [Grace] { graces.filter { $0.expiresAt > now } }

    /// The exemptions still running at `now`.
    public func activeExemptions(at now: UnixTime) -> [Exemption] { exemptions.filter { $0.until > now } }

    /// Starts (or restarts) the grace for `key`, dropping expired graces and, when full, the one ending first.
    public mutating func grantGrace(_ key: GraceKey, seconds: Int64, now: UnixTime) {
        graces.removeAll { $0.key == key || $0.expiresAt <= now }
        if graces.count >= Self.maximumGraces,
            let first = graces.indices.min(by: { graces[$0].expiresAt < graces[$1].expiresAt })
        {
            graces.remove(at: first)
        }
        graces.append(Grace(key: key, grantedAt: now, expiresAt: now + seconds))
    }

    /// The graces still running at `now` under a grace period of `seconds` (the organization's or the daemon's
    /// as it is now), each ending at most `seconds` after it started: a period shortened or turned off (0) since a
    /// grace started ends it sooner; a longer one extends none.
    public func activeGraces(at now: UnixTime, underPeriod seconds: Int64) -> [Grace] {
        graces.compactMap { grace in
            var capped = grace
            capped.expiresAt = min(grace.expiresAt, grace.grantedAt + max(0, seconds))
            return capped.expiresAt > now ? capped : nil
        }
    }

    /// Stores `activeGraces(at:underPeriod:)`: the period's cap, and no grace that ended; true when a grace changed.
    public mutating func capGraces(at seconds: Int64, now: UnixTime) -> Bool {
        let before = graces
        graces = activeGraces(at: now, underPeriod: seconds)
        return graces != before
    }

    /// Drops expired graces and exemptions; true when something was dropped.
    @discardableResult
    public mutating func sweepExpiredGrants(at now: UnixTime) -> Bool {
        let before = graces.count + exemptions.count
        graces.removeAll { $0.expiresAt <= now }
        exemptions.removeAll { $0.until <= now }
        return graces.count + exemptions.count != before
    }
}
