import Testing

@testable import QRCode

/// Symbol sizes come from ISO/IEC 18004: version v has 17 + 4v modules per side; at error-correction level M,
/// version 1 holds 14 bytes and version 2 holds 26 bytes in byte mode (Table 7).
@Suite struct QRMatrixTests {
    static let otpauthURI = "otpauth://totp/twofactord:alice?secret=JBSWY3DPEHPK3PXP&issuer=twofactord"

    @Test func encoding_fiveLowercaseBytes_isVersion1() throws {
        let matrix = try QRMatrix(encoding: "hello")
        #expect(matrix.size == 21)
    }

    @Test func encoding_twentyLowercaseBytes_isVersion2() throws {
        // Lowercase letters cannot use alphanumeric mode, so this is 20 bytes: too many for 1-M, enough for 2-M.
        let matrix = try QRMatrix(encoding: "abcdefghijklmnopqrst")
        #expect(matrix.size == 25)
    }

    @Test func encoding_fifteenLowercaseBytes_isVersion2() throws {
        // One byte past version 1-M's capacity of 14.
        let matrix = try QRMatrix(encoding: "abcdefghijklmno")
        #expect(matrix.size == 25)
    }

    @Test func encoding_otpauthURI_hasFinderAndTimingPatterns() throws {
        let matrix = try QRMatrix(encoding: Self.otpauthURI)
        #expect((matrix.size - 17) % 4 == 0)
        let last = matrix.size - 7
        // A finder pattern: dark 7x7 border, light 5x5 ring, dark 3x3 centre; then a light separator.
        for (originX, originY) in [(0, 0), (last, 0), (0, last)] {
            for dy in -1...7 {
                for dx in -1...7 {
                    let ring = max(abs(dx - 3), abs(dy - 3))
                    let expected = ring != 2 && ring != 4
                    #expect(
                        matrix.isDark(x: originX + dx, y: originY + dy) == expected,
                        "finder at (\(originX), \(originY)) offset (\(dx), \(dy))"
                    )
                }
            }
        }
        // Timing patterns run along row 6 and column 6 between the finders, dark on even coordinates.
        for i in 8..<(matrix.size - 8) {
            #expect(matrix.isDark(x: i, y: 6) == (i % 2 == 0))
            #expect(matrix.isDark(x: 6, y: i) == (i % 2 == 0))
        }
        // The "dark module" that every symbol has beside the lower-left finder.
        #expect(matrix.isDark(x: 8, y: matrix.size - 8))
    }

    @Test func isDark_outsideMatrix_isLight() throws {
        let matrix = try QRMatrix(encoding: "hello")
        // (0, 0) is a finder corner and always dark: the neighbours just outside must still read as light.
        #expect(matrix.isDark(x: 0, y: 0))
        #expect(!matrix.isDark(x: -1, y: 0))
        #expect(!matrix.isDark(x: 0, y: -1))
        #expect(!matrix.isDark(x: matrix.size, y: 0))
        #expect(!matrix.isDark(x: 0, y: matrix.size))
        #expect(!matrix.isDark(x: Int.min, y: Int.max))
    }

    @Test func encoding_sameText_givesEqualMatrices() throws {
        #expect(try QRMatrix(encoding: Self.otpauthURI) == QRMatrix(encoding: Self.otpauthURI))
        #expect(try QRMatrix(encoding: "hello") != QRMatrix(encoding: "hellO"))
    }

    @Test func encoding_8000Bytes_throwsTextTooLong() {
        let text = String(repeating: "secretpart", count: 800)
        #expect(throws: QRCodeError.textTooLong) {
            _ = try QRMatrix(encoding: text)
        }
    }

    @Test func encoding_textWithNUL_throwsInvalidText() {
        #expect(throws: QRCodeError.invalidText) {
            _ = try QRMatrix(encoding: "otpauth://totp/a\u{0}b")
        }
    }

    @Test func encoding_emptyText_throwsInvalidText() {
        #expect(throws: QRCodeError.invalidText) {
            _ = try QRMatrix(encoding: "")
        }
    }

    @Test func error_descriptions_sayWhatToDoAndHideTheText() throws {
        let text = String(repeating: "secretpart", count: 800)
        let error = #expect(throws: QRCodeError.self) {
            _ = try QRMatrix(encoding: text)
        }
        let description = try #require(error).description
        #expect(description.contains("too long"))
        #expect(!description.contains("secretpart"))
        for error in [QRCodeError.textTooLong, .invalidText, .outOfMemory, QRCodeError(code: 12345)] {
            #expect(error.description.contains(":"), "\(error) should say what to do after a colon")
        }
    }
}
