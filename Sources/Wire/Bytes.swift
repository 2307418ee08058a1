/// Appends big-endian integers and length-prefixed strings. It never fails: a string longer than
/// a u16 can count is cut to 65535 bytes, which every field limit refuses, so the peer (or
/// `WireCodec.validate`) rejects the frame instead of misreading it.
struct ByteWriter {
    var bytes: [UInt8] = []

    init() {}

    /// A writer whose buffer never grows (and so never leaves a copy behind) up to `capacity` bytes.
    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    /// Overwrites the four bytes at `offset` with `value`, big-endian: a length known only at the end.
    mutating func setU32(_ value: UInt32, at offset: Int) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (24 - 8 * index)) }
    }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> shift)) }
    }

    mutating func str(_ value: some Collection<UInt8>) {
        let count = min(value.count, Int(UInt16.max))
        u16(UInt16(count))
        bytes.append(contentsOf: value.prefix(count))
    }

    mutating func str(_ value: String) { str(value.utf8) }
}

/// Reads the fields of one body in order. Every failure is a `malformedRequest` naming the field.
struct ByteReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { position == bytes.count }

    private mutating func take(_ count: Int, field: String) throws(WireError) -> ArraySlice<UInt8> {
        guard bytes.count - position >= count else {
            throw .malformed("the body ends inside the field '\(field)'")
        }
        defer { position += count }
        return bytes[position..<position + count]
    }

    mutating func u8(_ field: String) throws(WireError) -> UInt8 {
        try take(1, field: field).first!
    }

    mutating func u16(_ field: String) throws(WireError) -> UInt16 {
        try take(2, field: field).reduce(0) { $0 << 8 | UInt16($1) }
    }

    mutating func u32(_ field: String) throws(WireError) -> UInt32 {
        try take(4, field: field).reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64(_ field: String) throws(WireError) -> UInt64 {
        try take(8, field: field).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A `str` as raw bytes, after checking its length, that it holds no NUL and is valid UTF-8.
    /// Used directly for passwords and otpauth URIs so that they never become a `String`.
    mutating func strBytes(_ field: String, _ limits: ClosedRange<Int>) throws(WireError) -> [UInt8] {
        let count = Int(try u16(field))
        guard limits.contains(count) else {
            throw .malformed("'\(field)' must be \(limits.lowerBound) to \(limits.upperBound) bytes long, not \(count)")
        }
        var value = Array(try take(count, field: field))
        guard !value.contains(0) else {
            wipe(&value)
            throw .malformed("'\(field)' must not contain a NUL byte")
        }
        guard Self.isValidUTF8(value) else {
            wipe(&value)
            throw .malformed("'\(field)' is not valid UTF-8")
        }
        return value
    }

    /// Whether `bytes` are valid UTF-8, the rule of `String(validating:)`, checked without making a String:
    /// that would be a copy of a password that nobody wipes.
    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// A `bin`: a u16 byte count and that many bytes of any value.
    mutating func bin(_ field: String, _ limits: ClosedRange<Int>) throws(WireError) -> [UInt8] {
        let count = Int(try u16(field))
        guard limits.contains(count) else {
            throw .malformed("'\(field)' must be \(limits.lowerBound) to \(limits.upperBound) bytes long, not \(count)")
        }
        return Array(try take(count, field: field))
    }

    mutating func str(_ field: String, _ limits: ClosedRange<Int>) throws(WireError) -> String {
        // strBytes has validated the bytes, so this decoding repairs nothing. The bytes are wiped: this String
        // may be a recovery code, and it is the only copy its reader gets.
        var bytes = try strBytes(field, limits)
        defer { wipe(&bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A u8 that must be one of an enum's raw values.
    mutating func enumeration<T: RawRepresentable>(_ field: String, _: T.Type) throws(WireError) -> T
    where T.RawValue == UInt8 {
        let raw = try u8(field)
        guard let value = T(rawValue: raw) else {
            throw .malformed("'\(field)' has no meaning for the value \(raw)")
        }
        return value
    }

    func finish() throws(WireError) {
        guard isAtEnd else {
            throw .malformed("the body has \(bytes.count - position) bytes after its last field")
        }
    }
}
