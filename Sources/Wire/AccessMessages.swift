// The messages of grace periods, trusted networks and scoped exemptions (issue 11), kept apart from the
// older ones so that they merge cleanly. docs/protocol.md describes each with a hex example.

/// An organization's grace period, as OrganizationAccessSet changes it.
public enum GracePeriodSetting: Sendable, Hashable {
    /// Leave it as it is.
    case unchanged
    /// Use the daemon's `--grace-period`.
    case daemonDefault
    /// This many seconds (0: off for this organization).
    case seconds(UInt32)
}

/// A running grace period, as AccessInfo carries it.
public struct GraceInfo: Sendable, Hashable {
    public enum Kind: UInt8, Sendable, Hashable {
        case remoteHost = 1
        case session = 2
    }

    public var kind: Kind
    /// The remote host, or the session id in decimal.
    public var key: String
    public var grantedAt: UInt64
    public var expiresAt: UInt64

    public init(kind: Kind, key: String, grantedAt: UInt64, expiresAt: UInt64) {
        self.kind = kind
        self.key = key
        self.grantedAt = grantedAt
        self.expiresAt = expiresAt
    }
}

/// A scoped exemption, as AccessInfo and ExemptionList carry it.
public struct ExemptionInfo: Sendable, Hashable {
    public var user: String
    public var service: String
    /// nil: from any privileged peer.
    public var fromUID: UInt32?
    public var until: UInt64
    public var grantedAt: UInt64

    public init(user: String, service: String, fromUID: UInt32?, until: UInt64, grantedAt: UInt64) {
        self.user = user
        self.service = service
        self.fromUID = fromUID
        self.until = until
        self.grantedAt = grantedAt
    }
}

/// An organization's access rules, as OrganizationAccess carries them.
public struct OrganizationAccessInfo: Sendable, Hashable {
    public var name: String
    /// nil: the daemon's `--grace-period` applies.
    public var gracePeriod: UInt32?
    /// CIDR texts, such as 192.0.2.0/24.
    public var trustedNetworks: [String]
    /// The name patterns its admin may give new agents, such as `acme-*`; empty: only operators add accounts.
    public var agentNames: [String]

    public init(name: String, gracePeriod: UInt32?, trustedNetworks: [String], agentNames: [String] = []) {
        self.name = name
        self.gracePeriod = gracePeriod
        self.trustedNetworks = trustedNetworks
        self.agentNames = agentNames
    }
}

extension WireProtocol {
    /// The most networks one OrganizationAccessSet or OrganizationAccess carries.
    public static let maximumTrustedNetworks = 16
    /// The most agent name patterns one OrganizationAccessSet or OrganizationAccess carries.
    public static let maximumAgentNames = 16
    /// The most graces or exemptions of one account an AccessInfo carries.
    public static let maximumAccessGrants = 16
    /// The most accounts one ExemptList page covers (each with up to `maximumAccessGrants` exemptions).
    public static let maximumExemptionPageSize = 16
}

extension Limits {
    static let service = 1...64
    static let network = 1...64
    static let agentName = 1...64
    static let graceKey = 1...255
}

enum AccessFields {
    static func encode(_ request: Request, into writer: inout ByteWriter) {
        switch request {
        case .graceRevoke(let user), .accessShow(let user):
            writer.str(user)
        case .organizationAccessSet(let organization, let gracePeriod, let trustedNetworks, let agentNames):
            writer.str(organization)
            switch gracePeriod {
            case .unchanged:
                writer.u8(0)
                writer.u32(0)
            case .daemonDefault:
                writer.u8(1)
                writer.u32(0)
            case .seconds(let seconds):
                writer.u8(2)
                writer.u32(seconds)
            }
            writer.u8(trustedNetworks == nil ? 0 : 1)
            writer.u8(UInt8(clamping: trustedNetworks?.count ?? 0))
            for network in (trustedNetworks ?? []).prefix(Int(UInt8.max)) { writer.str(network) }
            writer.u8(agentNames == nil ? 0 : 1)
            writer.u8(UInt8(clamping: agentNames?.count ?? 0))
            for pattern in (agentNames ?? []).prefix(Int(UInt8.max)) { writer.str(pattern) }
        case .organizationAccessShow(let organization):
            writer.str(organization)
        case .exemptAdd(let user, let service, let until, let fromUID):
            writer.str(user)
            writer.str(service)
            writer.u64(until)
            writer.u8(fromUID == nil ? 0 : 1)
            writer.u32(fromUID ?? 0)
        case .exemptRemove(let user, let service):
            writer.str(user)
            writer.str(service)
        case .exemptList(let after, let limit):
            writer.str(after)
            writer.u16(limit)
        default:
            preconditionFailure("AccessFields encodes access requests only")
        }
    }

