import COpenSSL

/// Comparisons whose running time does not depend on where two byte strings differ.
public enum ConstantTime {
    /// True when `a` and `b` hold the same bytes.
    ///
    /// The corresponding C function is `CRYPTO_memcmp`. Lengths are treated as public: different lengths return
    /// false, but only after a comparison of the same cost as for equal lengths, so the time still does not
    /// depend on the content.
    public static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        withContiguousBytes(a) { aBase, aCount in
            withContiguousBytes(b) { bBase, bCount in
                if aCount == bCount {
                    return CRYPTO_memcmp(aBase, bBase, aCount) == 0
                }
                _ = CRYPTO_memcmp(aBase, aBase, aCount)
                return false
            }
        }
    }
}
