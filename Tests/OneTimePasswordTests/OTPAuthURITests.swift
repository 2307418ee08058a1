import Testing

@testable import OneTimePassword

@Suite struct OTPAuthURITests {
    // The example of the Google Authenticator Key URI format page.
    let example = "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example"

    @Test func parse_keyURIFormatExample() throws {
        let uri = try OTPAuthURI(parsing: example)
        #expect(uri.issuer == "Example")
        #expect(uri.account == "alice@google.com")
        #expect(uri.secret == Array("Hello!\u{DE}\u{AD}\u{BE}\u{EF}".unicodeScalars.map { UInt8($0.value) }))
        #expect(uri.parameters == .standard)
    }

    @Test func build_defaults_areLeftOut() throws {
        let uri = OTPAuthURI(
            issuer: "Example",
            account: "alice@google.com",
            secret: try Base32.decode("JBSWY3DPEHPK3PXP")
        )
        #expect(uri.uriString == example)
    }

    @Test func build_nonDefaults_areWrittenUppercaseAndRoundTrip() throws {
        let parameters = TOTPParameters(algorithm: .sha512, digits: 8, period: 60)
        let uri = OTPAuthURI(issuer: "ACME Co", account: "bob smith", secret: [1, 2, 3, 4, 5], parameters: parameters)
        #expect(
            uri.uriString
                == "otpauth://totp/ACME%20Co:bob%20smith?secret=AEBAGBAF&issuer=ACME%20Co&algorithm=SHA512&digits=8&period=60"
        )
        #expect(try OTPAuthURI(parsing: uri.uriString) == uri)
    }

    @Test func parse_issuerOnlyInParameter_orOnlyInLabel() throws {
        #expect(try OTPAuthURI(parsing: "otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=X").issuer == "X")
        #expect(try OTPAuthURI(parsing: "otpauth://totp/X%3Aalice?secret=JBSWY3DPEHPK3PXP").issuer == "X")
        #expect(try OTPAuthURI(parsing: "otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP").issuer == nil)
    }

    @Test(arguments: [
        "http://totp/a?secret=JBSWY3DPEHPK3PXP",
        "otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=1",
        "otpauth://totp/a",
        "otpauth://totp/a?secret=JBSW!",
        "otpauth://totp/X:a?secret=JBSWY3DPEHPK3PXP&issuer=Y",
        "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&digits=9",
        "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
        "otpauth://totp/a?secret=JBSWY3DPEHPK3PXP&period=0",
        "otpauth://totp/%ZZ?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/?secret=JBSWY3DPEHPK3PXP",
    ])
    func parse_rejectsInvalidURIs(text: String) {
        #expect(throws: OTPError.self) { try OTPAuthURI(parsing: text) }
    }
}
