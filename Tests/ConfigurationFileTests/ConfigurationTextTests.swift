import Testing

@testable import ConfigurationFile

@Suite struct ConfigurationTextTests {
    @Test func parse_readsSectionsKeysAndValues_skippingCommentsAndBlanks() throws {
        let text = """
            # twofactord.conf
            ; also a comment

            [daemon]
            socket = /run/twofactord/socket
              log-level=debug\r
            [throttle]
            free-failures =   5
            note = a=b c
            empty =
            """
        let parsed = try ConfigurationText(parsing: text)
        #expect(
            parsed.entries == [
                .init(section: "daemon", key: "socket", value: "/run/twofactord/socket", line: 5),
                .init(section: "daemon", key: "log-level", value: "debug", line: 6),
                .init(section: "throttle", key: "free-failures", value: "5", line: 8),
                .init(section: "throttle", key: "note", value: "a=b c", line: 9),
                .init(section: "throttle", key: "empty", value: "", line: 10),
            ]
        )
    }

    @Test(arguments: [
        ("socket = /x\n", 1, "before any [section]"),
        ("[daemon]\nsocket = /x\nsocket = /y\n", 3, "appears twice in [daemon]"),
        ("[daemon\n", 1, "section header"),
        ("[]\n", 1, "section header"),
        ("[dae mon]\n", 1, "not a section name"),
        ("[daemon]\n\nworkers 2\n", 3, "expected 'key = value'"),
        ("[daemon]\nlog level = info\n", 2, "not a key name"),
        ("[daemon]\n= info\n", 2, "not a key name"),
    ])
    func parse_refusesMalformedLines_namingTheLine(text: String, line: Int, reason: String) {
        #expect {
            try ConfigurationText(parsing: text)
        } throws: { error in
            guard let error = error as? ConfigurationText.SyntaxError else { return false }
            return error.line == line && error.reason.contains(reason)
        }
    }

    @Test func parse_allowsTheSameKeyInTwoSections() throws {
        let parsed = try ConfigurationText(parsing: "[a]\nx = 1\n[b]\nx = 2\n")
        #expect(parsed.entries.map(\.value) == ["1", "2"])
    }
}
