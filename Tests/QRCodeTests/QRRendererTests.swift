import Foundation
import Testing

@testable import QRCode

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// Every image test hands our output to an independent decoder (zbarimg, rsvg-convert, Python's zlib) and expects
/// the original text back, so a test fails if a renderer draws something that does not scan.
@Suite struct QRRendererTests {
    static let otpauthURI = "otpauth://totp/twofactord:alice?secret=JBSWY3DPEHPK3PXP&issuer=twofactord"
    static let texts = [
        otpauthURI,
        "otpauth://totp/B%C3%A4ckerei:j%C3%BCrgen?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=B%C3%A4ckerei"
            + "&algorithm=SHA256&digits=8&period=60",
        "hello",
        // Raw UTF-8, not percent-encoded: zbarimg must read the bytes back as UTF-8.
        "Bäckerei Müller ✓ jürgen",
    ]

    // MARK: PBM and PNG through zbarimg

    @Test(arguments: texts)
    func pbm_decodesWithZbar(text: String) throws {
        let image = QRRenderer.pbm(try QRMatrix(encoding: text))
        #expect(try ExternalTools.zbarDecode(image, extension: "pbm") == text)
    }

    @Test func pbm_header_givesSizeWithQuietZone() throws {
        let matrix = try QRMatrix(encoding: "hello")
        let image = QRRenderer.pbm(matrix, moduleSize: 3, quietZone: 2)
        let width = (21 + 2 * 2) * 3
        let header = Array("P4\n\(width) \(width)\n".utf8)
        #expect(Array(image.prefix(header.count)) == header)
        #expect(image.count == header.count + (width + 7) / 8 * width)
    }

    @Test(arguments: texts)
    func png_decodesWithZbar(text: String) throws {
        let image = QRRenderer.png(try QRMatrix(encoding: text))
        #expect(try ExternalTools.zbarDecode(image, extension: "png") == text)
    }

    @Test func png_severalStoredBlocks_decodesWithZbar() throws {
        let matrix = try QRMatrix(encoding: Self.otpauthURI)
        // At 20 pixels per module the scanlines exceed one stored block's 65,535 bytes.
        let image = QRRenderer.png(matrix, moduleSize: 20)
        let scanlineBytes = ((matrix.size + 8) * 20 + 7) / 8 + 1
        #expect(scanlineBytes * (matrix.size + 8) * 20 > 65_535)
        #expect(try ExternalTools.zbarDecode(image, extension: "png") == Self.otpauthURI)
    }

    @Test(arguments: [1, 8, 20])
    func png_chunksAndZlibStream_passPythonChecks(moduleSize: Int) throws {
        try #require(ExternalTools.isInstalled("python3"), "python3 is missing")
        let matrix = try QRMatrix(encoding: Self.otpauthURI)
        let image = QRRenderer.png(matrix, moduleSize: moduleSize)
        // Python's zlib checks each chunk's CRC-32 and, while inflating, the stream's Adler-32.
        let script = """
            import struct, sys, zlib
            data = open(sys.argv[1], 'rb').read()
            assert data[:8] == b'\\x89PNG\\r\\n\\x1a\\n', 'signature'
            pos, types, idat = 8, [], b''
            while pos < len(data):
                length, kind = struct.unpack('>I4s', data[pos:pos + 8])
                body = data[pos + 8:pos + 8 + length]
                crc, = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
                assert zlib.crc32(kind + body) == crc, 'crc of ' + kind.decode()
                types.append(kind.decode())
                if kind == b'IHDR': header = struct.unpack('>IIBBBBB', body)
                if kind == b'IDAT': idat += body
                pos += 12 + length
            raw = zlib.decompress(idat)
            width, height = header[0], header[1]
            assert len(raw) == height * ((width * header[2] + 7) // 8 + 1), 'scanline bytes'
            print(','.join(types), *header)
            """
        let output = try ExternalTools.withTemporaryFile(image, extension: "png") { path in
            try ExternalTools.run("python3", ["-c", script, path])
        }
        #expect(output.status == 0)
        let width = (matrix.size + 8) * moduleSize
        #expect(String(decoding: output.output, as: UTF8.self) == "IHDR,IDAT,IEND \(width) \(width) 1 0 0 0 0\n")
    }

    @Test func checksums_matchPublishedCheckValues() {
        // The CRC-32 check value from the CRC catalogue; the Adler-32 example from Wikipedia's article.
        #expect(Checksum.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(Checksum.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
        #expect(Checksum.adler32([]) == 1)
        // Long enough to need the modulo reductions: 100,000 bytes of 0xFF, value computed with Python's zlib.
        #expect(Checksum.adler32([UInt8](repeating: 0xFF, count: 100_000)) == 0x149A_302C)
    }

    // MARK: Terminal

