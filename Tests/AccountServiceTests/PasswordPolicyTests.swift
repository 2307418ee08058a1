import AccountService
import Testing

// New passwords follow NIST SP 800-63B (issue 7, point 9): 8 characters to 256 bytes, not a common
// password, and the refusal says which rule failed.

private func refusal(_ password: [UInt8], name: String = "pia", setPassword: Bool = false) throws -> ServiceError? {
    let fixture = try Fixture()
    do {
        if setPassword {
            try fixture.add(name)
            try fixture.service.setPassword(caller: root, name: name, password: password)
        } else {
            _ = try fixture.service.addAccount(
                caller: root,
                name: name,
                organization: nil,
                role: .agent,
                requireTwoFactor: false,
                password: password
            )
        }
        return nil
    } catch let error as ServiceError {
        return error
    }
}

@Suite struct PasswordPolicyTests {
    @Test(arguments: ["", "a", "seven77", "sïx6çh"])
    func tooShort_isRefusedSayingTheMinimum(password: String) throws {
        let error = try #require(try refusal(Array(password.utf8)))
        #expect(error.kind == .invalidArgument)
        #expect(error.message.contains(password.isEmpty ? "must not be empty" : "at least 8 characters"))
    }

    @Test func eightCharacters_countedAsUnicodeScalars_areAccepted() throws {
        // Eight scalars but sixteen bytes: characters, not bytes, are counted.
        #expect(try refusal(Array("éàüöçñßø".utf8)) == nil)
        #expect(try refusal(Array("tram-bus".utf8)) == nil)
    }

    @Test func longestAllowed_isAccepted_andOneMoreByteIsRefused() throws {
        #expect(try refusal(Array(repeating: UInt8(ascii: "k"), count: 255) + [UInt8(ascii: "j")]) == nil)
        let error = try #require(try refusal(Array(repeating: UInt8(ascii: "k"), count: 256) + [UInt8(ascii: "j")]))
        #expect(error.message.contains("at most 256 bytes"))
    }

    @Test(arguments: ["password", "Password1", "12345678", "iloveyou", "TRUSTNO1", "qwertyuiop", "twofactord"])
    func commonPassword_isRefusedSayingWhy(password: String) throws {
        let error = try #require(try refusal(Array(password.utf8)))
        #expect(error.message.contains("commonly used"))
        // The refusal never repeats the password ("password" itself is a word of the sentence).
        #expect(!error.message.contains(password) || password == "password")
    }

    @Test func commonPassword_isRefusedBySetPasswordToo() throws {
        let error = try #require(try refusal(Array("sunshine".utf8), setPassword: true))
        #expect(error.message.contains("commonly used"))
    }

    @Test func accountNameAsPassword_isRefused() throws {
        let error = try #require(try refusal(Array("Stephanus".utf8), name: "stephanus"))
        #expect(error.message.contains("easily guessed"))
    }

    @Test func oneRepeatedCharacter_isRefused() throws {
        let error = try #require(try refusal(Array("zzzzzzzzzz".utf8)))
        #expect(error.message.contains("repeats one character"))
    }

    @Test func passwordWithNUL_isRefused() throws {
        let error = try #require(try refusal(Array("long\0enough".utf8)))
        #expect(error.message.contains("NUL"))
    }

    @Test func ordinaryPassphrase_isAccepted() throws {
        #expect(try refusal(Array("correct horse battery staple".utf8)) == nil)
    }
}
