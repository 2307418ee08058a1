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
    let uri = Array("otpauth://totp/twofactord:alice?secret=JBSWY3DPEHPK3PXP&issuer=twofactord".utf8)

    @Test func render_showsQRCodeSecretInGroupsAndURI() {
        let screen = String(decoding: EnrollmentScreen.render(otpauthURI: uri), as: UTF8.self)
        #expect(screen.contains("\u{2588}"))
        #expect(screen.contains("JBSW Y3DP EHPK 3PXP"))
        #expect(screen.contains("URI: " + String(decoding: uri, as: UTF8.self)))
    }

    /// The screen every client shows, byte for byte: the heading, the QR code in lines of half blocks and spaces
    /// (`QRRendererTests` checks the drawing), an empty line, the grouped secret and the URI.
    @Test func render_laysOutTheScreenLineByLine() {
        let screen = String(decoding: EnrollmentScreen.render(otpauthURI: uri), as: UTF8.self)
        let heading = "Scan this QR code with your authenticator app:\n\n"
        let ending =
            "\nOr enter this secret by hand (time-based): JBSW Y3DP EHPK 3PXP\nURI: "
            + String(decoding: uri, as: UTF8.self) + "\n"
        #expect(screen.hasPrefix(heading) && screen.hasSuffix(ending), "\(screen)")
        let drawing = screen.dropFirst(heading.count).dropLast(ending.count)
        let lines = drawing.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(drawing.last == "\n" && lines.dropLast().allSatisfy { !$0.isEmpty })
        #expect(drawing.allSatisfy { "\u{2588}\u{2580}\u{2584} \n".contains($0) })
        // The same layout, dark on light: only the drawing differs.
        let inverted = String(decoding: EnrollmentScreen.render(otpauthURI: uri, invertColors: true), as: UTF8.self)
        #expect(inverted != screen && inverted.hasPrefix(heading) && inverted.hasSuffix(ending))
    }

    /// A URI too long for a QR code still shows the secret to type and the URI.
    @Test func render_withoutAQRCode_showsTheSecretAndTheURI() {
        let long =
            Array("otpauth://totp/a?secret=JBSWY3DP&issuer=".utf8) + Array(repeating: UInt8(ascii: "x"), count: 3000)
        let screen = String(decoding: EnrollmentScreen.render(otpauthURI: long), as: UTF8.self)
        #expect(
            screen == "Or enter this secret by hand (time-based): JBSW Y3DP\nURI: "
                + String(decoding: long, as: UTF8.self)
                + "\n"
        )
    }

    @Test func secret_isTheSecretParameter() {
        #expect(EnrollmentScreen.secret(in: uri).map { String(decoding: $0, as: UTF8.self) } == "JBSWY3DPEHPK3PXP")
        #expect(EnrollmentScreen.secret(in: Array("otpauth://totp/a?issuer=x".utf8)) == nil)
        #expect(
            EnrollmentScreen.secret(in: Array("otpauth://totp/a?x=1&&secret=AB".utf8)).map(Array.init)
                == Array("AB".utf8)
        )
    }
}
