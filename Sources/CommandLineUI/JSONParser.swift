/// Just enough JSON reading for `twofactor helper`, without Foundation: RFC 8259 values, with
/// limits on depth and size so that a hostile line cannot exhaust the stack.
extension JSONValue {
    /// Why a JSON text was refused; the message names the byte offset, never the text itself
    /// (it may hold a password).
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses one JSON text; whitespace around it is allowed, anything else after it is not.
    public init(parsing bytes: [UInt8]) throws(ParseError) {
        var parser = JSONByteParser(bytes: bytes)
        self = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.offset == bytes.count else { throw parser.failure("unexpected bytes after the JSON value") }
    }

    /// The member `key` of an object, or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    /// The string, or nil for any other kind of value.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}

private struct JSONByteParser {
    let bytes: [UInt8]
    var offset = 0
    static let maximumDepth = 32

    init(bytes: [UInt8]) { self.bytes = bytes }

    func failure(_ message: String) -> JSONValue.ParseError {
        JSONValue.ParseError(message: "invalid JSON at byte \(offset): \(message)")
    }

    mutating func skipWhitespace() {
        while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
    }

    mutating func value(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        guard depth < Self.maximumDepth else { throw failure("nested too deeply") }
        skipWhitespace()
        guard offset < bytes.count else { throw failure("a value is missing") }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try number())
        }
    }

    mutating func literal(_ word: String) throws(JSONValue.ParseError) {
        let expected = Array(word.utf8)
        guard bytes.count - offset >= expected.count, Array(bytes[offset..<offset + expected.count]) == expected else {
            throw failure("expected \(word)")
        }
        offset += expected.count
    }

    /// Integers only: the helper's fields are names, secrets and small counts.
    mutating func number() throws(JSONValue.ParseError) -> Int64 {
        let start = offset
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        let digits = offset
        while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) { offset += 1 }
        // RFC 8259: no leading zero ("012" is not a number there, and other readers take it for octal).
        guard offset - digits < 2 || bytes[digits] != UInt8(ascii: "0") else {
            throw failure("a number with a leading zero")
        }
        guard let value = Int64(String(decoding: bytes[start..<offset], as: UTF8.self)) else {
            throw failure("expected a value (numbers must be integers)")
        }
        return value
    }

    mutating func expect(_ byte: Character) throws(JSONValue.ParseError) {
        skipWhitespace()
        guard offset < bytes.count, bytes[offset] == byte.asciiValue else { throw failure("expected '\(byte)'") }
        offset += 1
    }

    mutating func object(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        try expect("{")
        var members: [(String, JSONValue)] = []
        // RFC 8259 leaves an object with a name twice to each reader, and they differ (the first counts here, the
        // last in most others): a reader in front of the helper would check another request than the helper runs.
        var names = Set<String>()
        skipWhitespace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
            offset += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw failure("expected a key") }
            let key = try string()
            guard names.insert(key).inserted else { throw failure("a name used twice in one object") }
            try expect(":")
            members.append((key, try value(depth: depth + 1)))
            skipWhitespace()
            guard offset < bytes.count else { throw failure("unterminated object") }
            offset += 1
            if bytes[offset - 1] == UInt8(ascii: "}") { return .object(members) }
            guard bytes[offset - 1] == UInt8(ascii: ",") else { throw failure("expected ',' or '}'") }
        }
    }

    mutating func array(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        try expect("[")
        var values: [JSONValue] = []
        skipWhitespace()
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
            offset += 1
            return .array(values)
        }
        while true {
            values.append(try value(depth: depth + 1))
            skipWhitespace()
            guard offset < bytes.count else { throw failure("unterminated array") }
            offset += 1
            if bytes[offset - 1] == UInt8(ascii: "]") { return .array(values) }
            guard bytes[offset - 1] == UInt8(ascii: ",") else { throw failure("expected ',' or ']'") }
        }
    }

    mutating func string() throws(JSONValue.ParseError) -> String {
        offset += 1  // the opening quote
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() throws(JSONValue.ParseError) {
            guard !raw.isEmpty else { return }
            guard let text = String(validating: raw, as: UTF8.self) else { throw failure("invalid UTF-8") }
            scalars.append(contentsOf: text.unicodeScalars)
            raw.removeAll()
        }
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            switch byte {
            case UInt8(ascii: "\""):
                try flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                try flush()
                guard offset < bytes.count else { break }
                let escape = bytes[offset]
                offset += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var unit = try hex4()
                    if (0xD800..<0xDC00).contains(unit) {
                        try literal("\\u")
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw failure("unpaired surrogate") }
                        unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(unit) else { throw failure("unpaired surrogate") }
                    scalars.append(scalar)
                default: throw failure("unknown escape")
                }
            case 0..<0x20:
                throw failure("control character in a string")
            default:
                raw.append(byte)
            }
        }
        throw failure("unterminated string")
    }

    mutating func hex4() throws(JSONValue.ParseError) -> UInt32 {
        // Digits only: `UInt32(_:radix:)` alone also takes a sign, so "\u+041" read as "A".
        guard bytes.count - offset >= 4,
            bytes[offset..<offset + 4].allSatisfy({ Character(Unicode.Scalar($0)).isHexDigit }),
            let value = UInt32(String(decoding: bytes[offset..<offset + 4], as: UTF8.self), radix: 16)
        else { throw failure("expected four hex digits") }
        offset += 4
        return value
    }
}
