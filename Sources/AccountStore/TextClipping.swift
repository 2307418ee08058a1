extension String {
    /// The longest prefix of whole characters that fits in `limit` bytes of UTF-8: for a field with a
    /// byte limit (an audit detail, a reported host), cut without splitting a character.
    public func clipped(toUTF8Bytes limit: Int) -> String {
        var kept = ""
        for character in self {
            guard kept.utf8.count + character.utf8.count <= limit else { break }
            kept.append(character)
        }
        return kept
    }
}
