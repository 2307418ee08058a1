import CLMDB

/// A handle to a named database inside an environment.
///
/// A handle opened in a write transaction is valid for the whole environment once that transaction
/// commits ("The database handle will be private to the current transaction until the transaction is
/// successfully committed"), so open every database once at start-up and keep the handles.
public struct Database: Sendable, Hashable {
    let handle: MDB_dbi
}

/// Options for `Transaction.put(_:for:in:flags:)`.
public struct PutFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `MDB_NOOVERWRITE`: fail with `.keyExists` when the key is already present.
    public static let noOverwrite = PutFlags(rawValue: UInt32(MDB_NOOVERWRITE))
    /// `MDB_APPEND`: the key sorts after every existing key (fast bulk loading); fails with `.keyExists`
    /// otherwise.
    public static let append = PutFlags(rawValue: UInt32(MDB_APPEND))
}

/// Copies the bytes an `MDB_val` points to. LMDB's pointers point into the map and are valid only
/// until the transaction ends, so nothing leaves this module without being copied.
func copyBytes(_ value: MDB_val) -> [UInt8] {
    guard value.mv_size > 0, let data = value.mv_data else { return [] }
    return Array(UnsafeRawBufferPointer(start: data, count: value.mv_size))
}

/// Runs `body` with an `MDB_val` that points at `bytes`. LMDB does not write through input values.
func withValue<R>(_ bytes: [UInt8], _ body: (inout MDB_val) throws(LMDBError) -> R) throws(LMDBError) -> R {
    // Array.withUnsafeBytes only rethrows untyped errors, so the typed error travels in a Result.
    let result = bytes.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Result<R, LMDBError> in
        var value = MDB_val(mv_size: buffer.count, mv_data: UnsafeMutableRawPointer(mutating: buffer.baseAddress))
        do throws(LMDBError) {
            return .success(try body(&value))
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}
