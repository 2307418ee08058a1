import CLMDB

/// An error code returned by liblmdb: either one of LMDB's own codes (`MDB_NOTFOUND`, `MDB_MAP_FULL`, ...)
/// or a system `errno` value (`ENOSPC`, `EACCES`, ...), which LMDB passes through unchanged.
public struct LMDBError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The raw return code of the C function.
    public let code: Int32

    init(code: Int32) {
        self.code = code
    }

    /// `MDB_KEYEXIST`: the key is already present and `noOverwrite` was given.
    public static let keyExists = LMDBError(code: MDB_KEYEXIST)
    /// `MDB_NOTFOUND`: no such key, or a cursor ran past the end.
    public static let notFound = LMDBError(code: MDB_NOTFOUND)
    /// `MDB_CORRUPTED`: a page has the wrong type; the file is damaged.
    public static let corrupted = LMDBError(code: MDB_CORRUPTED)
    /// `MDB_PANIC`: an earlier fatal error; the environment must be closed and reopened.
    public static let panic = LMDBError(code: MDB_PANIC)
    /// `MDB_VERSION_MISMATCH`: the environment was written by an incompatible liblmdb.
    public static let versionMismatch = LMDBError(code: MDB_VERSION_MISMATCH)
    /// `MDB_INVALID`: the file is not an LMDB file.
    public static let invalid = LMDBError(code: MDB_INVALID)
    /// `MDB_MAP_FULL`: the map size is reached; grow it with `Environment.setMapSize(_:)` and retry.
    public static let mapFull = LMDBError(code: MDB_MAP_FULL)
    /// `MDB_DBS_FULL`: more named databases than `maxDatabases`.
    public static let databasesFull = LMDBError(code: MDB_DBS_FULL)
    /// `MDB_READERS_FULL`: every reader slot is taken.
    public static let readersFull = LMDBError(code: MDB_READERS_FULL)
    /// `MDB_TXN_FULL`: the transaction has too many dirty pages.
    public static let transactionFull = LMDBError(code: MDB_TXN_FULL)
    /// `MDB_MAP_RESIZED`: another process grew the map; adopt it with `setMapSize(0)` and retry.
    public static let mapResized = LMDBError(code: MDB_MAP_RESIZED)
    /// `MDB_BAD_TXN`: the transaction had an earlier error and must be aborted.
    public static let badTransaction = LMDBError(code: MDB_BAD_TXN)
    /// `MDB_BAD_VALSIZE`: a key is empty or too long, or a value has a bad size.
    public static let badValueSize = LMDBError(code: MDB_BAD_VALSIZE)
    /// `MDB_BAD_DBI`: the database handle is not valid in this transaction.
    public static let badDatabase = LMDBError(code: MDB_BAD_DBI)
    /// Not a liblmdb code but this wrapper's own (below liblmdb's range, `MDB_KEYEXIST` to `MDB_LAST_ERRCODE`):
    /// the data file is shorter than its meta page says, so reading it would fault (`Environment.init`).
    public static let truncated = LMDBError(code: MDB_KEYEXIST - 1)

    /// The message of `mdb_strerror`, which covers both LMDB codes and `errno` values.
    public var description: String {
        if self == .truncated { return "the data file is shorter than the pages its meta page lists (truncated)" }
        guard let message = mdb_strerror(code) else { return "LMDB error \(code)" }
        return "\(String(cString: message)) (LMDB error \(code))"
    }
}

/// Runs one raw liblmdb call and turns a non-zero return code into an `LMDBError`.
/// Every call into liblmdb that returns a code goes through here.
@inline(__always)
func lmdbCall(_ body: () -> Int32) throws(LMDBError) {
    let code = body()
    if code != MDB_SUCCESS {
        throw LMDBError(code: code)
    }
}
