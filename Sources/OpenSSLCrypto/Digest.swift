import COpenSSL

/// The hash functions HMAC runs with here.
public enum DigestAlgorithm: Sendable, Hashable, CaseIterable {
    case sha1
    case sha256
    case sha512

    /// Bytes of output: 20, 32 or 64.
    public var outputLength: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        case .sha512: 64
        }
    }

    /// OpenSSL's static digest description; a function, not a stored global, because a C pointer
    /// is not Sendable.
    var evp: OpaquePointer {
        switch self {
        case .sha1: EVP_sha1()
        case .sha256: EVP_sha256()
        case .sha512: EVP_sha512()
        }
    }
}

public enum HMAC {
    /// HMAC (RFC 2104) of `message` under `key`. The corresponding C function is `HMAC`.
    public static func authenticationCode(
        for message: some Collection<UInt8>,
        key: some Collection<UInt8>,
        using algorithm: DigestAlgorithm
    ) -> [UInt8] {
        let keyBytes = Array(key)
        let messageBytes = Array(message)
        var output = [UInt8](repeating: 0, count: algorithm.outputLength)
        var length: UInt32 = 0
        let result = keyBytes.withUnsafeBytes { keyBuffer in
            messageBytes.withUnsafeBytes { messageBuffer in
                output.withUnsafeMutableBytes { outputBuffer in
                    COpenSSL.HMAC(
                        algorithm.evp,
                        keyBuffer.baseAddress,
                        Int32(keyBuffer.count),
                        messageBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        messageBuffer.count,
                        outputBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        &length
                    )
                }
            }
        }
        // HMAC only fails on allocation failure or a broken digest table: nothing a caller could handle.
        precondition(result != nil && Int(length) == algorithm.outputLength, "\(OpenSSLError(operation: "HMAC"))")
        return output
    }
}
