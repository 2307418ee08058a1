/// The fields of each response after the type and id.
enum ResponseFields {
    static func encode(_ response: Response, into writer: inout ByteWriter) {
        switch response {
        case .error(let code, let message):
            writer.u16(code.rawValue)
            writer.str(message)
        case .helloReply(let version):
            writer.u16(version)
        case .done:
            break
        case .loginResult(let outcome, let retryAfter, let otpauthURI):
            writer.u8(outcome.rawValue)
            writer.u32(retryAfter)
            writer.str(otpauthURI)
        case .userInfo(let info, let originLocks):
            encode(info, into: &writer)
            writer.u8(UInt8(clamping: originLocks.count))
            for lock in originLocks.prefix(Int(UInt8.max)) { encode(lock, into: &writer) }
        case .userList(let accounts, let next):
            writer.u16(UInt16(clamping: accounts.count))
            for info in accounts.prefix(Int(UInt16.max)) { encode(info, into: &writer) }
            writer.str(next)
        case .enrollmentStarted(let otpauthURI, let expiresAt):
            writer.str(otpauthURI)
            writer.u64(expiresAt)
        case .recoveryCodes(let codes):
            writer.u8(UInt8(clamping: codes.count))
            for code in codes.prefix(Int(UInt8.max)) { writer.str(code) }
        case .recoveryLogin(let remaining):
            writer.u8(remaining)
        case .organizationInfo(let info):
            encode(info, into: &writer)
        case .organizationList(let organizations, let next):
            writer.u16(UInt16(clamping: organizations.count))
            for info in organizations.prefix(Int(UInt16.max)) { encode(info, into: &writer) }
            writer.str(next)
        case .auditList(let entries, let next):
            writer.u16(UInt16(clamping: entries.count))
            for entry in entries.prefix(Int(UInt16.max)) { encode(entry, into: &writer) }
            writer.u64(next)
        case .enrollScreen(let otpauthURI, let screen):
            writer.str(otpauthURI)
            writer.str(screen)
        case .backupStarted(let size):
            writer.u64(size)
        case .backupChunk(let offset, let bytes):
            writer.u64(offset)
            writer.str(bytes)
        case .keyRotated(let accounts, let keyFile):
            writer.u32(accounts)
            writer.str(keyFile)
        case .accessInfo, .organizationAccess, .exemptionList:
            AccessFields.encode(response, into: &writer)
        case .authenticatorList(let authenticators):
            AuthenticatorFields.encode(authenticators, into: &writer)
        }
    }

