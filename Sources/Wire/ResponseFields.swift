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
        case .userInfo(let info):
            encode(info, into: &writer)
        case .userList(let accounts, let next):
            writer.u16(UInt16(clamping: accounts.count))
            for info in accounts.prefix(Int(UInt16.max)) { encode(info, into: &writer) }
            writer.str(next)
        case .enrollmentStarted(let otpauthURI, let expiresAt):
            writer.str(otpauthURI)
            writer.u64(expiresAt)
        case .enrollScreen(let otpauthURI, let screen):
            writer.str(otpauthURI)
            writer.str(screen)
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
            let otpauthURI = try reader.str("otpauthURI", Limits.loginURI)
            guard outcome == .locked || retryAfter == 0 else {
                throw .malformed("'retryAfter' must be 0 unless the outcome is locked")
            }
            guard (outcome == .enroll) == !otpauthURI.utf8.isEmpty else {
                throw .malformed("'otpauthURI' must be non-empty exactly when the outcome is enroll")
            }
            return .loginResult(outcome: outcome, retryAfter: retryAfter, otpauthURI: otpauthURI)
        case .userInfo:
            return .userInfo(try decodeAccountInfo(&reader))
        case .userListReply:
            let count = try reader.u16("count")
            guard count <= WireProtocol.maximumPageSize else {
                throw .malformed("'count' must be at most \(WireProtocol.maximumPageSize), not \(count)")
            }
            var accounts: [AccountInfo] = []
            for _ in 0..<count { accounts.append(try decodeAccountInfo(&reader)) }
            return .userList(accounts, next: try reader.str("next", Limits.next))
        case .enrollmentStarted:
            let otpauthURI = try reader.str("otpauthURI", Limits.enrollmentURI)
            return .enrollmentStarted(otpauthURI: otpauthURI, expiresAt: try reader.u64("expiresAt"))
        case .enrollScreen:
            let otpauthURI = try reader.str("otpauthURI", Limits.enrollmentURI)
            return .enrollScreen(otpauthURI: otpauthURI, screen: try reader.str("screen", Limits.screen))
        case .hello, .login, .userAdd, .userSetPassword, .userShow, .userList, .userRemove, .enrollBegin,
            .enrollConfirm, .twoFactorDisable, .loginFrom, .codeCheck:
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
            updatedAt: try reader.u64("updatedAt")
        )
    }
}
