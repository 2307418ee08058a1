import OpenSSLCrypto
import PasswordHashing

/// The machine's raw scrypt rate, the yardstick of password logins (issue 9: logins must reach 90% of it).
/// Measured with the daemon's own derivation (`Scrypt.deriveKey`, OpenSSL's `EVP_PBE_scrypt`, r = 8, p = 1)
/// on as many threads as the daemon runs hashes at once, so that the ratio compares like with like.
public struct RawScryptRate: Sendable {
    /// Derivations per second across all threads, before the load and after it.
    public var before: Double
    public var after: Double
    public var threads: Int

    /// The mean of the two measurements: the machine's load can change during a run.
    public var perSecond: Double { (before + after) / 2 }
}

/// Derives keys at 2^`logN` on `threads` threads for `seconds` and returns derivations per second.
/// Every thread finishes the derivation it is in when time is up, so the count is of whole derivations; a
/// derivation OpenSSL refuses is not counted (a rate of 0 then says the yardstick is missing).
func measureRawScrypt(logN: UInt8, threads: Int, seconds: Double) -> Double {
    let start = BenchClock.nanoseconds()
    let end = start + UInt64(seconds * 1e9)
    let counts = onThreads(threads) { index in
        let salt = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 16)
        let password = Array("raw scrypt \(index)".utf8)
        var derived = 0
        repeat {
            let key = try? Scrypt.deriveKey(
                password: password,
                salt: salt,
                logN: logN,
                r: ScryptCost.owasp.r,
                p: ScryptCost.owasp.p,
                length: 32
            )
            if key != nil { derived += 1 }
        } while BenchClock.nanoseconds() < end
        return derived
    }
    let elapsed = Double(BenchClock.nanoseconds() - start) / 1e9
    return Double(counts.reduce(0, +)) / elapsed
}
