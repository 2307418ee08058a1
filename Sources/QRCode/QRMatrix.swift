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
    private let modules: [Bool]

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
        errno = 0
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else {
            // qrencode.h: "On error, NULL is returned, and errno is set to indicate the error."
            throw QRCodeError(code: errno == 0 ? EINVAL : errno)
        }
        defer { QRcode_free(code) }

        let width = Int(code.pointee.width)
        // qrencode.h documents `data` as width × width bytes, one per module; bit 0 is "1=black/0=white".
        let data = UnsafeBufferPointer(start: code.pointee.data, count: width * width)
        self.size = width
        self.modules = data.map { $0 & 1 == 1 }
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
