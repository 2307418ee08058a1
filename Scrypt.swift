import COpenSSL

/// The scrypt key derivation function (RFC 7914).
public enum Scrypt {
    /// Memory OpenSSL may use beyond scrypt's own arrays, for its bookkeeping.
    static let memoryHeadroom = 1 << 20

    /// Derives `length` bytes from `password` and `salt` with N = 2^`logN`, block size `r` and parallelism `p`.
    ///
    /// The corresponding C function is `EVP_PBE_scrypt`. Its default memory cap is 32 MiB, which N = 2^15, r = 8
    /// already exceeds, so this passes `maxmem` = the 128·r·(N+2) + 128·r·p bytes scrypt needs plus 1 MiB.
    /// Callers that read cost parameters from storage must bound them first: this function allocates whatever
    /// they ask for.
    ///
    /// - Throws: `OpenSSLError` when `logN` is 0 or above 62, `r` or `p` is 0, `length` is below 1, the memory
    ///   needed does not fit in an `Int`, or OpenSSL refuses the parameters (for example r·p ≥ 2^30).
    public static func deriveKey(
        password: some Collection<UInt8>,
        salt: some Collection<UInt8>,
        logN: UInt8,
        r: UInt32,
        p: UInt32,
        length: Int
    ) throws(OpenSSLError) -> [UInt8] {
        let call = "EVP_PBE_scrypt"
        guard (1...62).contains(logN) else {
            throw OpenSSLError(call: call, reason: "logN must be between 1 and 62, got \(logN)")
        }
        guard r >= 1, p >= 1 else {
            throw OpenSSLError(call: call, reason: "r and p must be at least 1, got r=\(r) p=\(p)")
        }
        guard length >= 1 else {
            throw OpenSSLError(call: call, reason: "the key length must be at least 1 byte, got \(length)")
        }
        let n = UInt64(1) << UInt64(logN)
        guard let maxmem = requiredMemory(n: n, r: UInt64(r), p: UInt64(p)) else {
            throw OpenSSLError(call: call, reason: "N=2^\(logN), r=\(r), p=\(p) need more memory than can be addressed")
        }

        var key = [UInt8](repeating: 0, count: length)
        ERR_clear_error()
        let status = withContiguousBytes(password) { passwordBase, passwordCount in
            withContiguousBytes(salt) { saltBase, saltCount in
                key.withUnsafeMutableBufferPointer { out in
                    passwordBase.withMemoryRebound(to: CChar.self, capacity: max(passwordCount, 1)) { passwordChars in
                        EVP_PBE_scrypt(
                            passwordChars, passwordCount, saltBase, saltCount, n, UInt64(r), UInt64(p),
                            UInt64(maxmem), out.baseAddress, length)
                    }
                }
            }
        }
        guard status == 1 else {
            wipe(&key)
            throw OpenSSLError(failedCall: call)
        }
        return key
    }

    /// 128·r·(N+2) + 128·r·p + headroom, or nil on overflow.
    static func requiredMemory(n: UInt64, r: UInt64, p: UInt64) -> Int? {
        let (blockBytes, o1) = r.multipliedReportingOverflow(by: 128)
        let (nPlus2, o2) = n.addingReportingOverflow(2)
        let (vBytes, o3) = blockBytes.multipliedReportingOverflow(by: nPlus2)
        let (bBytes, o4) = blockBytes.multipliedReportingOverflow(by: p)
        let (sum, o5) = vBytes.addingReportingOverflow(bBytes)
        let (total, o6) = sum.addingReportingOverflow(UInt64(memoryHeadroom))
        guard !(o1 || o2 || o3 || o4 || o5 || o6), total <= UInt64(Int.max) else { return nil }
        return Int(total)
    }
}
