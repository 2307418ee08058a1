/// Where a login comes from, as the client reports it: the PAM service (`sshd`, `login`, `sudo`)
/// and the remote host (PAM_RHOST). Either may be empty. The daemon logs both; it cannot verify
/// them, so they never decide anything on their own.
public struct LoginOrigin: Sendable, Hashable {
    /// 0 to 64 bytes.
    public var service: String
    /// 0 to 255 bytes: a host name or an address.
    public var remoteHost: String

    public init(service: String = "", remoteHost: String = "") {
        self.service = service
        self.remoteHost = remoteHost
    }

    func encode(into writer: inout ByteWriter) {
        writer.str(service)
        writer.str(remoteHost)
    }

    static func decode(_ reader: inout ByteReader) throws(WireError) -> LoginOrigin {
        let service = try reader.str("service", Limits.originService)
        return LoginOrigin(service: service, remoteHost: try reader.str("remoteHost", Limits.originHost))
    }
}
