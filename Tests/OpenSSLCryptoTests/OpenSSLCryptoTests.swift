import Testing

@testable import OpenSSLCrypto

func bytes(hex: String) -> [UInt8] {
    var result: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        result.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return result
}

@Suite struct HMACTests {
    // RFC 2202 test case 2 (SHA-1) and RFC 4231 test case 2 (SHA-256, SHA-512).
    @Test(arguments: [
        (DigestAlgorithm.sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (.sha256, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (
            .sha512,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        ),
    ])
    func authenticationCode_matchesRFCVectors(algorithm: DigestAlgorithm, expected: String) {
        let mac = HMAC.authenticationCode(
            for: Array("what do ya want for nothing?".utf8),
            key: Array("Jefe".utf8),
            using: algorithm
        )
        #expect(mac == bytes(hex: expected))
    }
}

@Suite struct ScryptTests {
    // RFC 7914 section 12, the first two vectors.
    @Test func deriveKey_emptyPasswordAndSalt_matchesRFC7914() throws {
        let key = try Scrypt.deriveKey(password: [], salt: [], logN: 4, r: 1, p: 1, length: 64)
        #expect(
            key
                == bytes(
                    hex:
                        "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
                )
        )
    }

    @Test func deriveKey_passwordNaCl_matchesRFC7914() throws {
        let key = try Scrypt.deriveKey(
            password: Array("password".utf8),
            salt: Array("NaCl".utf8),
            logN: 10,
            r: 8,
            p: 16,
            length: 64
        )
        #expect(
            key
                == bytes(
                    hex:
                        "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
                )
        )
    }

    @Test func deriveKey_aboveOpenSSLDefaultMemoryCap_works() throws {
        // N=2^15, r=8 needs 32 MiB and more: fails unless maxmem is passed.
        let key = try Scrypt.deriveKey(
            password: Array("pw".utf8),
            salt: Array("salt".utf8),
            logN: 15,
            r: 8,
            p: 1,
            length: 32
        )
        #expect(key.count == 32)
    }

    @Test func deriveKey_invalidParameters_throw() {
        #expect(throws: OpenSSLError.self) {
            try Scrypt.deriveKey(password: [1], salt: [1], logN: 0, r: 8, p: 1, length: 32)
        }
        #expect(throws: OpenSSLError.self) {
            try Scrypt.deriveKey(password: [1], salt: [1], logN: 10, r: 0, p: 1, length: 32)
        }
    }
}

@Suite struct PrimitiveTests {
    @Test func constantTimeEquals_comparesContentAndLength() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(!ConstantTime.equals([], [0]))
        #expect(ConstantTime.equals([], []))
    }

    @Test func secureRandom_givesRequestedLength_andDiffers() {
        let first = SecureRandom.bytes(count: 32)
        let second = SecureRandom.bytes(count: 32)
        #expect(first.count == 32)
        #expect(first != second)
    }
}
