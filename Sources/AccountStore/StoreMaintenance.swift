import Glibc

/// What an operator can ask a running daemon to do to its store as a whole, besides the account
/// operations of `AccountStore`. A backend that cannot do one says so in its error (a PostgreSQL store
/// is backed up with the server's own tools).
public protocol StoreMaintenance: Sendable {
    /// A consistent, compacted copy of the whole store in an unlinked temporary file, taken while the
    /// store keeps serving. Its secrets stay sealed; the key is not in it.
    func snapshot() throws(AccountStoreError) -> StoreSnapshot

    /// Re-seals every secret under a new random key and replaces the key file, while the store keeps
    /// serving: every write after this returns seals with the new key, and a crash at any point leaves
    /// a key file that opens the store.
    func rotateSecretsKey() throws(AccountStoreError) -> KeyRotation
}

/// What a key rotation did.
public struct KeyRotation: Sendable, Equatable {
    /// How many accounts' secrets were re-sealed.
    public var accounts: Int
    /// The key file that now holds the new key.
    public var keyFile: String

    public init(accounts: Int, keyFile: String) {
        self.accounts = accounts
        self.keyFile = keyFile
    }
}

/// An open, unlinked file holding a store snapshot: it disappears when the last reference goes away.
public final class StoreSnapshot: @unchecked Sendable, Equatable {
    // Only `pread` touches the descriptor after init, and pread is safe from several threads.
    private let descriptor: Int32
    public let size: UInt64

    /// Takes ownership of `descriptor`.
    public init(descriptor: Int32, size: UInt64) {
        self.descriptor = descriptor
        self.size = size
    }

    deinit { close(descriptor) }

    /// Up to `count` bytes from `offset`; fewer only at the end. Throws `.storageFailure` on a read error.
    public func read(at offset: UInt64, count: Int) throws(AccountStoreError) -> [UInt8] {
        guard offset < size else { return [] }
        let wanted = Int(min(UInt64(count), size - offset))
        var bytes = [UInt8](repeating: 0, count: wanted)
        var filled = 0
        while filled < wanted {
            let got = bytes.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress! + filled, wanted - filled, off_t(offset) + off_t(filled))
            }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else {
                throw .storageFailure("cannot read the backup snapshot: \(String(cString: strerror(errno)))")
            }
            filled += got
        }
        return bytes
    }

    public static func == (left: StoreSnapshot, right: StoreSnapshot) -> Bool { left === right }
}
