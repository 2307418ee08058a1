import AccountStore
import OneTimePassword

/// The on-disk encoding of an `Account`: a small, versioned, big-endian binary format.
///
/// Format version 1, field by field:
/// ```
/// u8  format version (1)
/// str name, str organization, u8 role, str passwordHash
/// u8  two-factor state (0 off, 1 pending, 2 on) [+ u8 EnabledBy raw value when on]
/// opt credential totp
/// opt u64 lastAcceptedStep
/// opt (credential, i64 expiresAt) pendingEnrollment
/// u32 failureCount, opt i64 lastFailureAt, i64 createdAt, i64 updatedAt
///
/// str        = u32 byte count + UTF-8 bytes
/// opt X      = u8 0 (absent) | u8 1 + X
/// credential = u32 byte count + secret bytes, u8 algorithm (1 SHA1, 2 SHA256, 3 SHA512), i64 digits, i64 period
/// ```
/// Decoding is strict: every tag must be known, every name valid, and no byte may be left over, so a
/// damaged record is reported instead of being half read. Decoding never traps on any input.
enum AccountRecord {
    static let formatVersion: UInt8 = 1

    static func encode(_ account: Account) -> [UInt8] {
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
        return writer.bytes
    }

    /// Decodes a record, or throws when it is not a well-formed version 1 record.
    static func decode(_ bytes: [UInt8]) throws(RecordDecodingError) -> Account {
        var reader = ByteReader(bytes)
        let version = try reader.u8()
        guard version == formatVersion else { throw RecordDecodingError("unknown record format \(version)") }
        let name = try reader.string()
        let organization = try reader.string()
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
        guard reader.isAtEnd else { throw RecordDecodingError("trailing bytes") }

        let accountName: AccountName
        let organizationName: OrganizationName
        do {
            accountName = try AccountName(name)
            organizationName = try OrganizationName(organization)
        } catch {
            throw RecordDecodingError("invalid name: \(error)")
        }
        return Account(
            name: accountName,
            organization: organizationName,
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
    }
}

/// Why a record could not be decoded. The message names the field, never its content.
struct RecordDecodingError: Error, Equatable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private func algorithmCode(_ algorithm: OTPAlgorithm) -> UInt8 {
    switch algorithm {
    case .sha1: 1
    case .sha256: 2
    case .sha512: 3
    }
}

private func algorithm(code: UInt8) -> OTPAlgorithm? {
    switch code {
    case 1: .sha1
    case 2: .sha256
    case 3: .sha512
    default: nil
    }
}

struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u32(_ value: UInt32) { bigEndian(UInt64(value), count: 4) }
    mutating func u64(_ value: UInt64) { bigEndian(value, count: 8) }
    mutating func i64(_ value: Int64) { bigEndian(UInt64(bitPattern: value), count: 8) }

    mutating func blob(_ value: [UInt8]) {
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func string(_ value: String) { blob(Array(value.utf8)) }

    mutating func optional<T>(_ value: T?, _ write: (inout ByteWriter, T) -> Void) {
        guard let value else { return u8(0) }
        u8(1)
        write(&self, value)
    }

    mutating func credential(_ credential: TOTPCredential) {
        blob(credential.secret)
        u8(algorithmCode(credential.parameters.algorithm))
        i64(Int64(credential.parameters.digits))
        i64(Int64(credential.parameters.period))
    }

    private mutating func bigEndian(_ value: UInt64, count: Int) {
        for index in (0..<count).reversed() {
            bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index))))
        }
    }
}

struct ByteReader {
    private let bytes: [UInt8]
    private var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { index == bytes.count }

    mutating func u8() throws(RecordDecodingError) -> UInt8 { UInt8(try bigEndian(count: 1)) }
    mutating func u32() throws(RecordDecodingError) -> UInt32 { UInt32(try bigEndian(count: 4)) }
    mutating func u64() throws(RecordDecodingError) -> UInt64 { try bigEndian(count: 8) }
    mutating func i64() throws(RecordDecodingError) -> Int64 { Int64(bitPattern: try bigEndian(count: 8)) }

    mutating func blob() throws(RecordDecodingError) -> [UInt8] {
        // The length is checked against what is left before anything is allocated.
        let count = Int(try u32())
        guard count <= bytes.count - index else { throw RecordDecodingError("truncated record") }
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    mutating func string() throws(RecordDecodingError) -> String {
        let raw = try blob()
        guard let text = String(validating: raw, as: UTF8.self) else { throw RecordDecodingError("invalid UTF-8") }
        return text
    }

    mutating func optional<T>(
        _ read: (inout ByteReader) throws(RecordDecodingError) -> T
    ) throws(RecordDecodingError) -> T? {
        switch try u8() {
        case 0: return nil
        case 1: return try read(&self)
        default: throw RecordDecodingError("invalid presence tag")
        }
    }

    mutating func credential() throws(RecordDecodingError) -> TOTPCredential {
        let secret = try blob()
        guard let algorithm = algorithm(code: try u8()) else {
            throw RecordDecodingError("unknown TOTP algorithm")
        }
        let digits = try i64()
        let period = try i64()
        return TOTPCredential(
            secret: secret,
            parameters: TOTPParameters(algorithm: algorithm, digits: Int(digits), period: Int(period))
        )
    }

    private mutating func bigEndian(count: Int) throws(RecordDecodingError) -> UInt64 {
        guard count <= bytes.count - index else { throw RecordDecodingError("truncated record") }
        var value: UInt64 = 0
        for byte in bytes[index..<index + count] {
            value = value << 8 | UInt64(byte)
        }
        index += count
        return value
    }
}