    static func decodeRequest(_ type: MessageType, _ reader: inout ByteReader) throws(WireError) -> Request {
        switch type {
        case .graceRevoke:
            return .graceRevoke(user: try reader.str("user", Limits.user))
        case .accessShow:
            return .accessShow(user: try reader.str("user", Limits.user))
        case .organizationAccessSet:
            let organization = try reader.str("organization", Limits.storedOrganization)
            let kind = try reader.u8("graceKind")
            let seconds = try reader.u32("gracePeriod")
            let gracePeriod: GracePeriodSetting
            switch kind {
            case 0, 1:
                guard seconds == 0 else { throw .malformed("'gracePeriod' must be 0 unless 'graceKind' is 2") }
                gracePeriod = kind == 0 ? .unchanged : .daemonDefault
            case 2: gracePeriod = .seconds(seconds)
            default: throw .malformed("'graceKind' has no meaning for the value \(kind)")
            }
            let replace = try reader.u8("setNetworks")
            guard replace <= 1 else { throw .malformed("'setNetworks' must be 0 or 1, not \(replace)") }
            let count = try reader.u8("count")
            guard Int(count) <= WireProtocol.maximumTrustedNetworks, replace == 1 || count == 0 else {
                throw .malformed(
                    "'count' must be 0 to \(WireProtocol.maximumTrustedNetworks), and 0 unless 'setNetworks' is 1"
                )
            }
            var networks: [String] = []
            for _ in 0..<count { networks.append(try reader.str("network", Limits.network)) }
            let replaceNames = try reader.u8("setAgentNames")
            guard replaceNames <= 1 else { throw .malformed("'setAgentNames' must be 0 or 1, not \(replaceNames)") }
            let nameCount = try reader.u8("nameCount")
            guard Int(nameCount) <= WireProtocol.maximumAgentNames, replaceNames == 1 || nameCount == 0 else {
                throw .malformed(
                    "'nameCount' must be 0 to \(WireProtocol.maximumAgentNames), and 0 unless 'setAgentNames' is 1"
                )
            }
            var names: [String] = []
            for _ in 0..<nameCount { names.append(try reader.str("agentName", Limits.agentName)) }
            return .organizationAccessSet(
                organization: organization,
                gracePeriod: gracePeriod,
                trustedNetworks: replace == 1 ? networks : nil,
                agentNames: replaceNames == 1 ? names : nil
            )
        case .organizationAccessShow:
            return .organizationAccessShow(organization: try reader.str("organization", Limits.storedOrganization))
        case .exemptAdd:
            let user = try reader.str("user", Limits.user)
            let service = try reader.str("service", Limits.service)
            let until = try reader.u64("until")
            let fromUID = try optionalUID(&reader)
            return .exemptAdd(user: user, service: service, until: until, fromUID: fromUID)
        case .exemptRemove:
            let user = try reader.str("user", Limits.user)
            return .exemptRemove(user: user, service: try reader.str("service", Limits.service))
        case .exemptList:
            let after = try reader.str("after", Limits.after)
            let limit = try reader.u16("limit")
            guard (1...WireProtocol.maximumExemptionPageSize).contains(Int(limit)) else {
                throw .malformed("'limit' must be 1 to \(WireProtocol.maximumExemptionPageSize), not \(limit)")
            }
            return .exemptList(after: after, limit: limit)
        default:
            preconditionFailure("AccessFields decodes access requests only")
        }
    }

    static func encode(_ response: Response, into writer: inout ByteWriter) {
        switch response {
        case .accessInfo(let graces, let exemptions):
            writer.u8(UInt8(clamping: graces.count))
            for grace in graces.prefix(Int(UInt8.max)) {
                writer.u8(grace.kind.rawValue)
                writer.str(grace.key)
                writer.u64(grace.grantedAt)
                writer.u64(grace.expiresAt)
            }
            encode(exemptions, into: &writer)
        case .organizationAccess(let info):
            writer.str(info.name)
            writer.u8(info.gracePeriod == nil ? 0 : 1)
            writer.u32(info.gracePeriod ?? 0)
            writer.u8(UInt8(clamping: info.trustedNetworks.count))
            for network in info.trustedNetworks.prefix(Int(UInt8.max)) { writer.str(network) }
            writer.u8(UInt8(clamping: info.agentNames.count))
            for pattern in info.agentNames.prefix(Int(UInt8.max)) { writer.str(pattern) }
        case .exemptionList(let exemptions, let next):
            encode(exemptions, into: &writer)
            writer.str(next)
        default:
            preconditionFailure("AccessFields encodes access responses only")
        }
    }

