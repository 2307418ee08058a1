import AccountStore

/// The on-disk encodings of organizations and audit records, in the style of `AccountRecord`.
/// ```
/// organization: u8 format (3), str name, u8 flags (bit 0: requires 2FA), i64 createdAt, i64 updatedAt,
///               opt i64 gracePeriod, u32 count + count x (blob address (4 or 16 bytes), u8 prefix) trustedNetworks,
///               u32 count + count x str agentNames
///               (formats 1 and 2, still read, end after updatedAt and after trustedNetworks: no agent names)
/// audit:        u8 format (1), u64 sequence, i64 time, actor, opt str target, opt str organization,
///               str action, str outcome, str detail
/// ```
package enum OrganizationRecord {
    package static let formatVersion: UInt8 = 3
    /// No organization trusts more networks than this; a larger count is damage.
    package static let maximumTrustedNetworks = 64
    /// No organization has more agent name patterns than this; a larger count is damage.
    package static let maximumAgentNames = 64

    package static func encode(_ organization: Organization) -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(formatVersion)
        writer.string(organization.name.value)
        writer.u8(organization.requiresTwoFactor ? 1 : 0)
        writer.i64(organization.createdAt)
        writer.i64(organization.updatedAt)
        writer.optional(organization.gracePeriod) { $0.i64($1) }
        writer.u32(UInt32(organization.trustedNetworks.count))
        for network in organization.trustedNetworks {
            writer.blob(network.address)
            writer.u8(network.prefixLength)
        }
        writer.u32(UInt32(organization.agentNames.count))
        for pattern in organization.agentNames { writer.string(pattern.value) }
        return writer.bytes
    }

    package static func decode(_ bytes: [UInt8]) throws(RecordDecodingError) -> Organization {
        var reader = ByteReader(bytes)
        let version = try reader.u8()
        guard (1...formatVersion).contains(version) else { throw RecordDecodingError("unknown organization format") }
        let name = try reader.organizationName()
        let flags = try reader.u8()
        guard flags & ~1 == 0 else { throw RecordDecodingError("unknown organization flags") }
        let createdAt = try reader.i64()
        let updatedAt = try reader.i64()
        var organization = Organization(
            name: name,
            requiresTwoFactor: flags == 1,
            createdAt: createdAt,
            updatedAt: updatedAt
        )
        if version >= 2 {
            organization.gracePeriod = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
                try reader.i64()
            }
            let count = Int(try reader.u32())
            guard count <= maximumTrustedNetworks else { throw RecordDecodingError("too many trusted networks") }
            for _ in 0..<count {
                let address = try reader.blob()
                guard let network = IPNetwork(storedAddress: address, prefixLength: try reader.u8()) else {
                    throw RecordDecodingError("malformed trusted network")
                }
                organization.trustedNetworks.append(network)
            }
        }
        if version >= 3 {
            let count = Int(try reader.u32())
            guard count <= maximumAgentNames else { throw RecordDecodingError("too many agent name patterns") }
            for _ in 0..<count {
                guard let pattern = try? AccountNamePattern(try reader.string()) else {
                    throw RecordDecodingError("malformed agent name pattern")
                }
                organization.agentNames.append(pattern)
            }
        }
        guard reader.isAtEnd else { throw RecordDecodingError("trailing bytes") }
        return organization
    }
}

package enum AuditRecordCodec {
    package static let formatVersion: UInt8 = 1

    package static func encode(_ record: AuditRecord) -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(formatVersion)
        writer.u64(record.sequence)
        writer.i64(record.time)
        writer.actor(record.actor)
        writer.optional(record.target) { $0.string($1.value) }
        writer.optional(record.organization) { $0.string($1.value) }
        writer.string(record.action.rawValue)
        writer.string(record.outcome.rawValue)
        writer.string(record.detail)
        return writer.bytes
    }

    package static func decode(_ bytes: [UInt8]) throws(RecordDecodingError) -> AuditRecord {
        var reader = ByteReader(bytes)
        guard try reader.u8() == formatVersion else { throw RecordDecodingError("unknown audit format") }
        let sequence = try reader.u64()
        let time = try reader.i64()
        let actor = try reader.actor()
        let target = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
            try reader.accountName()
        }
        let organization = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
            try reader.organizationName()
        }
        guard let action = AuditAction(rawValue: try reader.string()) else {
            throw RecordDecodingError("unknown audit action")
        }
        guard let outcome = AuditOutcome(rawValue: try reader.string()) else {
            throw RecordDecodingError("unknown audit outcome")
        }
        let detail = try reader.string()
        guard reader.isAtEnd else { throw RecordDecodingError("trailing bytes") }
        return AuditRecord(
            sequence: sequence,
            time: time,
            actor: actor,
            target: target,
            organization: organization,
            action: action,
            outcome: outcome,
            detail: detail
        )
    }
}
