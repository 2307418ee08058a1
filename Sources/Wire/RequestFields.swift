/// The field limits of docs/protocol.md, in bytes. One place, shared by both directions.
enum Limits {
    static let user = 1...64
    static let organization = 0...64
    static let storedOrganization = 1...64
    static let loginPassword = 0...256
    static let newPassword = 1...256
    static let loginCode = 0...32
    static let confirmCode = 1...32
    static let after = 0...64
    static let pageSize = 1...WireProtocol.maximumPageSize
    static let organizationPageSize = 1...WireProtocol.maximumOrganizationPageSize
    static let auditPageSize = 1...WireProtocol.maximumAuditPageSize
    static let auditWord = 1...32
    static let auditDetail = 0...128
    static let actorName = 0...64
    static let recoveryCode = 1...32
    static let optionalUser = 0...64
    static let digits = 6...8
    static let period = 1...3600
    static let message = 0...1024
    static let loginURI = 0...1024
    static let enrollmentURI = 1...1024
    static let next = 0...64
    static let originService = 0...64
    static let originHost = 0...255
    /// Neither root (whose logins carry no invoker) nor (uid_t)-1.
    static let invokerUID: ClosedRange<UInt32> = 1...0xFFFF_FFFE
    static let screen = 0...32768
    static let backupChunk = 0...WireProtocol.maximumBackupChunkLength
    static let keyFile = 1...1024
}

/// The fields of each request after the type and id.
enum RequestFields {
    static func encode(_ request: Request, into writer: inout ByteWriter) {
        switch request {
        case .hello(let minVersion, let maxVersion):
            writer.bytes.append(contentsOf: WireProtocol.magic)
            writer.u16(minVersion)
            writer.u16(maxVersion)
        case .login(let user, let password, let codeKind, let code):
            writer.str(user)
            writer.str(password)
            writer.u8(codeKind.rawValue)
            writer.str(code)
        case .userAdd(let user, let organization, let role, let requireTwoFactor, let password):
            writer.str(user)
            writer.str(organization)
            writer.u8(role.rawValue)
            writer.u8(requireTwoFactor ? 1 : 0)
            writer.str(password)
        case .userSetPassword(let user, let password):
            writer.str(user)
            writer.str(password)
        case .userShow(let user), .userRemove(let user), .twoFactorDisable(let user), .twoFactorForce(let user),
            .twoFactorReset(let user), .recoveryCodesIssue(let user), .unlock(let user):
            writer.str(user)
        case .organizationAdd(let organization, let requireTwoFactor),
            .organizationSet(let organization, let requireTwoFactor):
            writer.str(organization)
            writer.u8(requireTwoFactor ? 1 : 0)
        case .organizationShow(let organization), .organizationRemove(let organization):
            writer.str(organization)
        case .organizationList(let after, let limit):
            writer.str(after)
            writer.u16(limit)
        case .auditQuery(let user, let organization, let since, let before, let limit):
            writer.str(user)
            writer.str(organization)
            writer.u64(since)
            writer.u64(before)
            writer.u16(limit)
        case .userList(let organization, let after, let limit):
            writer.str(organization)
            writer.str(after)
            writer.u16(limit)
        case .enrollBegin(let user, let algorithm, let digits, let period):
            writer.str(user)
            writer.u8(algorithm.rawValue)
            writer.u8(digits)
            writer.u16(period)
        case .enrollConfirm(let user, let code):
            writer.str(user)
            writer.str(code)
        case .loginFrom(let user, let password, let codeKind, let code, let origin):
            writer.str(user)
            writer.str(password)
            writer.u8(codeKind.rawValue)
            writer.str(code)
            origin.encode(into: &writer)
        case .codeCheck(let user, let codeKind, let code, let origin):
            writer.str(user)
            writer.u8(codeKind.rawValue)
            writer.str(code)
            origin.encode(into: &writer)
        case .backupBegin, .keyRotate:
            break
        case .backupRead(let offset):
            writer.u64(offset)
        case .graceRevoke, .accessShow, .organizationAccessSet, .organizationAccessShow, .exemptAdd, .exemptRemove,
            .exemptList:
            AccessFields.encode(request, into: &writer)
        case .authenticatorAddBegin, .authenticatorAddConfirm, .authenticatorList, .authenticatorRemove,
            .authenticatorResync:
            AuthenticatorFields.encode(request, into: &writer)
        }
    }

