import COpenSSL

/// Bytes from OpenSSL's cryptographically secure generator.
public enum SecureRandom {
    /// `count` random bytes for keys, salts and secrets.
    ///
    /// The corresponding C function is `RAND_bytes`. If the generator cannot be seeded there is no safe fallback,
    /// so a failure stops the process rather than hand out predictable secrets.
    public static func bytes(count: Int) -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes(count:) needs a count of 0 or more")
        guard count > 0 else { return [] }
        var output = [UInt8](repeating: 0, count: count)
        var offset = 0
        // RAND_bytes takes an Int32 length, so draw huge requests in pieces.
        while offset < count {
            let chunk = min(count - offset, Int(Int32.max))
            let status = output.withUnsafeMutableBufferPointer { buffer in
                RAND_bytes(buffer.baseAddress! + offset, Int32(chunk))
            }
            guard status == 1 else {
                fatalError(OpenSSLError(failedCall: "RAND_bytes").description)
            }
            offset += chunk
        }
        return output
    }
}
