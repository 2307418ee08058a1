/// Runs `body` over the bytes of `bytes` as one contiguous buffer whose base address is never nil, so C functions
/// that reject a NULL pointer with length 0 still get a valid pointer. A temporary copy, when one is needed, is
/// wiped before returning because the bytes may be a key or a password.
@inline(__always)
func withContiguousBytes<C: Collection<UInt8>, R>(
    _ bytes: C,
    _ body: (UnsafePointer<UInt8>, Int) -> R
) -> R {
    let direct = bytes.withContiguousStorageIfAvailable { buffer -> R? in
        guard let base = buffer.baseAddress else { return nil }
        return body(base, buffer.count)
    }
    if let result = direct ?? nil {
        return result
    }
    // Either not contiguous or empty (nil base address): copy into a buffer of at least one byte.
    var copy = [UInt8](bytes)
    let count = copy.count
    if copy.isEmpty { copy.append(0) }
    let result = copy.withUnsafeBufferPointer { body($0.baseAddress!, count) }
    wipe(&copy)
    return result
}

/// Overwrites `bytes` with zeros in a way the optimiser does not remove (`OPENSSL_cleanse`).
func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        if let base = buffer.baseAddress { cleanse(base, buffer.count) }
    }
}