    /// The terminal text read back as modules: `true` where a module looks dark on the terminal it is drawn for.
    /// The half-row below the last line is returned too, so tests can see it stays background.
    static func parseTerminal(_ text: String, invert: Bool) throws -> [[Bool]] {
        #expect(text.hasSuffix("\n"))
        var rows: [[Bool]] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            var upper: [Bool] = []
            var lower: [Bool] = []
            for character in line {
                let inked: (Bool, Bool)
                switch character {
                case "\u{2588}": inked = (true, true)
                case "\u{2580}": inked = (true, false)
                case "\u{2584}": inked = (false, true)
                case " ": inked = (false, false)
                default: throw ParseError(character: character)
                }
                // Foreground ink is light on a dark terminal (invert: false) and dark on a light one.
                upper.append(inked.0 == invert)
                lower.append(inked.1 == invert)
            }
            rows += [upper, lower]
        }
        return rows
    }

    struct ParseError: Error {
        var character: Character
    }

    @Test(arguments: [false, true], [4, 0, 1])
    func terminal_parsedBack_isMatrixWithQuietZone(invert: Bool, quietZone: Int) throws {
        let matrix = try QRMatrix(encoding: Self.otpauthURI)
        let text = QRRenderer.terminal(matrix, quietZone: quietZone, invert: invert)
        let grid = try Self.parseTerminal(text, invert: invert)
        let side = matrix.size + 2 * quietZone

        #expect(grid.count == side + 1)
        for y in 0..<side {
            #expect(grid[y].count == side)
            let expected = (0..<side).map { x in
                x >= quietZone && x < quietZone + matrix.size && y >= quietZone && y < quietZone + matrix.size
                    && matrix.isDark(x: x - quietZone, y: y - quietZone)
            }
            #expect(grid[y] == expected, "row \(y)")
        }
        // The half-row past the symbol is left to the background: dark on a dark terminal, light on a light one.
        #expect(grid[side] == Array(repeating: !invert, count: side))
    }

    @Test(arguments: [false, true])
    func terminal_parsedBack_decodesWithZbar(invert: Bool) throws {
        let matrix = try QRMatrix(encoding: Self.otpauthURI)
        let grid = try Self.parseTerminal(QRRenderer.terminal(matrix, invert: invert), invert: invert)
        // Drop the background half-row: on a dark terminal it is dark, which a PBM on white paper is not.
        let image = ExternalTools.plainPBM(Array(grid.dropLast()), scale: 4)
        #expect(try ExternalTools.zbarDecode(image, extension: "pbm") == Self.otpauthURI)
    }

    @Test func terminal_darkTerminalDefault_drawsQuietZoneWithFullBlocks() throws {
        let matrix = try QRMatrix(encoding: "hello")
        let lines = QRRenderer.terminal(matrix).split(separator: "\n")
        #expect(lines.count == (21 + 8 + 1) / 2)
        #expect(lines[0] == Substring(String(repeating: "\u{2588}", count: 29)))
        #expect(lines[1] == Substring(String(repeating: "\u{2588}", count: 29)))
        #expect(lines.last == Substring(String(repeating: "\u{2580}", count: 29)))
    }

    // MARK: SVG

    final class SVGCollector: NSObject, XMLParserDelegate {
        var elements: [(name: String, attributes: [String: String])] = []

        func parser(
            _ parser: XMLParser,
            didStartElement elementName: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes: [String: String]
        ) {
            elements.append((elementName, attributes))
        }
    }

    @Test func svg_isWellFormedWithViewBoxInModules() throws {
        let matrix = try QRMatrix(encoding: Self.otpauthURI)
        let svg = QRRenderer.svg(matrix, moduleSize: 5, quietZone: 4)
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = SVGCollector()
        parser.delegate = collector
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")

        let side = matrix.size + 8
        #expect(collector.elements.map(\.name) == ["svg", "rect", "path"])
        let root = try #require(collector.elements.first).attributes
        #expect(root["viewBox"] == "0 0 \(side) \(side)")
        #expect(root["width"] == "\(side * 5)")
        #expect(root["shape-rendering"] == "crispEdges")
        #expect(collector.elements[2].attributes["d"]?.hasPrefix("M4 4h7v1h-7z") == true)
    }

    @Test(.enabled(if: ExternalTools.isInstalled("rsvg-convert"), "needs rsvg-convert (apt-get install librsvg2-bin)"))
    func svg_renderedByRsvgConvert_decodesWithZbar() throws {
        let svg = QRRenderer.svg(try QRMatrix(encoding: Self.otpauthURI))
        let png = try ExternalTools.withTemporaryFile(Array(svg.utf8), extension: "svg") { path in
            try ExternalTools.run("rsvg-convert", ["--format=png", "--background-color=white", path])
        }
        #expect(png.status == 0)
        #expect(try ExternalTools.zbarDecode(png.output, extension: "png") == Self.otpauthURI)
    }
}
