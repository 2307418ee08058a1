import Glibc

/// Overwrites the bytes of a secret (a password, a code) with zeros, with explicit_bzero, which the optimizer
/// cannot drop as a dead store. Call it as soon as the secret is no longer needed, on every path.
///
/// It writes where the bytes are stored, not into a copy: arrays share their storage until one of them is
/// changed (copy-on-write), and every array and `Request` that still shares it reads zeros afterwards. That is
/// the point: the request built from a password holds the same bytes, and wiping the password wipes them there.
/// What an array left behind when it grew is out of reach: reserve the capacity up front, as `Terminal` does.
public func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeBufferPointer { buffer in
        // Not `withUnsafeMutableBytes`: on storage another array shares, it would wipe a fresh copy instead.
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        explicit_bzero(UnsafeMutableRawPointer(mutating: base), buffer.count)
    }
}

extension Request {
    /// The passwords this request carries, sharing their storage: `wipe` on them reaches the request.
    var passwords: [[UInt8]] {
        switch self {
        case .login(_, let password, _, _), .userSetPassword(_, let password),
            .userAdd(_, _, _, _, let password), .loginFrom(_, let password, _, _, _):
            [password]
        default: []
        }
    }
}
