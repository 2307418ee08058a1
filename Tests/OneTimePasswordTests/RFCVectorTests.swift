import Testing

@testable import OneTimePassword

@Suite struct RFCVectorTests {
    // RFC 4226 Appendix D: secret "12345678901234567890", counters 0...9.
    @Test func hotp_matchesRFC4226AppendixD() throws {
        let hotp = try HOTP(secret: Array("12345678901234567890".utf8))
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489",
        ]
        #expect((0..<10).map { hotp.code(counter: UInt64($0)) } == expected)
    }

    // RFC 6238 Appendix B: 8 digits, 30 s, one seed per hash (20, 32 and 64 bytes).
    static let seeds: [OTPAlgorithm: String] = [
        .sha1: "12345678901234567890",
        .sha256: "12345678901234567890123456789012",
        .sha512: "1234567890123456789012345678901234567890123456789012345678901234",
    ]

    @Test(arguments: [
        (Int64(59), OTPAlgorithm.sha1, "94287082"), (59, .sha256, "46119246"), (59, .sha512, "90693936"),
        (1_111_111_109, .sha1, "07081804"), (1_111_111_109, .sha256, "68084774"), (1_111_111_109, .sha512, "25091201"),
        (1_111_111_111, .sha1, "14050471"), (1_111_111_111, .sha256, "67062674"), (1_111_111_111, .sha512, "99943326"),
        (1_234_567_890, .sha1, "89005924"), (1_234_567_890, .sha256, "91819424"), (1_234_567_890, .sha512, "93441116"),
        (2_000_000_000, .sha1, "69279037"), (2_000_000_000, .sha256, "90698825"), (2_000_000_000, .sha512, "38618901"),
        (20_000_000_000, .sha1, "65353130"), (20_000_000_000, .sha256, "77737706"),
        (20_000_000_000, .sha512, "47863826"),
    ])
    func totp_matchesRFC6238AppendixB(time: Int64, algorithm: OTPAlgorithm, expected: String) throws {
        let totp = try TOTP(
            secret: Array(Self.seeds[algorithm]!.utf8),
            parameters: TOTPParameters(algorithm: algorithm, digits: 8, period: 30)
        )
        #expect(totp.code(at: time) == expected)
    }

    // RFC 4648 section 10.
    @Test(arguments: [
        ("", ""), ("f", "MY"), ("fo", "MZXQ"), ("foo", "MZXW6"), ("foob", "MZXW6YQ"), ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI"),
    ])
    func base32_matchesRFC4648(plain: String, encoded: String) throws {
        #expect(Base32.encode(Array(plain.utf8)) == encoded)
        #expect(try Base32.decode(encoded) == Array(plain.utf8))
    }

    @Test func base32_decode_acceptsPaddingLowercaseAndSpaces() throws {
        #expect(try Base32.decode("MZXW6YTBOI======") == Array("foobar".utf8))
        #expect(try Base32.decode("mzxw 6ytb oi") == Array("foobar".utf8))
    }

    @Test(arguments: ["MZ1W", "MZXW6YTB!", "M", "MZX", "MZXW6Y", "MY==MY"])
    func base32_decode_rejectsInvalidInput(text: String) {
        #expect(throws: OTPError.self) { try Base32.decode(text) }
    }
}
