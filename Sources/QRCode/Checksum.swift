/// The two checksums a PNG file needs, so QRCode does not depend on zlib.
enum Checksum {
    /// CRC-32 as PNG (ISO 3309, ITU-T V.42) and zlib compute it: reflected polynomial 0xEDB88320,
    /// initial value and final XOR 0xFFFFFFFF. `crc32("123456789")` is 0xCBF43926.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = crcTable[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }

    /// Adler-32 (RFC 1950 section 8.2): two sums modulo 65521, the second in the high 16 bits.
    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        let modulus: UInt32 = 65521
        var a: UInt32 = 1
        var b: UInt32 = 0
        // 5552 is the most bytes that can be summed before b could overflow 32 bits (zlib's NMAX).
        var start = 0
        while start < bytes.count {
            let end = Swift.min(start + 5552, bytes.count)
            for byte in bytes[start..<end] {
                a += UInt32(byte)
                b += a
            }
            a %= modulus
            b %= modulus
            start = end
        }
        return (b << 16) | a
    }

    private static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 {
            value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1
        }
        return value
    }
}
