import COpenSSL

/// AES-256-GCM sealing of small secrets (TOTP secrets, recovery-code hashes) under a 32-byte key.
///
/// A sealed box is `nonce (12 bytes) || ciphertext || tag (16 bytes)`. Every seal draws a fresh random
/// nonce; with 96-bit random nonces one key may seal up to 2^32 boxes (NIST SP 800-38D 8.3), far beyond
/// what a login daemon writes before its key is rotated. The associated data is authenticated, not
/// stored: opening with other associated data (another account's name) fails like a wrong key.
public enum AES256GCM {
    public static let keySize = 32
    public static let nonceSize = 12
    public static let tagSize = 16
    /// How many bytes sealing adds to the plaintext.
    public static let overhead = nonceSize + tagSize

    /// Seals `plaintext` under `key`, binding `associatedData`. The corresponding C functions are
    /// `EVP_EncryptInit_ex`, `EVP_EncryptUpdate`, `EVP_EncryptFinal_ex` and `EVP_CIPHER_CTX_ctrl`.
    public static func seal(
        _ plaintext: [UInt8],
        key: [UInt8],
        associatedData: [UInt8]
    ) throws(OpenSSLError) -> [UInt8] {
        try seal(plaintext, key: key, nonce: SecureRandom.bytes(count: nonceSize), associatedData: associatedData)
    }

    /// Sealing with a given nonce, for known-answer tests only: a nonce must never be used twice with one key.
    static func seal(
        _ plaintext: [UInt8],
        key: [UInt8],
        nonce: [UInt8],
        associatedData: [UInt8]
    ) throws(OpenSSLError) -> [UInt8] {
        guard key.count == keySize, nonce.count == nonceSize else {
            throw OpenSSLError(operation: "AES-256-GCM seal (wrong key or nonce size)")
        }
        let context = try Context()
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + 16)
        var tag = [UInt8](repeating: 0, count: tagSize)
        var length: Int32 = 0
        var total = 0
        guard EVP_EncryptInit_ex(context.pointer, cipher, nil, key, nonce) == 1,
            associatedData.withUnsafeBufferPointer({
                EVP_EncryptUpdate(context.pointer, nil, &length, $0.baseAddress, Int32($0.count))
            }) == 1,
            plaintext.withUnsafeBufferPointer({ input in
                ciphertext.withUnsafeMutableBufferPointer { output in
                    EVP_EncryptUpdate(
                        context.pointer,
                        output.baseAddress,
                        &length,
                        input.baseAddress,
                        Int32(input.count)
                    )
                }
            }) == 1
        else { throw OpenSSLError(operation: "AES-256-GCM seal") }
        total = Int(length)
        guard
            ciphertext.withUnsafeMutableBufferPointer({
                EVP_EncryptFinal_ex(context.pointer, $0.baseAddress! + total, &length)
            }) == 1,
            EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_GET_TAG, Int32(tagSize), &tag) == 1
        else { throw OpenSSLError(operation: "AES-256-GCM seal") }
        total += Int(length)
        return nonce + ciphertext.prefix(total) + tag
    }

    /// Opens a box made by `seal`, or throws when the key, the associated data or any byte of the box
    /// differs. Nothing of the plaintext is returned unless the tag checks. The corresponding C functions
    /// are `EVP_DecryptInit_ex`, `EVP_DecryptUpdate`, `EVP_CIPHER_CTX_ctrl` and `EVP_DecryptFinal_ex`.
    public static func open(
        _ box: [UInt8],
        key: [UInt8],
        associatedData: [UInt8]
    ) throws(OpenSSLError) -> [UInt8] {
        guard key.count == keySize else { throw OpenSSLError(operation: "AES-256-GCM open (wrong key size)") }
        guard box.count >= overhead else { throw OpenSSLError(operation: "AES-256-GCM open (box too short)") }
        let nonce = Array(box.prefix(nonceSize))
        let sealed = Array(box.dropFirst(nonceSize).dropLast(tagSize))
        var tag = Array(box.suffix(tagSize))
        let context = try Context()
        var plaintext = [UInt8](repeating: 0, count: sealed.count + 16)
        var length: Int32 = 0
        guard EVP_DecryptInit_ex(context.pointer, cipher, nil, key, nonce) == 1,
            associatedData.withUnsafeBufferPointer({
                EVP_DecryptUpdate(context.pointer, nil, &length, $0.baseAddress, Int32($0.count))
            }) == 1,
            sealed.withUnsafeBufferPointer({ input in
                plaintext.withUnsafeMutableBufferPointer { output in
                    EVP_DecryptUpdate(
                        context.pointer,
                        output.baseAddress,
                        &length,
                        input.baseAddress,
                        Int32(input.count)
                    )
                }
            }) == 1
        else { throw OpenSSLError(operation: "AES-256-GCM open") }
        let total = Int(length)
        guard EVP_CIPHER_CTX_ctrl(context.pointer, EVP_CTRL_GCM_SET_TAG, Int32(tagSize), &tag) == 1,
            plaintext.withUnsafeMutableBufferPointer({
                EVP_DecryptFinal_ex(context.pointer, $0.baseAddress! + total, &length)
            }) == 1
        else {
            // Wipe what was decrypted before the tag failed to check.
            for index in plaintext.indices { plaintext[index] = 0 }
            throw OpenSSLError(operation: "AES-256-GCM open (authentication failed)")
        }
        return Array(plaintext.prefix(total + Int(length)))
    }

    /// The cipher, fetched from OpenSSL's providers once for the process. Given `EVP_aes_256_gcm()`, OpenSSL 3
    /// looks the algorithm up again on every init (a lock and string compares): a tenth of the daemon's CPU
    /// per code check in the profile of docs/performance.md. A fetched `EVP_CIPHER` is immutable and may be
    /// shared by threads; it is never freed.
    private nonisolated(unsafe) static let cipher: OpaquePointer? =
        EVP_CIPHER_fetch(nil, "AES-256-GCM", nil) ?? EVP_aes_256_gcm()

    /// An `EVP_CIPHER_CTX`, freed when the value goes away.
    private final class Context {
        let pointer: OpaquePointer

        init() throws(OpenSSLError) {
            guard let pointer = EVP_CIPHER_CTX_new() else { throw OpenSSLError(operation: "EVP_CIPHER_CTX_new") }
            self.pointer = pointer
        }

        deinit { EVP_CIPHER_CTX_free(pointer) }
    }
}
