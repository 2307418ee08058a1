/// scrypt's cost parameters: N = 2^logN, block size r, parallelism p (RFC 7914).
public struct ScryptCost: Sendable, Hashable, CustomStringConvertible {
    public var logN: UInt8
    public var r: UInt32
    public var p: UInt32

    /// OWASP's Password Storage Cheat Sheet row N=2^17, r=8, p=1: 128 MiB and about 0.4 s per
    /// hash on our 2-core reference machine, which bounds logins to a few per second per core.
    public static let owasp = ScryptCost(logN: 17, r: 8, p: 1)

    /// The largest cost accepted from a stored hash: 1 GiB of memory. A corrupt or hostile record
    /// must not make the daemon allocate without bound.
    public static let maximumMemoryBytes = 1 << 30

    public init(logN: UInt8, r: UInt32, p: UInt32) {
        self.logN = logN
        self.r = r
        self.p = p
    }

    /// Memory one hash needs: 128 * r * N * p bytes.
    public var memoryBytes: Int { 128 * Int(r) * (1 << Int(min(logN, 40))) * Int(p) }

    /// Whether these parameters are sane enough to run.
    var isAcceptable: Bool {
        (1...22).contains(logN) && (1...32).contains(r) && (1...16).contains(p)
            && memoryBytes <= Self.maximumMemoryBytes
    }

    public var description: String { "ln=\(logN),r=\(r),p=\(p)" }
}
