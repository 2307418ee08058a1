extension QRRenderer {
    /// The symbol as a PNG image: 1-bit greyscale, black dark modules on a white quiet zone, each module
    /// `moduleSize` × `moduleSize` pixels.
    ///
    /// The image data is zlib-wrapped with uncompressed ("stored") deflate blocks, so no zlib is needed; a
    /// 1-bit image is small even so (about 17 KB for a typical otpauth URI at the default size).
    ///
    /// - Precondition: `moduleSize >= 1` and `quietZone >= 0`.
    public static func png(_ matrix: QRMatrix, moduleSize: Int = 8, quietZone: Int = 4) -> [UInt8] {
        // In 1-bit greyscale a set bit is white.
        let image = BitImage(matrix, moduleSize: moduleSize, quietZone: quietZone, darkBit: false)

        // Each scanline starts with its filter type; 0 is "None" (PNG spec section 9.2).
        var scanlines: [UInt8] = []
        scanlines.reserveCapacity((image.bytesPerRow + 1) * image.width)
        for y in 0..<image.width {
            scanlines.append(0)
            scanlines += image.row(y)
        }

        var header: [UInt8] = []
        header.appendBigEndian(UInt32(image.width))
        header.appendBigEndian(UInt32(image.width))
        // Bit depth 1, colour type 0 (greyscale), compression 0, filter method 0, no interlace.
        header += [1, 0, 0, 0, 0]

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        png.appendChunk("IHDR", header)
        png.appendChunk("IDAT", zlibStored(scanlines))
        png.appendChunk("IEND", [])
        return png
    }

    /// `data` as a zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 section 3.2.4).
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        // CMF 0x78: deflate with a 32 KiB window; FLG 0x01 makes (CMF * 256 + FLG) a multiple of 31, no dictionary.
        var stream: [UInt8] = [0x78, 0x01]
        let maximumBlock = Int(UInt16.max)
        stream.reserveCapacity(data.count + 5 * (data.count / maximumBlock + 1) + 6)
        var start = 0
        repeat {
            let end = min(start + maximumBlock, data.count)
            let length = UInt16(end - start)
            // BFINAL in bit 0, BTYPE 00 (stored) in bits 1-2; the rest of the byte is padding before LEN.
            stream.append(end == data.count ? 1 : 0)
            stream += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
            stream += data[start..<end]
            start = end
        } while start < data.count
        stream.appendBigEndian(Checksum.adler32(data))
        return stream
    }
}

extension [UInt8] {
    fileprivate mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8((value >> 16) & 0xFF))
        append(UInt8((value >> 8) & 0xFF))
        append(UInt8(value & 0xFF))
    }

    /// Appends a PNG chunk: length, type, data, and the CRC-32 of type and data.
    fileprivate mutating func appendChunk(_ type: String, _ data: [UInt8]) {
        let typeAndData = Array(type.utf8) + data
        appendBigEndian(UInt32(data.count))
        self += typeAndData
        appendBigEndian(Checksum.crc32(typeAndData))
    }
}
