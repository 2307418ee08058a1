import COpenSSL

public enum SecureRandom {
    /// `count` bytes from OpenSSL's CSPRNG. The corresponding C function is `RAND_bytes`.
    /// A failure stops the process: there is no safe fallback for missing randomness.
    public static func bytes(count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let result = bytes.withUnsafeMutableBytes { buffer in
            RAND_bytes(buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(buffer.count))
        }
        guard result == 1 else { fatalError("\(OpenSSLError(operation: "RAND_bytes"))") }
        return bytes
    }
}

public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes, in time that depends only on their lengths.
    /// The corresponding C function is `CRYPTO_memcmp`.
    public static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        let left = Array(a)
        let right = Array(b)
        // Compare equal-length buffers whatever happens, so a length mismatch takes the same path.
        let other = left.count == right.count ? right : left
        let same = left.withUnsafeBytes { l in
            other.withUnsafeBytes { r in CRYPTO_memcmp(l.baseAddress, r.baseAddress, l.count) == 0 }
        }
        return same && left.count == right.count
    }
}

public enum Scrypt {
    /// Derives `length` bytes with scrypt (RFC 7914) at N = 2^logN. The corresponding C function
    /// is `EVP_PBE_scrypt`; its memory cap is passed explicitly, since OpenSSL's default of 32 MiB
    /// is below N=2^15, r=8.
    public static func deriveKey(
        password: some Collection<UInt8>,
        salt: some Collection<UInt8>,
        logN: UInt8,
        r: UInt32,
        p: UInt32,
        length: Int
    ) throws(OpenSSLError) -> [UInt8] {
        guard logN >= 1, logN < 63, r >= 1, p >= 1, length >= 1 else {
            throw OpenSSLError(operation: "EVP_PBE_scrypt (invalid parameters)")
        }
        let n = UInt64(1) << UInt64(logN)
        // OpenSSL needs 128*r*(N+2) bytes for V plus 128*r*p for B; the headroom covers its rounding.
        let (v, vOverflow) = (128 * UInt64(r)).multipliedReportingOverflow(by: n + 2)
        let (b, bOverflow) = (128 * UInt64(r)).multipliedReportingOverflow(by: UInt64(p))
        guard !vOverflow, !bOverflow else { throw OpenSSLError(operation: "EVP_PBE_scrypt (parameters too large)") }
        let maxMemory = v + b + (1 << 20)
        let passwordBytes = Array(password)
        let saltBytes = Array(salt)
        var key = [UInt8](repeating: 0, count: length)
        let result = passwordBytes.withUnsafeBytes { passwordBuffer in
            saltBytes.withUnsafeBytes { saltBuffer in
                key.withUnsafeMutableBytes { keyBuffer in
                    EVP_PBE_scrypt(
                        passwordBuffer.baseAddress?.assumingMemoryBound(to: CChar.self),
                        passwordBuffer.count,
                        saltBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        saltBuffer.count,
                        n,
                        UInt64(r),
                        UInt64(p),
                        maxMemory,
                        keyBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        keyBuffer.count
                    )
                }
            }
        }
        guard result == 1 else { throw OpenSSLError(operation: "EVP_PBE_scrypt") }
        return key
    }
}
