import COpenSSL

/// The hash functions this project runs HMAC with.
public enum DigestAlgorithm: Sendable, Hashable, CaseIterable {
    case sha1, sha256, sha512

    /// The output length in bytes: 20, 32 or 64.
    public var outputByteCount: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        case .sha512: 64
        }
    }

    /// The static `EVP_MD` for this algorithm; a function because a C pointer in a global is not Sendable.
    var evpMD: OpaquePointer {
        let md: OpaquePointer? =
            switch self {
            case .sha1: EVP_sha1()
            case .sha256: EVP_sha256()
            case .sha512: EVP_sha512()
            }
        guard let md else { fatalError("OpenSSL returned no EVP_MD for \(self): libcrypto is broken") }
        return md
    }
}

func cleanse(_ pointer: UnsafeMutableRawPointer, _ count: Int) {
    OPENSSL_cleanse(pointer, count)
}