    static func decode(_ type: MessageType, _ reader: inout ByteReader) throws(WireError) -> Request {
        switch type {
        case .hello:
            let magic = [
                try reader.u8("magic"), try reader.u8("magic"), try reader.u8("magic"), try reader.u8("magic"),
            ]
            guard magic == WireProtocol.magic else {
                throw .malformed("a Hello must start with the ASCII bytes TFAD")
            }
            let minVersion = try reader.u16("minVersion")
            let maxVersion = try reader.u16("maxVersion")
            guard minVersion >= 1, minVersion <= maxVersion else {
                throw .malformed("a Hello needs 1 <= minVersion <= maxVersion, not \(minVersion) and \(maxVersion)")
            }
            return .hello(minVersion: minVersion, maxVersion: maxVersion)
        case .login:
            let user = try reader.str("user", Limits.user)
            let password = try reader.strBytes("password", Limits.loginPassword)
            let (codeKind, code) = try decodeCode(&reader)
            return .login(user: user, password: password, codeKind: codeKind, code: code)
        case .loginFrom, .loginFromInvoker:
            let user = try reader.str("user", Limits.user)
            let password = try reader.strBytes("password", Limits.loginPassword)
            let (codeKind, code) = try decodeCode(&reader)
            let origin = try LoginOrigin.decode(&reader, withInvoker: type == .loginFromInvoker)
            return .loginFrom(user: user, password: password, codeKind: codeKind, code: code, origin: origin)
        case .codeCheck, .codeCheckFromInvoker:
            let user = try reader.str("user", Limits.user)
            let (codeKind, code) = try decodeCode(&reader)
            let origin = try LoginOrigin.decode(&reader, withInvoker: type == .codeCheckFromInvoker)
            return .codeCheck(user: user, codeKind: codeKind, code: code, origin: origin)
        case .userAdd:
            let user = try reader.str("user", Limits.user)
            let organization = try reader.str("organization", Limits.organization)
            let role = try reader.enumeration("role", WireRole.self)
            let flags = try reader.u8("flags")
            guard flags & ~1 == 0 else {
                throw .malformed("'flags' may only have bit 0 (require 2FA) set, not \(flags)")
            }
            let password = try reader.strBytes("password", Limits.newPassword)
            return .userAdd(
                user: user,
                organization: organization,
                role: role,
                requireTwoFactor: flags == 1,
                password: password
            )
        case .userSetPassword:
            let user = try reader.str("user", Limits.user)
            return .userSetPassword(user: user, password: try reader.strBytes("password", Limits.newPassword))
        case .userShow:
            return .userShow(user: try reader.str("user", Limits.user))
        case .userList:
            let organization = try reader.str("organization", Limits.organization)
            let after = try reader.str("after", Limits.after)
            let limit = try reader.u16("limit")
            guard Limits.pageSize.contains(Int(limit)) else {
                throw .malformed("'limit' must be 1 to \(WireProtocol.maximumPageSize), not \(limit)")
            }
            return .userList(organization: organization, after: after, limit: limit)
        case .userRemove:
            return .userRemove(user: try reader.str("user", Limits.user))
        case .enrollBegin:
            let user = try reader.str("user", Limits.user)
            let algorithm = try reader.enumeration("algorithm", WireAlgorithm.self)
            let digits = try reader.u8("digits")
            guard digits == 0 || Limits.digits.contains(Int(digits)) else {
                throw .malformed("'digits' must be 0 (default) or 6 to 8, not \(digits)")
            }
            let period = try reader.u16("period")
            guard period == 0 || Limits.period.contains(Int(period)) else {
                throw .malformed("'period' must be 0 (default) or 1 to 3600 seconds, not \(period)")
            }
            return .enrollBegin(user: user, algorithm: algorithm, digits: digits, period: period)
        case .enrollConfirm:
            let user = try reader.str("user", Limits.user)
            return .enrollConfirm(user: user, code: try reader.str("code", Limits.confirmCode))
        case .twoFactorDisable:
            return .twoFactorDisable(user: try reader.str("user", Limits.user))
        case .twoFactorForce:
            return .twoFactorForce(user: try reader.str("user", Limits.user))
        case .twoFactorReset:
            return .twoFactorReset(user: try reader.str("user", Limits.user))
        case .recoveryCodesIssue:
            return .recoveryCodesIssue(user: try reader.str("user", Limits.user))
        case .unlock:
            return .unlock(user: try reader.str("user", Limits.user))
        case .organizationAdd, .organizationSet:
            let organization = try reader.str("organization", Limits.storedOrganization)
            let flags = try reader.u8("flags")
            guard flags & ~1 == 0 else {
                throw .malformed("'flags' may only have bit 0 (require 2FA) set, not \(flags)")
            }
            return type == .organizationAdd
                ? .organizationAdd(organization: organization, requireTwoFactor: flags == 1)
                : .organizationSet(organization: organization, requireTwoFactor: flags == 1)
        case .organizationShow:
            return .organizationShow(organization: try reader.str("organization", Limits.storedOrganization))
        case .organizationRemove:
            return .organizationRemove(organization: try reader.str("organization", Limits.storedOrganization))
        case .organizationList:
            let after = try reader.str("after", Limits.after)
            let limit = try reader.u16("limit")
            guard Limits.organizationPageSize.contains(Int(limit)) else {
                throw .malformed("'limit' must be 1 to \(WireProtocol.maximumOrganizationPageSize), not \(limit)")
            }
            return .organizationList(after: after, limit: limit)
        case .auditQuery:
            let user = try reader.str("user", Limits.optionalUser)
            let organization = try reader.str("organization", Limits.organization)
            let since = try reader.u64("since")
            let before = try reader.u64("before")
            let limit = try reader.u16("limit")
            guard Limits.auditPageSize.contains(Int(limit)) else {
                throw .malformed("'limit' must be 1 to \(WireProtocol.maximumAuditPageSize), not \(limit)")
            }
            return .auditQuery(user: user, organization: organization, since: since, before: before, limit: limit)
        case .backupBegin:
            return .backupBegin
        case .backupRead:
            return .backupRead(offset: try reader.u64("offset"))
        case .keyRotate:
            return .keyRotate
        case .graceRevoke, .accessShow, .organizationAccessSet, .organizationAccessShow, .exemptAdd, .exemptRemove,
            .exemptList:
            return try AccessFields.decodeRequest(type, &reader)
        case .authenticatorAddBegin, .authenticatorAddConfirm, .authenticatorList, .authenticatorRemove,
            .authenticatorResync:
            return try AuthenticatorFields.decodeRequest(type, &reader)
        default:
            preconditionFailure("decodeRequest passes request types only")
        }
    }

    /// codeKind and code, as Login, LoginFrom and CodeCheck carry them.
    private static func decodeCode(_ reader: inout ByteReader) throws(WireError) -> (CodeKind, String) {
        let codeKind = try reader.enumeration("codeKind", CodeKind.self)
        let code = try reader.str("code", Limits.loginCode)
        if codeKind == .none, !code.utf8.isEmpty {
            throw .malformed("'code' must be empty when 'codeKind' is 0 (none)")
        }
        if codeKind != .none, code.utf8.isEmpty {
            throw .malformed("'code' must not be empty when 'codeKind' is not 0 (none)")
        }
        return (codeKind, code)
    }
}