    static func decode(_ type: MessageType, _ reader: inout ByteReader) throws(WireError) -> Response {
        switch type {
        case .error:
            let code = ErrorCode(rawValue: try reader.u16("code"))
            return .error(code: code, message: try reader.str("message", Limits.message))
        case .helloReply:
            return .helloReply(version: try reader.u16("version"))
        case .done:
            return .done
        case .loginResult:
            let outcome = try reader.enumeration("outcome", LoginOutcome.self)
            let retryAfter = try reader.u32("retryAfter")
            let otpauthURI = try reader.strBytes("otpauthURI", Limits.loginURI)
            guard outcome == .locked || retryAfter == 0 else {
                throw .malformed("'retryAfter' must be 0 unless the outcome is locked")
            }
            guard (outcome == .enroll) == !otpauthURI.isEmpty else {
                throw .malformed("'otpauthURI' must be non-empty exactly when the outcome is enroll")
            }
            return .loginResult(outcome: outcome, retryAfter: retryAfter, otpauthURI: otpauthURI)
        case .userInfo:
            let info = try decodeAccountInfo(&reader)
            let count = try reader.u8("count")
            let listed = min(Int(info.lockedOrigins), WireProtocol.maximumOriginLocks)
            guard count == listed else {
                throw .malformed("'count' must be \(listed) for \(info.lockedOrigins) locked origins, not \(count)")
            }
            var originLocks: [OriginLockInfo] = []
            for _ in 0..<count { originLocks.append(try decodeOriginLock(&reader)) }
            return .userInfo(info, originLocks: originLocks)
        case .userListReply:
            let count = try reader.u16("count")
            guard count <= WireProtocol.maximumPageSize else {
                throw .malformed("'count' must be at most \(WireProtocol.maximumPageSize), not \(count)")
            }
            var accounts: [AccountInfo] = []
            for _ in 0..<count { accounts.append(try decodeAccountInfo(&reader)) }
            return .userList(accounts, next: try reader.str("next", Limits.next))
        case .enrollmentStarted:
            let otpauthURI = try reader.strBytes("otpauthURI", Limits.enrollmentURI)
            return .enrollmentStarted(otpauthURI: otpauthURI, expiresAt: try reader.u64("expiresAt"))
        case .recoveryCodes:
            let count = try reader.u8("count")
            guard (1...WireProtocol.maximumRecoveryCodes).contains(Int(count)) else {
                throw .malformed("'count' must be 1 to \(WireProtocol.maximumRecoveryCodes), not \(count)")
            }
            var codes: [String] = []
            for _ in 0..<count { codes.append(try reader.str("code", Limits.recoveryCode)) }
            return .recoveryCodes(codes)
        case .recoveryLogin:
            return .recoveryLogin(remaining: try reader.u8("remaining"))
        case .organizationInfo:
            return .organizationInfo(try decodeOrganizationInfo(&reader))
        case .organizationListReply:
            let count = try reader.u16("count")
            guard count <= WireProtocol.maximumOrganizationPageSize else {
                throw .malformed("'count' must be at most \(WireProtocol.maximumOrganizationPageSize), not \(count)")
            }
            var organizations: [OrganizationInfo] = []
            for _ in 0..<count { organizations.append(try decodeOrganizationInfo(&reader)) }
            return .organizationList(organizations, next: try reader.str("next", Limits.next))
        case .auditList:
            let count = try reader.u16("count")
            guard count <= WireProtocol.maximumAuditPageSize else {
                throw .malformed("'count' must be at most \(WireProtocol.maximumAuditPageSize), not \(count)")
            }
            var entries: [AuditEntry] = []
            for _ in 0..<count { entries.append(try decodeAuditEntry(&reader)) }
            return .auditList(entries, next: try reader.u64("next"))
        case .enrollScreen:
            let otpauthURI = try reader.strBytes("otpauthURI", Limits.enrollmentURI)
            return .enrollScreen(otpauthURI: otpauthURI, screen: try reader.strBytes("screen", Limits.screen))
        case .backupStarted:
            return .backupStarted(size: try reader.u64("size"))
        case .backupChunk:
            let offset = try reader.u64("offset")
            return .backupChunk(offset: offset, bytes: try reader.bin("bytes", Limits.backupChunk))
        case .keyRotated:
            let accounts = try reader.u32("accounts")
            return .keyRotated(accounts: accounts, keyFile: try reader.str("keyFile", Limits.keyFile))
        case .accessInfo, .organizationAccess, .exemptionList:
            return try AccessFields.decodeResponse(type, &reader)
        case .authenticatorListReply:
            return .authenticatorList(try AuthenticatorFields.decodeList(&reader))
        default:
            preconditionFailure("decodeResponse passes response types only")
        }
    }

    private static func encode(_ info: AccountInfo, into writer: inout ByteWriter) {
        writer.str(info.user)
        writer.str(info.organization)
        writer.u8(info.role.rawValue)
        writer.u8(info.twoFactor.rawValue)
        writer.u8(info.algorithm.rawValue)
        writer.u8(info.digits)
        writer.u16(info.period)
        writer.u32(info.failureCount)
        writer.u64(info.createdAt)
        writer.u64(info.updatedAt)
        encode(info.stateSetBy, into: &writer)
        writer.u64(info.stateSetAt)
        writer.u64(info.enrolledAt)
        writer.u64(info.lastLoginAt)
        writer.u8(info.recoveryCodes)
        writer.u64(info.lockedUntil)
        writer.u32(info.lockedOrigins)
    }

    private static func encode(_ lock: OriginLockInfo, into writer: inout ByteWriter) {
        switch lock.origin {
        case .uid(let uid):
            writer.u8(1)
            writer.u32(uid)
            writer.str("")
        case .host(let host):
            writer.u8(2)
            writer.u32(0)
            writer.str(host)
        case .local:
            writer.u8(3)
            writer.u32(0)
            writer.str("")
        }
        writer.u32(lock.failures)
        writer.u64(lock.lockedUntil)
    }

