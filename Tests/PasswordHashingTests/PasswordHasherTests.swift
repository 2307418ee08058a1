import Foundation
import Testing

@testable import PasswordHashing

@Suite struct PasswordHasherTests {
    let hasher = PasswordHasher(cost: ScryptCost(logN: 10, r: 8, p: 1))

    @Test func hash_isPHCStringThatVerifies() throws {
        let phc = try hasher.hash(Array("correct horse".utf8))
        #expect(phc.hasPrefix("$scrypt$ln=10,r=8,p=1$"))
        #expect(try hasher.verify(Array("correct horse".utf8), against: phc))
        #expect(try !hasher.verify(Array("correct horsf".utf8), against: phc))
        #expect(try hasher.hash(Array("correct horse".utf8)) != phc, "every hash has its own salt")
    }

    @Test func verify_matchesPythonHashlibScrypt() throws {
        // An independent implementation computes the hash for our salt and parameters.
        let phc = try hasher.hash(Array("pässwörd".utf8))
        let stored = try PHCString(parsing: phc)
        let script = """
            import hashlib, sys
            salt = bytes.fromhex(sys.argv[1])
            print(hashlib.scrypt('pässwörd'.encode(), salt=salt, n=1024, r=8, p=1, dklen=32).hex())
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, stored.salt.map { String(format: "%02x", $0) }.joined()]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let expected = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(stored.hash.map { String(format: "%02x", $0) }.joined() == expected)
    }

    @Test func verify_usesStoredParameters_notConfiguredOnes() throws {
        let old = try PasswordHasher(cost: ScryptCost(logN: 11, r: 8, p: 1)).hash(Array("pw".utf8))
        #expect(try hasher.verify(Array("pw".utf8), against: old))
        #expect(hasher.needsRehash(old))
        #expect(!hasher.needsRehash(try hasher.hash(Array("pw".utf8))))
    }

    @Test(arguments: [
        "", "scrypt", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=10,r=8$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=30,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=10,r=8,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaA",
        "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$",
        "$scrypt$ln=10,r=8,p=1,x=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
    ])
    func verify_rejectsMalformedStrings_withoutEchoingThem(phc: String) {
        do {
            _ = try hasher.verify(Array("pw".utf8), against: phc)
            Issue.record("accepted \(phc)")
        } catch {
            #expect(!error.description.contains("aGFzaGhh"))
            #expect(error.description.contains("set a new password"))
        }
    }

    @Test func verifyUnknownUser_isAlwaysFalse() {
        #expect(!hasher.verifyUnknownUser(Array("anything".utf8)))
    }

    @Test func base64_roundTripsAllLengths() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            let encoded = Base64.encode(bytes)
            #expect(!encoded.contains("="))
            #expect(Base64.decode(encoded[...]) == bytes)
            #expect(Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "") == encoded)
        }
    }
}
