import TestSupport

/// `count` command lines of up to `maximumLength - 1` words drawn from `words`, with a fixed seed so that a
/// failure repeats: words near the edge of the plain command lines, for the quick readings' tests.
func drawnCommandLines(from words: [String], seed: UInt64, count: Int = 20_000, maximumLength: Int) -> [[String]] {
    var random = SeededGenerator(seed: seed)
    return (0..<count).map { _ in
        let length = Int(random.next() % UInt64(maximumLength))
        return (0..<length).map { _ in words[Int(random.next() % UInt64(words.count))] }
    }
}
