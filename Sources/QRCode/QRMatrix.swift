#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import CQREncode

/// A QR code symbol as a square matrix of modules, without its quiet zone.
///
/// Made by libqrencode at error-correction level M, with the smallest version that holds the text.
public struct QRMatrix: Sendable, Equatable {
    /// Modules per side, without the quiet zone: 17 + 4 × version (21 for version 1, 177 for version 40).
    public let size: Int
    /// Row-major, `size * size` entries, `true` for a dark module.
    private var modules: [Bool]

    /// Encodes `text` (as UTF-8) into the smallest QR code at error-correction level M.
    ///
    /// The corresponding C function is `QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1)`: version 0
    /// lets libqrencode choose the smallest version; `QR_MODE_8` is the hint its docs name for UTF-8 text;
    /// `1` keeps letters case-sensitive so lowercase survives.
    ///
    /// - Throws: `QRCodeError.textTooLong` when the text does not fit in a version-40 symbol,
    ///   `QRCodeError.invalidText` when the text is empty (libqrencode answers `EINVAL`) or contains a NUL
    ///   character.
    public init(encoding text: String) throws(QRCodeError) {
        // A NUL would silently cut the C string short, and a QR code missing the end of the text scans "fine".
        if text.utf8.contains(0) {
            throw .invalidText
        }
        try self.init(encodingCString: text)
    }

    /// Encodes the bytes of `text` (UTF-8, as the caller checked) as `init(encoding:)` does a `String`, for a text
    /// holding a secret: the NUL-terminated copy libqrencode needs is wiped once encoded (no `String` is made), and
    /// `wipe()` then clears the matrix.
    ///
    /// - Throws: as `init(encoding:)`.
    public init(encoding text: [UInt8]) throws(QRCodeError) {
        guard !text.contains(0) else { throw .invalidText }
        var cString = [CChar](repeating: 0, count: text.count + 1)
        defer {
            // Never empty: it holds at least the NUL.
            cString.withUnsafeMutableBytes { explicit_bzero($0.baseAddress!, $0.count) }
        }
        for (index, byte) in text.enumerated() { cString[index] = CChar(bitPattern: byte) }
        try self.init(encodingCString: cString)
    }

    private init(encodingCString text: UnsafePointer<CChar>) throws(QRCodeError) {
        errno = 0
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else {
            // qrencode.h: "On error, NULL is returned, and errno is set to indicate the error."
            throw QRCodeError(code: errno == 0 ? EINVAL : errno)
        }
        let width = Int(code.pointee.width)
        // The modules encode the text, which may be a secret: they are cleared before libqrencode frees them.
        defer {
            explicit_bzero(code.pointee.data, width * width)
            QRcode_free(code)
        }

        // qrencode.h documents `data` as width × width bytes, one per module; bit 0 is "1=black/0=white".
        let data = UnsafeBufferPointer(start: code.pointee.data, count: width * width)
        self.size = width
        self.modules = data.map { $0 & 1 == 1 }
    }

    /// Clears every module (all light), where the matrix stores them, for a matrix that encodes a secret: copies
    /// of this value that share the storage are cleared too.
    public mutating func wipe() {
        modules.withUnsafeBufferPointer { buffer in
            // Not `withUnsafeMutableBufferPointer`: on storage a copy shares, it would clear a fresh copy instead.
            guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
            explicit_bzero(UnsafeMutableRawPointer(mutating: base), buffer.count * MemoryLayout<Bool>.stride)
        }
    }

    /// Whether the module at column `x`, row `y` is dark. (0, 0) is the top-left module.
    ///
    /// Coordinates outside `0..<size` answer `false`, so a renderer can treat the quiet zone as out of range.
    public func isDark(x: Int, y: Int) -> Bool {
        guard x >= 0, x < size, y >= 0, y < size else {
            return false
        }
        return modules[y * size + x]
    }
}
