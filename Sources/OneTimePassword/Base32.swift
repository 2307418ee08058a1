/// Base32 of RFC 4648 section 6, the encoding of secrets in otpauth URIs.
public enum Base32 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// Uppercase, without `=` padding (as authenticator apps expect in URIs).
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[Int(buffer >> UInt32(bits - 5) & 0x1F)])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[Int(buffer << UInt32(5 - bits) & 0x1F)]) }
        return String(decoding: output, as: UTF8.self)
    }

    /// Accepts lowercase, spaces (people copy secrets in groups) and trailing `=` padding.
    /// Rejects any other character, and lengths no encoder could produce.
    public static func decode(_ text: String) throws(OTPError) -> [UInt8] {
        var values: [UInt8] = []
        var paddingSeen = false
        for (position, character) in text.utf8.enumerated() {
            switch character {
            case UInt8(ascii: " "):
                continue
            case UInt8(ascii: "="):
                paddingSeen = true
                continue
            case _ where paddingSeen:
                throw .invalidBase32Character(position: position)
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                values.append(character - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"):
                values.append(character - UInt8(ascii: "a"))
            case UInt8(ascii: "2")...UInt8(ascii: "7"):
                values.append(character - UInt8(ascii: "2") + 26)
            default:
                throw .invalidBase32Character(position: position)
            }
        }
        // 8 characters carry 5 bytes; a final group of 1, 3 or 6 characters cannot end on a byte.
        guard ![1, 3, 6].contains(values.count % 8) else { throw .invalidBase32Length(values.count) }
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for value in values {
            buffer = buffer << 5 | UInt32(value)
            bits += 5
            if bits >= 8 {
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
            }
        }
        return output
    }
}
