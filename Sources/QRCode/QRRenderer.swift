/// Draws a `QRMatrix` for people and programs: terminal text, SVG, PBM and PNG.
///
/// Every renderer surrounds the symbol with a light quiet zone, `quietZone` modules wide. ISO/IEC 18004 asks for
/// 4 modules, the default; scanners often fail without it, most visibly on a dark terminal.
public enum QRRenderer {
    /// The symbol as Unicode half blocks: two module rows per text line, lines joined by "\n" with a trailing "\n".
    ///
    /// Each character draws an upper and a lower module with the terminal's foreground colour: "█" (U+2588) both,
    /// "▀" (U+2580) the upper, "▄" (U+2584) the lower, and a space neither, so the background shows through.
    /// Which modules get the foreground decides whether the code scans:
    ///
    /// - `invert: false` (the default) is for light text on a dark background, the usual terminal: the
    ///   characters draw the *light* modules and the quiet zone, and the dark background shows through as the
    ///   dark modules.
    /// - `invert: true` is for dark text on a light background: the characters draw the *dark* modules and the
    ///   light background is the light modules and the quiet zone.
    ///
    /// The symbol plus quiet zone always has an odd number of rows, so the last line's lower half is beyond it
    /// and left as background.
    ///
    /// - Precondition: `quietZone >= 0`.
    public static func terminal(_ matrix: QRMatrix, quietZone: Int = 4, invert: Bool = false) -> String {
        var text: [UInt8] = []
        terminal(matrix, quietZone: quietZone, invert: invert, appendingTo: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// `terminal(_:quietZone:invert:)` as UTF-8 bytes appended to `text`, for a symbol that encodes a secret: the
    /// caller can wipe them, and reserving `terminalLength(_:quietZone:)` more bytes first keeps `text` from
    /// growing (which would leave a copy behind).
    ///
    /// - Precondition: `quietZone >= 0`.
    public static func terminal(
        _ matrix: QRMatrix,
        quietZone: Int = 4,
        invert: Bool = false,
        appendingTo text: inout [UInt8]
    ) {
        precondition(quietZone >= 0, "quietZone must not be negative")
        let side = matrix.size + 2 * quietZone

        func isInked(_ x: Int, _ y: Int) -> Bool {
            guard y < side else {
                return false
            }
            let isDark = matrix.isDark(x: x - quietZone, y: y - quietZone)
            return isDark == invert
        }

        text.reserveCapacity(text.count + terminalLength(matrix, quietZone: quietZone))
        for y in stride(from: 0, to: side, by: 2) {
            for x in 0..<side {
                // "█" (U+2588), "▀" (U+2580) and "▄" (U+2584) are E2 96 88, E2 96 80 and E2 96 84 in UTF-8.
                let last: UInt8
                switch (isInked(x, y), isInked(x, y + 1)) {
                case (true, true): last = 0x88
                case (true, false): last = 0x80
                case (false, true): last = 0x84
                case (false, false):
                    text.append(UInt8(ascii: " "))
                    continue
                }
                text.append(0xE2)
                text.append(0x96)
                text.append(last)
            }
            text.append(UInt8(ascii: "\n"))
        }
    }

    /// The most bytes `terminal` draws `matrix` with: three UTF-8 bytes per block character, plus the newline.
    public static func terminalLength(_ matrix: QRMatrix, quietZone: Int = 4) -> Int {
        let side = matrix.size + 2 * max(0, quietZone)
        return (side * 3 + 1) * (side + 1) / 2
    }

    /// A standalone SVG document: a white background `<rect>` and one black `<path>` of the dark modules.
    ///
    /// The `viewBox` counts modules (symbol plus quiet zone, so the symbol starts at `quietZone`); `width` and
    /// `height` are that times `moduleSize` pixels. `shape-rendering="crispEdges"` keeps module edges sharp, so
    /// no anti-aliased seams appear between neighbouring modules.
    ///
    /// - Precondition: `moduleSize >= 1` and `quietZone >= 0`.
    public static func svg(_ matrix: QRMatrix, moduleSize: Int = 8, quietZone: Int = 4) -> String {
        precondition(moduleSize >= 1, "moduleSize must be at least 1")
        precondition(quietZone >= 0, "quietZone must not be negative")
        let side = matrix.size + 2 * quietZone
        let pixels = side * moduleSize

        // One subpath per horizontal run of dark modules keeps the path short without any curve maths.
        var path = ""
        for y in 0..<matrix.size {
            var x = 0
            while x < matrix.size {
                guard matrix.isDark(x: x, y: y) else {
                    x += 1
                    continue
                }
                let start = x
                while x < matrix.size, matrix.isDark(x: x, y: y) {
                    x += 1
                }
                let run = x - start
                path += "M\(start + quietZone) \(y + quietZone)h\(run)v1h-\(run)z"
            }
        }

        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(pixels)" height="\(pixels)" \
            viewBox="0 0 \(side) \(side)" shape-rendering="crispEdges">
            <rect x="0" y="0" width="\(side)" height="\(side)" fill="#ffffff"/>
            <path fill="#000000" d="\(path)"/>
            </svg>

            """
    }

    /// The symbol as a binary PBM image (Netpbm "P4"): black dark modules on a white quiet zone, each module
    /// `moduleSize` × `moduleSize` pixels.
    ///
    /// PBM is the simplest format image tools read (zbarimg, ImageMagick, `pnmtopng`).
    ///
    /// - Precondition: `moduleSize >= 1` and `quietZone >= 0`.
    public static func pbm(_ matrix: QRMatrix, moduleSize: Int = 4, quietZone: Int = 4) -> [UInt8] {
        // In PBM a set bit is black.
        let image = BitImage(matrix, moduleSize: moduleSize, quietZone: quietZone, darkBit: true)
        var bytes = Array("P4\n\(image.width) \(image.width)\n".utf8)
        bytes.reserveCapacity(bytes.count + image.bytesPerRow * image.width)
        for y in 0..<image.width {
            bytes += image.row(y)
        }
        return bytes
    }
}

/// The symbol scaled to pixels, one bit per pixel, packed most significant bit first, rows padded to whole bytes:
/// the layout both PBM "P4" and 1-bit PNG use.
struct BitImage {
    /// Pixels per side, quiet zone included.
    let width: Int
    let bytesPerRow: Int
    let moduleSize: Int
    /// One packed row per module row; each is repeated `moduleSize` times.
    private let moduleRows: [[UInt8]]

    init(_ matrix: QRMatrix, moduleSize: Int, quietZone: Int, darkBit: Bool) {
        precondition(moduleSize >= 1, "moduleSize must be at least 1")
        precondition(quietZone >= 0, "quietZone must not be negative")
        let side = matrix.size + 2 * quietZone
        self.width = side * moduleSize
        self.bytesPerRow = (width + 7) / 8
        self.moduleSize = moduleSize

        var rows: [[UInt8]] = []
        rows.reserveCapacity(side)
        for moduleY in 0..<side {
            var row = [UInt8](repeating: 0, count: bytesPerRow)
            for x in 0..<width {
                let isDark = matrix.isDark(x: x / moduleSize - quietZone, y: moduleY - quietZone)
                if isDark == darkBit {
                    row[x / 8] |= 0x80 >> UInt8(x % 8)
                }
            }
            rows.append(row)
        }
        self.moduleRows = rows
    }

    /// The packed bits of pixel row `y`.
    func row(_ y: Int) -> [UInt8] {
        moduleRows[y / moduleSize]
    }
}
