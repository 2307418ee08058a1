import Testing

@testable import OpenSSLCrypto

@Suite struct AES256GCMTests {
    // The GCM specification's test case 16 (AES-256, 96-bit IV, with associated data), also checked
    // against Python's `cryptography` AESGCM.
    let key = bytes(hex: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    let plaintext = bytes(
        hex: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    )
    let associatedData = bytes(hex: "feedfacedeadbeeffeedfacedeadbeefabaddad2")
    let nonce = bytes(hex: "cafebabefacedbaddecaf888")
    let expected = bytes(
        hex: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
            + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" + "76fc6ece0f4e1768cddf8853bb2d551b"
    )

    @Test func seal_matchesTheGCMSpecificationTestCase16() throws {
        let box = try AES256GCM.seal(plaintext, key: key, nonce: nonce, associatedData: associatedData)
        #expect(box == nonce + expected)
        #expect(try AES256GCM.open(box, key: key, associatedData: associatedData) == plaintext)
    }

    @Test func seal_drawsAFreshNonceEachTime() throws {
        let first = try AES256GCM.seal(plaintext, key: key, associatedData: associatedData)
        let second = try AES256GCM.seal(plaintext, key: key, associatedData: associatedData)
        #expect(first.count == plaintext.count + AES256GCM.overhead)
        #expect(first.prefix(AES256GCM.nonceSize) != second.prefix(AES256GCM.nonceSize))
    }

    @Test func open_withWrongKeyAssociatedDataOrAnyFlippedBit_fails() throws {
        let box = try AES256GCM.seal(plaintext, key: key, associatedData: associatedData)
        var otherKey = key
        otherKey[0] ^= 1
        #expect(throws: OpenSSLError.self) { try AES256GCM.open(box, key: otherKey, associatedData: associatedData) }
        #expect(throws: OpenSSLError.self) { try AES256GCM.open(box, key: key, associatedData: associatedData + [0]) }
        for index in [0, AES256GCM.nonceSize, box.count - 1] {
            var damaged = box
            damaged[index] ^= 0x80
            #expect(throws: OpenSSLError.self) { try AES256GCM.open(damaged, key: key, associatedData: associatedData) }
        }
        #expect(throws: OpenSSLError.self) { try AES256GCM.open(Array(box.prefix(27)), key: key, associatedData: []) }
    }

    @Test func emptyPlaintext_roundTrips() throws {
        let box = try AES256GCM.seal([], key: key, associatedData: [])
        #expect(try AES256GCM.open(box, key: key, associatedData: []) == [])
    }
}
