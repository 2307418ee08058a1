import AccountStore

// The access section of an account record (format 3), appended after the recovery codes:
// ```
// u32 count + count x grace       graces
// u32 count + count x exemption   exemptions
//
// grace     = u8 key kind (1 remote host + str host | 3 session + blob boot (16 bytes) + u32 id
//             | 2 session + u32 id, from before boots were kept: still read, matching no session), i64 grantedAt,
//             i64 expiresAt
// exemption = str service, opt u32 fromUID, i64 until, actor grantedBy, i64 grantedAt
// ```
// Kept in its own functions so that it merges mechanically with the other format-3 section.
extension AccountRecord {
    static func encodeAccessFields(_ account: Account, into writer: inout ByteWriter) {
        writer.u32(UInt32(account.graces.count))
        for grace in account.graces {
            switch grace.key {
            case .remoteHost(let host):
                writer.u8(1)
                writer.string(host)
            case .session(let session):
                writer.u8(3)
                writer.blob(session.boot)
                writer.u32(session.id)
            }
            writer.i64(grace.grantedAt)
            writer.i64(grace.expiresAt)
        }
        writer.u32(UInt32(account.exemptions.count))
        for exemption in account.exemptions {
            writer.string(exemption.service)
            writer.optional(exemption.fromUID) { $0.u32($1) }
            writer.i64(exemption.until)
            writer.actor(exemption.grantedBy)
            writer.i64(exemption.grantedAt)
        }
    }

    static func decodeAccessFields(_ reader: inout ByteReader, into account: inout Account) throws(RecordDecodingError)
    {
        let graceCount = Int(try reader.u32())
        guard graceCount <= Account.maximumGraces else { throw RecordDecodingError("too many graces") }
        for _ in 0..<graceCount {
            let key: GraceKey
            switch try reader.u8() {
            case 1: key = .remoteHost(try reader.string())
            case 2: key = .session(LoginSession(boot: [], id: try reader.u32()))
            case 3:
                let boot = try reader.blob()
                guard boot.count == 16 else { throw RecordDecodingError("malformed boot id") }
                key = .session(LoginSession(boot: boot, id: try reader.u32()))
            default: throw RecordDecodingError("unknown grace key")
            }
            let grantedAt = try reader.i64()
            account.graces.append(Grace(key: key, grantedAt: grantedAt, expiresAt: try reader.i64()))
        }
        let exemptionCount = Int(try reader.u32())
        guard exemptionCount <= Account.maximumExemptions else { throw RecordDecodingError("too many exemptions") }
        for _ in 0..<exemptionCount {
            let service = try reader.string()
            let fromUID = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
                try reader.u32()
            }
            let until = try reader.i64()
            let grantedBy = try reader.actor()
            account.exemptions.append(
                Exemption(
                    service: service,
                    fromUID: fromUID,
                    until: until,
                    grantedBy: grantedBy,
                    grantedAt: try reader.i64()
                )
            )
        }
    }
}