    static func decodeResponse(_ type: MessageType, _ reader: inout ByteReader) throws(WireError) -> Response {
        switch type {
        case .accessInfo:
            let count = try reader.u8("count")
            guard Int(count) <= WireProtocol.maximumAccessGrants else {
                throw .malformed("'count' must be at most \(WireProtocol.maximumAccessGrants), not \(count)")
            }
            var graces: [GraceInfo] = []
            for _ in 0..<count {
                let kind = try reader.enumeration("kind", GraceInfo.Kind.self)
                let key = try reader.str("key", Limits.graceKey)
                let grantedAt = try reader.u64("grantedAt")
                graces.append(
                    GraceInfo(kind: kind, key: key, grantedAt: grantedAt, expiresAt: try reader.u64("expiresAt"))
                )
            }
            return .accessInfo(
                graces: graces,
                exemptions: try decodeExemptions(&reader, maximum: WireProtocol.maximumAccessGrants)
            )
        case .organizationAccess:
            let name = try reader.str("organization", Limits.storedOrganization)
            let hasGracePeriod = try reader.u8("hasGracePeriod")
            let seconds = try reader.u32("gracePeriod")
            guard hasGracePeriod <= 1, hasGracePeriod == 1 || seconds == 0 else {
                throw .malformed("'hasGracePeriod' must be 0 or 1, and 'gracePeriod' 0 when it is 0")
            }
            let count = try reader.u8("count")
            guard Int(count) <= WireProtocol.maximumTrustedNetworks else {
                throw .malformed("'count' must be at most \(WireProtocol.maximumTrustedNetworks), not \(count)")
            }
            var networks: [String] = []
            for _ in 0..<count { networks.append(try reader.str("network", Limits.network)) }
            let nameCount = try reader.u8("nameCount")
            guard Int(nameCount) <= WireProtocol.maximumAgentNames else {
                throw .malformed("'nameCount' must be at most \(WireProtocol.maximumAgentNames), not \(nameCount)")
            }
            var names: [String] = []
            for _ in 0..<nameCount { names.append(try reader.str("agentName", Limits.agentName)) }
            return .organizationAccess(
                OrganizationAccessInfo(
                    name: name,
                    gracePeriod: hasGracePeriod == 1 ? seconds : nil,
                    trustedNetworks: networks,
                    agentNames: names
                )
            )
        case .exemptionList:
            let maximum = WireProtocol.maximumExemptionPageSize * WireProtocol.maximumAccessGrants
            let exemptions = try decodeExemptions(&reader, maximum: maximum)
            return .exemptionList(exemptions, next: try reader.str("next", Limits.next))
        default:
            preconditionFailure("AccessFields decodes access responses only")
        }
    }

    private static func encode(_ exemptions: [ExemptionInfo], into writer: inout ByteWriter) {
        writer.u16(UInt16(clamping: exemptions.count))
        for exemption in exemptions.prefix(Int(UInt16.max)) {
            writer.str(exemption.user)
            writer.str(exemption.service)
            writer.u64(exemption.until)
            writer.u8(exemption.fromUID == nil ? 0 : 1)
            writer.u32(exemption.fromUID ?? 0)
            writer.u64(exemption.grantedAt)
        }
    }

    private static func decodeExemptions(_ reader: inout ByteReader, maximum: Int) throws(WireError) -> [ExemptionInfo]
    {
        let count = try reader.u16("count")
        guard Int(count) <= maximum else { throw .malformed("'count' must be at most \(maximum), not \(count)") }
        var exemptions: [ExemptionInfo] = []
        for _ in 0..<count {
            let user = try reader.str("user", Limits.user)
            let service = try reader.str("service", Limits.service)
            let until = try reader.u64("until")
            let fromUID = try optionalUID(&reader)
            exemptions.append(
                ExemptionInfo(
                    user: user,
                    service: service,
                    fromUID: fromUID,
                    until: until,
                    grantedAt: try reader.u64("grantedAt")
                )
            )
        }
        return exemptions
    }

    /// u8 hasUID, u32 uid (0 when hasUID is 0).
    private static func optionalUID(_ reader: inout ByteReader) throws(WireError) -> UInt32? {
        let hasUID = try reader.u8("hasUID")
        let uid = try reader.u32("uid")
        guard hasUID <= 1, hasUID == 1 || uid == 0 else {
            throw .malformed("'hasUID' must be 0 or 1, and 'uid' 0 when it is 0")
        }
        return hasUID == 1 ? uid : nil
    }
}
