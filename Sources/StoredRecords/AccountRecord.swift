import AccountStore
import OneTimePassword

/// The on-disk encoding of an `Account`: a small, versioned, big-endian binary format.
///
/// Format version 4, field by field (version 1 is the same without the fields after updatedAt, version
/// 2 without the authenticators, access and offsets sections, version 3 without the offsets section; all
/// are still read: a store written by an earlier release opens unchanged):
/// ```
/// u8  format version (4)
/// str name, str organization, u8 role, str passwordHash
/// u8  two-factor state (0 off, 1 pending, 2 on) [+ u8 EnabledBy raw value when on]
/// opt credential totp
/// opt u64 lastAcceptedStep
/// opt (credential, i64 expiresAt) pendingEnrollment
/// u32 failureCount, opt i64 lastFailureAt, i64 createdAt, i64 updatedAt
/// opt (actor, i64 time) twoFactorChange, opt i64 enrolledAt, opt i64 lastLoginAt
/// u32 count + count x (blob salt, blob digest) recoveryCodes
/// authenticators section (format 3, `encodeAuthenticators`):
///     str totpLabel, u32 totpDrift (two's complement)
///     u32 count + count x (str label, credential, opt u64 lastAcceptedStep, u32 drift, opt i64 enrolledAt)
///         moreAuthenticators
///     opt (str label, credential, i64 expiresAt) pendingAuthenticator
/// access section (version 3): graces and exemptions, see AccountRecord+Access.swift
/// offsets section (version 4): opt u32 lastOffset (two's complement) of totp when it is present, then
///     of each of moreAuthenticators
///
/// str        = u32 byte count + UTF-8 bytes
/// opt X      = u8 0 (absent) | u8 1 + X
/// credential = u32 byte count + secret bytes, u8 algorithm (1 SHA1, 2 SHA256, 3 SHA512), i64 digits, i64 period
/// actor      = u8 1 + u32 uid (operator) | u8 2 + str name (account) | u8 3 (the daemon)
/// ```
/// Decoding is strict: every tag must be known, every name valid, and no byte may be left over, so a
/// damaged record is reported instead of being half read. Decoding never traps on any input.
package enum AccountRecord {
    package static let formatVersion: UInt8 = 4
    /// No account has more recovery codes than this; a larger count is damage.
    package static let maximumRecoveryCodes = 64

    package static func encode(_ account: Account) -> [UInt8] {
        var writer = ByteWriter()
        writer.u8(formatVersion)
        writer.string(account.name.value)
        writer.string(account.organization.value)
        writer.u8(account.role.rawValue)
        writer.string(account.passwordHash)
        switch account.twoFactor {
        case .off: writer.u8(0)
        case .pending: writer.u8(1)
        case .on(let enabledBy):
            writer.u8(2)
            writer.u8(enabledBy.rawValue)
        }
        writer.optional(account.totp) { $0.credential($1) }
        writer.optional(account.lastAcceptedStep) { $0.u64($1) }
        writer.optional(account.pendingEnrollment) { writer, pending in
            writer.credential(pending.credential)
            writer.i64(pending.expiresAt)
        }
        writer.u32(account.failureCount)
        writer.optional(account.lastFailureAt) { $0.i64($1) }
        writer.i64(account.createdAt)
        writer.i64(account.updatedAt)
        writer.optional(account.twoFactorChange) { writer, change in
            writer.actor(change.actor)
            writer.i64(change.time)
        }
        writer.optional(account.enrolledAt) { $0.i64($1) }
        writer.optional(account.lastLoginAt) { $0.i64($1) }
        writer.u32(UInt32(account.recoveryCodes.count))
        for code in account.recoveryCodes {
            writer.blob(code.salt)
            writer.blob(code.digest)
        }
        encodeAuthenticators(account, into: &writer)
        encodeAccessFields(account, into: &writer)
        encodeOffsets(account, into: &writer)
        return writer.bytes
    }

    /// Decodes a record, or throws when it is not a well-formed version 1 to 4 record.
    package static func decode(_ bytes: [UInt8]) throws(RecordDecodingError) -> Account {
        var reader = ByteReader(bytes)
        let version = try reader.u8()
        guard (1...formatVersion).contains(version) else {
            throw RecordDecodingError("unknown record format \(version)")
        }
        let name = try reader.accountName()
        let organization = try reader.organizationName()
        guard let role = Role(rawValue: try reader.u8()) else { throw RecordDecodingError("unknown role") }
        let passwordHash = try reader.string()
        let twoFactor: TwoFactorState
        switch try reader.u8() {
        case 0: twoFactor = .off
        case 1: twoFactor = .pending
        case 2:
            guard let enabledBy = EnabledBy(rawValue: try reader.u8()) else {
                throw RecordDecodingError("unknown enabled-by value")
            }
            twoFactor = .on(enabledBy)
        default: throw RecordDecodingError("unknown two-factor state")
        }
        let totp = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
            try reader.credential()
        }
        let lastAcceptedStep = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
            try reader.u64()
        }
        let pending = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
            let credential = try reader.credential()
            return PendingEnrollment(credential: credential, expiresAt: try reader.i64())
        }
        let failureCount = try reader.u32()
        let lastFailureAt = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
            try reader.i64()
        }
        let createdAt = try reader.i64()
        let updatedAt = try reader.i64()
        var account = Account(
            name: name,
            organization: organization,
            role: role,
            passwordHash: passwordHash,
            twoFactor: twoFactor,
            totp: totp,
            lastAcceptedStep: lastAcceptedStep,
            pendingEnrollment: pending,
            failureCount: failureCount,
            lastFailureAt: lastFailureAt,
            createdAt: createdAt,
            updatedAt: updatedAt
        )
        if version >= 2 {
            try decodeVersion2Fields(&reader, into: &account)
        }
        if version >= 3 {
            try decodeAuthenticators(&reader, into: &account)
            try decodeAccessFields(&reader, into: &account)
        }
        if version >= 4 {
            try decodeOffsets(&reader, into: &account)
        }
        guard reader.isAtEnd else { throw RecordDecodingError("trailing bytes") }
        return account
    }

    private static func decodeVersion2Fields(
        _ reader: inout ByteReader,
        into account: inout Account
    ) throws(RecordDecodingError) {
        account.twoFactorChange = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
            let actor = try reader.actor()
            return StateChange(actor: actor, time: try reader.i64())
        }
        account.enrolledAt = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
            try reader.i64()
        }
        account.lastLoginAt = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
            try reader.i64()
        }
        let count = Int(try reader.u32())
        guard count <= maximumRecoveryCodes else { throw RecordDecodingError("too many recovery codes") }
        for _ in 0..<count {
            let salt = try reader.blob()
            account.recoveryCodes.append(RecoveryCodeHash(salt: salt, digest: try reader.blob()))
        }
    }

    // MARK: Authenticators (format 3)

    private static func encodeAuthenticators(_ account: Account, into writer: inout ByteWriter) {
        writer.string(account.totpLabel.value)
        writer.u32(UInt32(bitPattern: account.totpDrift))
        writer.u32(UInt32(account.moreAuthenticators.count))
        for authenticator in account.moreAuthenticators {
            writer.string(authenticator.label.value)
            writer.credential(authenticator.credential)
            writer.optional(authenticator.lastAcceptedStep) { $0.u64($1) }
            writer.u32(UInt32(bitPattern: authenticator.drift))
            writer.optional(authenticator.enrolledAt) { $0.i64($1) }
        }
        writer.optional(account.pendingAuthenticator) { writer, pending in
            writer.string(pending.label.value)
            writer.credential(pending.enrollment.credential)
            writer.i64(pending.enrollment.expiresAt)
        }
    }

    private static func decodeAuthenticators(
        _ reader: inout ByteReader,
        into account: inout Account
    ) throws(RecordDecodingError) {
        account.totpLabel = try reader.authenticatorLabel()
        account.totpDrift = Int32(bitPattern: try reader.u32())
        let count = Int(try reader.u32())
        guard count < Account.maximumAuthenticators else { throw RecordDecodingError("too many authenticators") }
        var labels: Set<AuthenticatorLabel> = [account.totpLabel]
        for _ in 0..<count {
            let label = try reader.authenticatorLabel()
            guard labels.insert(label).inserted else { throw RecordDecodingError("duplicate authenticator label") }
            let credential = try reader.credential()
            let lastAcceptedStep = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
                try reader.u64()
            }
            let drift = Int32(bitPattern: try reader.u32())
            let enrolledAt = try reader.optional { (reader: inout ByteReader) throws(RecordDecodingError) in
                try reader.i64()
            }
            account.moreAuthenticators.append(
                Authenticator(
                    label: label,
                    credential: credential,
                    lastAcceptedStep: lastAcceptedStep,
                    drift: drift,
                    enrolledAt: enrolledAt
                )
            )
        }
        account.pendingAuthenticator = try reader.optional {
            (reader: inout ByteReader) throws(RecordDecodingError) in
            let label = try reader.authenticatorLabel()
            let credential = try reader.credential()
            let enrollment = PendingEnrollment(credential: credential, expiresAt: try reader.i64())
            return PendingAuthenticator(label: label, enrollment: enrollment)
        }
    }
}

