import AccountStore
import OneTimePassword

// The byte-level pieces shared by every record codec of every store backend: big-endian integers,
// u32-length-prefixed blobs, presence-tagged optionals. Decoding never traps on any input.

/// Why a record could not be decoded. The message names the field, never its content.
package struct RecordDecodingError: Error, Equatable, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
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

package struct ByteWriter {
    package init() {}
    package private(set) var bytes: [UInt8] = []

    package mutating func u8(_ value: UInt8) { bytes.append(value) }
    package mutating func u32(_ value: UInt32) { bigEndian(UInt64(value), count: 4) }
    package mutating func u64(_ value: UInt64) { bigEndian(value, count: 8) }
    package mutating func i64(_ value: Int64) { bigEndian(UInt64(bitPattern: value), count: 8) }

    package mutating func blob(_ value: [UInt8]) {
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    package mutating func string(_ value: String) { blob(Array(value.utf8)) }

    package mutating func optional<T>(_ value: T?, _ write: (inout ByteWriter, T) -> Void) {
        guard let value else { return u8(0) }
        u8(1)
        write(&self, value)
    }

    package mutating func credential(_ credential: TOTPCredential) {
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

package struct ByteReader {
    private let bytes: [UInt8]
    private var index = 0

    package init(_ bytes: [UInt8]) { self.bytes = bytes }

    package var isAtEnd: Bool { index == bytes.count }

    package mutating func u8() throws(RecordDecodingError) -> UInt8 { UInt8(try bigEndian(count: 1)) }
    package mutating func u32() throws(RecordDecodingError) -> UInt32 { UInt32(try bigEndian(count: 4)) }
    package mutating func u64() throws(RecordDecodingError) -> UInt64 { try bigEndian(count: 8) }
    package mutating func i64() throws(RecordDecodingError) -> Int64 { Int64(bitPattern: try bigEndian(count: 8)) }

    package mutating func blob() throws(RecordDecodingError) -> [UInt8] {
        // The length is checked against what is left before anything is allocated.
        let count = Int(try u32())
        guard count <= bytes.count - index else { throw RecordDecodingError("truncated record") }
        defer { index += count }
        return Array(bytes[index..<index + count])
    }

    package mutating func string() throws(RecordDecodingError) -> String {
        let raw = try blob()
        guard let text = String(validating: raw, as: UTF8.self) else { throw RecordDecodingError("invalid UTF-8") }
        return text
    }

    package mutating func optional<T>(
        _ read: (inout ByteReader) throws(RecordDecodingError) -> T
    ) throws(RecordDecodingError) -> T? {
        switch try u8() {
        case 0: return nil
        case 1: return try read(&self)
        default: throw RecordDecodingError("invalid presence tag")
        }
    }

    package mutating func credential() throws(RecordDecodingError) -> TOTPCredential {
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

extension ByteWriter {
    /// u8 kind (1 operator + u32 uid, 2 account + str name, 3 system).
    package mutating func actor(_ actor: Actor) {
        switch actor {
        case .operator(let uid):
            u8(1)
            u32(uid)
        case .account(let name):
            u8(2)
            string(name.value)
        case .system:
            u8(3)
        }
    }
}

extension ByteReader {
    package mutating func actor() throws(RecordDecodingError) -> Actor {
        switch try u8() {
        case 1: return .operator(uid: try u32())
        case 2: return .account(try accountName())
        case 3: return .system
        default: throw RecordDecodingError("unknown actor kind")
        }
    }

    package mutating func accountName() throws(RecordDecodingError) -> AccountName {
        let text = try string()
        guard let name = try? AccountName(text) else { throw RecordDecodingError("invalid account name") }
        return name
    }

    package mutating func organizationName() throws(RecordDecodingError) -> OrganizationName {
        let text = try string()
        guard let name = try? OrganizationName(text) else { throw RecordDecodingError("invalid organization name") }
        return name
    }
}
