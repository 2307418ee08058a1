/// One authenticator of an account as AuthenticatorList reports it. Never holds a secret.
public struct AuthenticatorInfo: Sendable, Hashable {
    /// 1 to 32 bytes.
    public var label: String
    public var algorithm: WireAlgorithm
    /// 6 to 8.
    public var digits: UInt8
    /// The period in seconds, 1 to 3600.
    public var period: UInt16
    /// Unix seconds; 0 when unknown.
    public var enrolledAt: UInt64
    /// Unix seconds at the start of the step of its last accepted code; 0 when none was.
    public var lastUsedAt: UInt64
    /// Its learned clock offset in steps (negative: the device's clock is behind).
    public var drift: Int32

    public init(
        label: String,
        algorithm: WireAlgorithm,
        digits: UInt8,
        period: UInt16,
        enrolledAt: UInt64,
        lastUsedAt: UInt64,
        drift: Int32
    ) {
        self.label = label
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
        self.enrolledAt = enrolledAt
        self.lastUsedAt = lastUsedAt
        self.drift = drift
    }
}

extension Limits {
    static let label = 1...32
    /// The most authenticators one account has (and one AuthenticatorList carries).
    static let authenticators = 0...16
}

/// The fields of the authenticator messages (types 0x41-0x45 and 0xB8), kept apart from the others'.
enum AuthenticatorFields {
    static func encode(_ request: Request, into writer: inout ByteWriter) {
        switch request {
        case .authenticatorAddBegin(let user, let label, let algorithm, let digits, let period):
            writer.str(user)
            writer.str(label)
            writer.u8(algorithm.rawValue)
            writer.u8(digits)
            writer.u16(period)
        case .authenticatorAddConfirm(let user, let label, let code):
            writer.str(user)
            writer.str(label)
            writer.str(code)
        case .authenticatorList(let user):
            writer.str(user)
        case .authenticatorRemove(let user, let label):
            writer.str(user)
            writer.str(label)
        case .authenticatorResync(let user, let label, let firstCode, let secondCode):
            writer.str(user)
            writer.str(label)
            writer.str(firstCode)
            writer.str(secondCode)
        default:
            preconditionFailure("AuthenticatorFields encodes authenticator requests only")
        }
    }

    static func decodeRequest(_ type: MessageType, _ reader: inout ByteReader) throws(WireError) -> Request {
        let user = try reader.str("user", Limits.user)
        switch type {
        case .authenticatorList:
            return .authenticatorList(user: user)
        default:
            break
        }
        let label = try reader.str("label", Limits.label)
        switch type {
        case .authenticatorAddBegin:
            let algorithm = try reader.enumeration("algorithm", WireAlgorithm.self)
            let digits = try reader.u8("digits")
            guard digits == 0 || Limits.digits.contains(Int(digits)) else {
                throw .malformed("'digits' must be 0 (default) or 6 to 8, not \(digits)")
            }
            let period = try reader.u16("period")
            guard period == 0 || Limits.period.contains(Int(period)) else {
                throw .malformed("'period' must be 0 (default) or 1 to 3600 seconds, not \(period)")
            }
            return .authenticatorAddBegin(
                user: user,
                label: label,
                algorithm: algorithm,
                digits: digits,
                period: period
            )
        case .authenticatorAddConfirm:
            return .authenticatorAddConfirm(user: user, label: label, code: try reader.str("code", Limits.confirmCode))
        case .authenticatorRemove:
            return .authenticatorRemove(user: user, label: label)
        case .authenticatorResync:
            let firstCode = try reader.str("firstCode", Limits.confirmCode)
            let secondCode = try reader.str("secondCode", Limits.confirmCode)
            return .authenticatorResync(user: user, label: label, firstCode: firstCode, secondCode: secondCode)
        default:
            preconditionFailure("AuthenticatorFields decodes authenticator requests only")
        }
    }

    static func encode(_ authenticators: [AuthenticatorInfo], into writer: inout ByteWriter) {
        writer.u8(UInt8(clamping: authenticators.count))
        for info in authenticators.prefix(Limits.authenticators.upperBound) {
            writer.str(info.label)
            writer.u8(info.algorithm.rawValue)
            writer.u8(info.digits)
            writer.u16(info.period)
            writer.u64(info.enrolledAt)
            writer.u64(info.lastUsedAt)
            writer.u32(UInt32(bitPattern: info.drift))
        }
    }

    static func decodeList(_ reader: inout ByteReader) throws(WireError) -> [AuthenticatorInfo] {
        let count = try reader.u8("count")
        guard Limits.authenticators.contains(Int(count)) else {
            throw .malformed("an AuthenticatorList carries at most \(Limits.authenticators.upperBound) authenticators")
        }
        var list: [AuthenticatorInfo] = []
        for _ in 0..<count {
            let label = try reader.str("label", Limits.label)
            let algorithm = try reader.enumeration("algorithm", WireAlgorithm.self)
            guard algorithm != .default else { throw .malformed("an authenticator's 'algorithm' must be 1 to 3") }
            let digits = try reader.u8("digits")
            guard Limits.digits.contains(Int(digits)) else {
                throw .malformed("'digits' must be 6 to 8, not \(digits)")
            }
            let period = try reader.u16("period")
            guard Limits.period.contains(Int(period)) else {
                throw .malformed("'period' must be 1 to 3600 seconds, not \(period)")
            }
            let enrolledAt = try reader.u64("enrolledAt")
            let lastUsedAt = try reader.u64("lastUsedAt")
            let drift = Int32(bitPattern: try reader.u32("drift"))
            list.append(
                AuthenticatorInfo(
                    label: label,
                    algorithm: algorithm,
                    digits: digits,
                    period: period,
                    enrolledAt: enrolledAt,
                    lastUsedAt: lastUsedAt,
                    drift: drift
                )
            )
        }
        return list
    }
}
