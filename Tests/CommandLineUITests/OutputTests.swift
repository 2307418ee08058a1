import CommandLineUI
import Foundation
import Testing

@Suite struct JSONTextTests {
    @Test func text_isParsedBackByAnIndependentParser() throws {
        let awkward = "quote \" backslash \\ newline \n tab \t bell \u{7} nul-free ünïcödé ✓"
        let value = JSONValue.object([
            ("name", .string(awkward)),
            ("count", .number(-42)),
            ("ok", .bool(true)),
            ("missing", .null),
            ("list", .array([.number(1), .string("two")])),
        ])
        let parsed = try #require(
            try JSONSerialization.jsonObject(with: Data(value.text.utf8)) as? [String: Any]
        )
        #expect(parsed["name"] as? String == awkward)
        #expect(parsed["count"] as? Int == -42)
        #expect(parsed["ok"] as? Bool == true)
        #expect(parsed["missing"] is NSNull)
        #expect((parsed["list"] as? [Any])?.count == 2)
    }

    @Test func object_keepsKeyOrder() {
        let value = JSONValue.object([("b", .number(1)), ("a", .number(2))])
        #expect(value.text == #"{"b":1,"a":2}"#)
    }
}

@Suite struct EnrollmentScreenTests {
    let uri = "otpauth://totp/twofactord:alice?secret=JBSWY3DPEHPK3PXP&issuer=twofactord"

    @Test func render_showsQRCodeSecretInGroupsAndURI() {
        let screen = EnrollmentScreen.render(otpauthURI: uri)
        #expect(screen.contains("\u{2588}"))
        #expect(screen.contains("JBSW Y3DP EHPK 3PXP"))
        #expect(screen.contains("URI: " + uri))
    }

    @Test func secret_isTheSecretParameter() {
        #expect(EnrollmentScreen.secret(in: uri) == "JBSWY3DPEHPK3PXP")
        #expect(EnrollmentScreen.secret(in: "otpauth://totp/a?issuer=x") == nil)
    }
}
