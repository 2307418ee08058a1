/// Where a login comes from, as the client reports it: the PAM service (`sshd`, `login`, `sudo`),
/// the remote host (PAM_RHOST) and, inside a setuid-root program, the user who ran it. Service and
/// host may be empty. The daemon logs all three but cannot verify them: service and host never decide
/// anything on their own, and the invoker is believed only from a privileged peer, and only to throttle
/// and share out that user's logins as if they had connected themselves.
public struct LoginOrigin: Sendable, Hashable {
    /// 0 to 64 bytes.
    public var service: String
    /// 0 to 255 bytes: a host name or an address.
    public var remoteHost: String
    /// The real uid of the client's process when it is not root: the user who ran su or sudo, which a
    /// setuid program cannot be made to hide. nil for logins root runs (sshd, login, cron). Present, it
    /// makes the request a LoginFromInvoker or CodeCheckFromInvoker; 1 to 4294967294.
    public var invokerUID: UInt32?

    public init(service: String = "", remoteHost: String = "", invokerUID: UInt32? = nil) {
        self.service = service
        self.remoteHost = remoteHost
        self.invokerUID = invokerUID
    }

    /// The `invokerUID` of a client whose real uid is `realUID`: nil for root, whose logins are the
    /// daemon's privileged ones (and for (uid_t)-1, which no process has).
    public static func invoker(realUID: UInt32) -> UInt32? {
        Limits.invokerUID.contains(realUID) ? realUID : nil
    }

    func encode(into writer: inout ByteWriter) {
        writer.str(service)
        writer.str(remoteHost)
        if let invokerUID { writer.u32(invokerUID) }
    }

    /// `withInvoker`: the request type carries the trailing `invokerUID` field.
    static func decode(_ reader: inout ByteReader, withInvoker: Bool) throws(WireError) -> LoginOrigin {
        let service = try reader.str("service", Limits.originService)
        let remoteHost = try reader.str("remoteHost", Limits.originHost)
        guard withInvoker else { return LoginOrigin(service: service, remoteHost: remoteHost) }
        let invokerUID = try reader.u32("invokerUID")
        guard Limits.invokerUID.contains(invokerUID) else {
            throw .malformed(
                "'invokerUID' must be 1 to 4294967294, not \(invokerUID): a client running as root sends LoginFrom "
                    + "or CodeCheck without it"
            )
        }
        return LoginOrigin(service: service, remoteHost: remoteHost, invokerUID: invokerUID)
    }
}
