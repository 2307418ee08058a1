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

@Suite struct UnknownUserCostTests {
    let old = ScryptCost(logN: 10, r: 8, p: 1)
    let new = ScryptCost(logN: 12, r: 8, p: 1)

    @Test func unknownUser_costsWhatTheStoredHashesCost_afterTheConfiguredCostChanged() throws {
        let stored = try (0..<3).map { _ in try PasswordHasher(cost: old).hash(Array("pw".utf8)) }
        // The daemon restarts with a higher cost; every stored hash still has the old one.
        let hasher = PasswordHasher(cost: new)
        #expect(hasher.unknownUserCost == new, "before it has seen a stored hash, the configured cost")
        hasher.seedStoredCosts { stored.enumerated().map { ("account-\($0.offset)", $0.element) } }
        #expect(hasher.unknownUserCost == old)
        hasher.seedStoredCosts {
            Issue.record("seeded twice"); return []
        }
    }

    @Test func unknownUser_followsTheMostCommonCostOfTheAccountsMet() throws {
        let hasher = PasswordHasher(cost: new)
        let oldHash = try PasswordHasher(cost: old).hash(Array("pw".utf8))
        let newHash = try hasher.hash(Array("pw".utf8))
        for account in ["a", "b", "c"] { hasher.noteStoredHash(oldHash, of: account) }
        hasher.noteStoredHash(newHash, of: "d")
        #expect(hasher.unknownUserCost == old, "3 of 4 accounts have the old cost")
        for account in ["e", "f", "g"] { hasher.noteStoredHash(newHash, of: account) }
        #expect(hasher.unknownUserCost == new, "4 of 7")
        // An account whose hash was upgraded at its login counts with its new cost, in its one place.
        for account in ["a", "b"] { hasher.noteStoredHash(newHash, of: account) }
        #expect(hasher.unknownUserCost == new)
    }

    /// One account's logins and password changes weigh one place: before, every verify took a place of its
    /// own, so an attacker logging in 80 times with an upgraded hash set the unknown-user cost, and every
    /// account still at the old cost stood out from unknown names by its time (7 ms against 70 ms).
    @Test func unknownUser_cannotBeSteeredByOneAccountsLogins() throws {
        let hasher = PasswordHasher(cost: new)
        let oldHash = try PasswordHasher(cost: old).hash(Array("pw".utf8))
        hasher.seedStoredCosts { ["u1", "u2", "u3"].map { ($0, oldHash) } }
        for _ in 0..<80 {
            hasher.noteStoredHash(try hasher.hash(Array("pw".utf8)), of: "mallory")
        }
        #expect(hasher.unknownUserCost == old)
    }

    @Test func unknownUser_takesAboutAsLongAsAVerifyAtTheStoredCost() throws {
        let hasher = PasswordHasher(cost: ScryptCost(logN: 14, r: 8, p: 1))
        let storedHash = try PasswordHasher(cost: old).hash(Array("pw".utf8))
        hasher.seedStoredCosts { [("ann", storedHash)] }
        // Interleaved, so that load on a shared machine slows both alike.
        let clock = ContinuousClock()
        var unknown = Duration.zero
        var known = Duration.zero
        for _ in 0..<8 {
            unknown += clock.measure { _ = hasher.verifyUnknownUser(Array("pw".utf8)) }
            known += clock.measure { _ = try? hasher.verify(Array("px".utf8), against: storedHash) }
        }
        // At the configured 2^14 the dummy would take 16 times as long as a verify at the stored 2^10.
        #expect(unknown < known * 4, "unknown \(unknown), known \(known)")
    }
}
