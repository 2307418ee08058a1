/// The configuration format operators know from sssd.conf and systemd: `[section]` headers and
/// `key = value` lines.
///
/// MUSTs this parser keeps:
/// - Every key belongs to a section; a key before the first header is an error.
/// - A key appears at most once per section: a second one is an error, never a silent override.
/// - Lines starting with `#` or `;` (after blanks) are comments; there are no inline comments, so
///   a value is everything after the first `=`, without surrounding blanks.
/// - Every error names the line, so that the operator can go straight to it.
public struct ConfigurationText: Sendable, Hashable {
    /// One `key = value` line.
    public struct Entry: Sendable, Hashable {
        public var section: String
        public var key: String
        public var value: String
        /// 1-based line number in the text.
        public var line: Int

        public init(section: String, key: String, value: String, line: Int) {
            self.section = section
            self.key = key
            self.value = value
            self.line = line
        }
    }

    /// Why the text could not be read, with the line at fault.
    public struct SyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
        public var line: Int
        public var reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// The entries in the order they appear.
    public var entries: [Entry]

    public init(parsing text: String) throws(SyntaxError) {
        var entries: [Entry] = []
        var section: String?
        var seen = Set<[String]>()
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let number = index + 1
            let line = Self.trimmed(rawLine)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    throw SyntaxError(line: number, reason: "a section header looks like [name]")
                }
                let name = Self.trimmed(line.dropFirst().dropLast())
                guard Self.isName(name) else {
                    throw SyntaxError(line: number, reason: "'\(name)' is not a section name (letters, digits and -)")
                }
                section = name
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw SyntaxError(line: number, reason: "expected 'key = value', a [section] or a # comment")
            }
            let key = Self.trimmed(line[..<equals])
            let value = Self.trimmed(line[line.index(after: equals)...])
            guard Self.isName(key) else {
                throw SyntaxError(line: number, reason: "'\(key)' is not a key name (letters, digits and -)")
            }
            guard let section else {
                throw SyntaxError(line: number, reason: "'\(key)' comes before any [section]")
            }
            guard seen.insert([section, key]).inserted else {
                throw SyntaxError(line: number, reason: "'\(key)' appears twice in [\(section)]")
            }
            entries.append(Entry(section: section, key: key, value: value, line: number))
        }
        self.entries = entries
    }

    static func trimmed(_ text: some StringProtocol) -> String {
        let blanks: Set<Character> = [" ", "\t", "\r"]
        guard let first = text.firstIndex(where: { !blanks.contains($0) }),
            let last = text.lastIndex(where: { !blanks.contains($0) })
        else { return "" }
        return String(text[first...last])
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
