import AccountStore

// MUSTs of skipping the second factor (issue 11: grace periods, trusted networks, exemptions):
// - a waiver is considered only for an account whose 2FA is `on` and whose password was right: never for
//   `pending` (enrollment must finish), never for a wrong password or an unknown user, which keep getting
//   the uniform `codeNeeded` (no password oracle);
// - what the client reports (remote host, PAM service) is believed only from a privileged peer (sshd,
//   login, sudo through PAM, running as root): an ordinary local user cannot claim to be a trusted host;
// - a local grace is keyed by the kernel's audit session of the peer and the boot it belongs to, read by the
//   daemon, never sent by the client; a request that carries a remote host never uses the local session;
// - an expired grace or exemption never applies; everything here is off until an operator sets it.

/// Where a login comes from, as the daemon itself established it from the socket peer and the request.
public struct LoginContext: Sendable, Hashable {
    /// The remote host the request carries, when a privileged peer sent it; nil otherwise.
    public var remoteHost: String?
    /// The PAM service the request names ("" when none); believed only as `CodeWaiverPolicy` says.
    public var service: String
    /// The peer's uid (SO_PEERCRED).
    public var peerUID: UInt32?
    /// The peer is root, the daemon's user or an operator: what it reports is believed.
    public var peerIsPrivileged: Bool
    /// The peer's audit login session, when the request carries no remote host and the peer has one.
    public var session: LoginSession?

    /// A login about whose origin nothing is known: nothing is ever waived for it.
    public static let unknown = LoginContext(
        peerIsPrivileged: false,
        peerUID: nil,
        reportedRemoteHost: "",
        service: "",
        peerSession: nil
    )

    /// `peerSession` is the peer's `/proc/PID/sessionid` (nil when unset, 4294967295) on this boot.
    public init(
        peerIsPrivileged: Bool,
        peerUID: UInt32?,
        reportedRemoteHost: String,
        service: String,
        peerSession: LoginSession?
    ) {
        self.peerIsPrivileged = peerIsPrivileged
        self.peerUID = peerUID
        self.remoteHost = peerIsPrivileged && !reportedRemoteHost.isEmpty ? reportedRemoteHost : nil
        self.service = service
        self.session = reportedRemoteHost.isEmpty ? peerSession : nil
    }

    /// What a grace earned by this login is bound to: the remote host, else the local session, else nothing.
    public var graceKey: GraceKey? {
        if let remoteHost { return .remoteHost(remoteHost) }
        return session.map { .session($0) }
    }
}

/// Why a login with the right password may skip the code.
public enum CodeWaiver: Sendable, Hashable {
    case grace(Grace)
    case trustedNetwork(IPNetwork)
    case exemption(Exemption)

    /// Why no code was asked, for the audit trail and the log (never a secret).
    public var reason: String {
        switch self {
        case .grace(let grace): "grace for \(grace.key) until \(grace.expiresAt)"
        case .trustedNetwork(let network): "trusted network \(network)"
        case .exemption(let exemption):
            "exemption for service \(exemption.service)"
                + (exemption.fromUID.map { " from uid \($0)" } ?? "") + " until \(exemption.until)"
        }
    }
}

public enum CodeWaiverPolicy {
    /// The waiver that lets `account` skip the code for this login, or nil. `passwordMatches` is false for a
    /// wrong password (and for an unknown user, who has no account to pass).
    /// `defaultGracePeriod` is the daemon's: with the organization's, it bounds a grace that started under a
    /// longer period (`activeGraces(at:underPeriod:)`).
    public static func waiver(
        for account: Account?,
        passwordMatches: Bool,
        organization: Organization?,
        defaultGracePeriod: Int64,
        context: LoginContext,
        now: UnixTime
    ) -> CodeWaiver? {
        guard let account, passwordMatches, case .on = account.twoFactor else { return nil }
        if !context.service.isEmpty,
            let exemption = account.activeExemptions(at: now).first(where: { exemption in
                exemption.service == context.service
                    && (exemption.fromUID.map { $0 == context.peerUID } ?? context.peerIsPrivileged)
            })
        {
            return .exemption(exemption)
        }
        if let host = context.remoteHost, let organization,
            let network = organization.trustedNetworks.first(where: { $0.contains(host: host) })
        {
            return .trustedNetwork(network)
        }
        if let key = context.graceKey,
            let grace = account.activeGraces(
                at: now,
                underPeriod: gracePeriod(organization: organization, defaultPeriod: defaultGracePeriod)
            ).first(where: { $0.key == key })
        {
            return .grace(grace)
        }
        return nil
    }

    /// The grace a login that checked a code earns: its key and length, or nil when graces are off (the
    /// organization's period, else the daemon's) or the login has nothing to bind one to.
    public static func graceToGrant(
        organization: Organization?,
        defaultPeriod: Int64,
        context: LoginContext
    ) -> (key: GraceKey, seconds: Int64)? {
        let period = gracePeriod(organization: organization, defaultPeriod: defaultPeriod)
        guard period > 0, let key = context.graceKey else { return nil }
        return (key, period)
    }

    /// The grace period that holds for a member of `organization`: its own, else the daemon's.
    public static func gracePeriod(organization: Organization?, defaultPeriod: Int64) -> Int64 {
        organization?.gracePeriod ?? defaultPeriod
    }
}
