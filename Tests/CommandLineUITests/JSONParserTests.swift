import CommandLineUI
import Testing

@Suite struct JSONParserTests {
    private func parse(_ text: String) throws(JSONValue.ParseError) -> JSONValue {
        try JSONValue(parsing: Array(text.utf8))
    }

    @Test func parse_readsObjectsStringsNumbersAndEscapes() throws {
        let value = try parse(
            #" {"op":"login","n":-42,"ok":true,"x":null,"list":[1,"a"],"s":"q\"\\\/\n\u00e9\ud83d\ude00"} "#
        )
        #expect(value["op"]?.stringValue == "login")
        #expect(value["n"] == .number(-42))
        #expect(value["ok"] == .bool(true))
        #expect(value["x"] == .null)
        #expect(value["list"] == .array([.number(1), .string("a")]))
        #expect(value["s"]?.stringValue == "q\"\\/\né😀")
    }

    @Test func parse_writerOutput_roundTrips() throws {
        let value = JSONValue.object([("a", .string("tab\t\"quote\" ✓")), ("b", .array([.bool(false), .null]))])
        #expect(try parse(value.text) == value)
    }

    @Test(arguments: [
        "", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "\"unterminated", "{\"a\":1} trailing", "1.5", "tru",
        "\"\\ud83d\"", "\"\\x\"", "\"a\u{01}b\"", String(repeating: "[", count: 40) + String(repeating: "]", count: 40),
        // RFC 8259: four hex digits after \u, no sign; no leading zero in a number.
        #""\u+041""#, #""\u-000""#, #""\u 041""#, "012", "-01", "00",
        // A name twice: readers disagree on which value counts (RFC 8259, 4), so none does.
        #"{"user":"bob","user":"alice"}"#, #"[{"a":1,"b":{"c":1,"c":1}}]"#,
    ])
    func parse_refusesMalformedText(_ text: String) {
        #expect(throws: JSONValue.ParseError.self) { try parse(text) }
    }

    @Test func parse_refusesInvalidUTF8_andNeverEchoesTheText() {
        do {
            _ = try JSONValue(parsing: Array(#"{"password":"secret"#.utf8) + [0xFF, 0x22, 0x7D])
            Issue.record("invalid UTF-8 was accepted")
        } catch {
            #expect(!error.message.contains("secret"))
        }
    }
}
