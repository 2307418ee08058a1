import COpenSSL

/// HMAC (RFC 2104) over SHA-1, SHA-256 or SHA-512.
public enum HMAC {
    /// One-shot HMAC of `message` under `key`.
    ///
    /// The corresponding C function is `HMAC`. It fails only when libcrypto itself is broken (out of memory, no
    /// digest), which this function treats as fatal: there is no meaningful code to return instead.
    public static func authenticationCode(
        for message: some Collection<UInt8>,
        key: some Collection<UInt8>,
        using algorithm: DigestAlgorithm
    ) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var outputLength: UInt32 = 0
        let ok = withContiguousBytes(key) { keyBase, keyCount in
            withContiguousBytes(message) { messageBase, messageCount in
                output.withUnsafeMutableBufferPointer { out in
                    COpenSSL.HMAC(
                        algorithm.evpMD, keyBase, Int32(clamping: keyCount), messageBase, messageCount,
                        out.baseAddress, &outputLength) != nil
                }
            }
        }
        guard ok, keyCountFits(key) else {
            fatalError(OpenSSLError(failedCall: "HMAC").description)
        }
        output.removeLast(output.count - Int(outputLength))
        return output
    }

    private static func keyCountFits(_ key: some Collection<UInt8>) -> Bool {
        key.count <= Int(Int32.max)
    }
}