    private static func decodeOriginLock(_ reader: inout ByteReader) throws(WireError) -> OriginLockInfo {
        let kind = try reader.u8("originKind")
        let uid = try reader.u32("uid")
        let host = try reader.str("host", Limits.originHost)
        let origin: OriginLockInfo.Origin
        switch kind {
        case 1 where host.isEmpty: origin = .uid(uid)
        case 2 where uid == 0 && !host.isEmpty: origin = .host(host)
        case 3 where uid == 0 && host.isEmpty: origin = .local
        default: throw .malformed("a locked origin must be kind 1 to 3 with only the uid or host its kind uses")
        }
        let failures = try reader.u32("failures")
        let lockedUntil = try reader.u64("lockedUntil")
        guard lockedUntil > 0 else { throw .malformed("a locked origin's 'lockedUntil' must not be 0") }
        return OriginLockInfo(origin: origin, failures: failures, lockedUntil: lockedUntil)
    }

    private static func encode(_ actor: ActorInfo, into writer: inout ByteWriter) {
        writer.u8(actor.kind)
        switch actor {
        case .operator(let uid):
            writer.u32(uid)
            writer.str("")
        case .account(let name):
            writer.u32(0)
            writer.str(name)
        case .none, .daemon:
            writer.u32(0)
            writer.str("")
        }
    }

    private static func decodeActor(_ reader: inout ByteReader) throws(WireError) -> ActorInfo {
        let kind = try reader.u8("actorKind")
        let uid = try reader.u32("actorUID")
        let name = try reader.str("actorName", Limits.actorName)
        switch kind {
        case 0 where uid == 0 && name.isEmpty: return .none
        case 1 where name.isEmpty: return .operator(uid: uid)
        case 2 where uid == 0 && !name.isEmpty: return .account(name)
        case 3 where uid == 0 && name.isEmpty: return .daemon
        default: throw .malformed("an actor must be kind 0 to 3 with only the uid or name its kind uses")
        }
    }

    private static func encode(_ info: OrganizationInfo, into writer: inout ByteWriter) {
        writer.str(info.name)
        writer.u8(info.requiresTwoFactor ? 1 : 0)
        writer.u32(info.members)
        writer.u64(info.createdAt)
        writer.u64(info.updatedAt)
    }

    private static func decodeOrganizationInfo(_ reader: inout ByteReader) throws(WireError) -> OrganizationInfo {
        let name = try reader.str("name", Limits.storedOrganization)
        let flags = try reader.u8("flags")
        guard flags & ~1 == 0 else { throw .malformed("'flags' may only have bit 0 set, not \(flags)") }
        return OrganizationInfo(
            name: name,
            requiresTwoFactor: flags == 1,
            members: try reader.u32("members"),
            createdAt: try reader.u64("createdAt"),
            updatedAt: try reader.u64("updatedAt")
        )
    }

    private static func encode(_ entry: AuditEntry, into writer: inout ByteWriter) {
        writer.u64(entry.sequence)
        writer.u64(entry.time)
        encode(entry.actor, into: &writer)
        writer.str(entry.target)
        writer.str(entry.organization)
        writer.str(entry.action)
        writer.str(entry.outcome)
        writer.str(entry.detail)
    }

    private static func decodeAuditEntry(_ reader: inout ByteReader) throws(WireError) -> AuditEntry {
        AuditEntry(
            sequence: try reader.u64("sequence"),
            time: try reader.u64("time"),
            actor: try decodeActor(&reader),
            target: try reader.str("target", Limits.optionalUser),
            organization: try reader.str("organization", Limits.organization),
            action: try reader.str("action", Limits.auditWord),
            outcome: try reader.str("outcome", Limits.auditWord),
            detail: try reader.str("detail", Limits.auditDetail)
        )
    }

    private static func decodeAccountInfo(_ reader: inout ByteReader) throws(WireError) -> AccountInfo {
        AccountInfo(
            user: try reader.str("user", Limits.user),
            organization: try reader.str("organization", Limits.storedOrganization),
            role: try reader.enumeration("role", WireRole.self),
            twoFactor: try reader.enumeration("twoFactor", WireTwoFactorState.self),
            algorithm: try reader.enumeration("algorithm", WireAlgorithm.self),
            digits: try reader.u8("digits"),
            period: try reader.u16("period"),
            failureCount: try reader.u32("failureCount"),
            createdAt: try reader.u64("createdAt"),
            updatedAt: try reader.u64("updatedAt"),
            stateSetBy: try decodeActor(&reader),
            stateSetAt: try reader.u64("stateSetAt"),
            enrolledAt: try reader.u64("enrolledAt"),
            lastLoginAt: try reader.u64("lastLoginAt"),
            recoveryCodes: try reader.u8("recoveryCodes"),
            lockedUntil: try reader.u64("lockedUntil"),
            lockedOrigins: try reader.u32("lockedOrigins")
        )
    }
}