extension AccountRecord {
    // MARK: Measured offsets (format 4)

    private static func encodeOffsets(_ account: Account, into writer: inout ByteWriter) {
        if account.totp != nil {
            writer.optional(account.totpLastOffset) { $0.u32(UInt32(bitPattern: $1)) }
        }
        for authenticator in account.moreAuthenticators {
            writer.optional(authenticator.lastOffset) { $0.u32(UInt32(bitPattern: $1)) }
        }
    }

    private static func decodeOffsets(
        _ reader: inout ByteReader,
        into account: inout Account
    ) throws(RecordDecodingError) {
        let offset = { (reader: inout ByteReader) throws(RecordDecodingError) -> Int32 in
            Int32(bitPattern: try reader.u32())
        }
        if account.totp != nil {
            account.totpLastOffset = try reader.optional(offset)
        }
        for index in account.moreAuthenticators.indices {
            account.moreAuthenticators[index].lastOffset = try reader.optional(offset)
        }
    }
}

extension ByteReader {
    fileprivate mutating func authenticatorLabel() throws(RecordDecodingError) -> AuthenticatorLabel {
        let text = try string()
        guard let label = try? AuthenticatorLabel(text) else {
            throw RecordDecodingError("invalid authenticator label")
        }
        return label
    }
}
