import CLMDB

/// A position in a database, moving through its keys in sorted (bytewise) order. Obtained from
/// `Transaction.withCursor(in:_:)`. Each move returns the entry it lands on, copied out of the map, or nil
/// past the end. The corresponding C function is `mdb_cursor_get`.
public struct Cursor: ~Copyable {
    let handle: OpaquePointer

    /// One entry: a key and its value.
    public typealias Entry = (key: [UInt8], value: [UInt8])

    /// Moves to the first entry (`MDB_FIRST`).
    public func first() throws(LMDBError) -> Entry? {
        try move(MDB_FIRST)
    }

    /// Moves to the last entry (`MDB_LAST`).
    public func last() throws(LMDBError) -> Entry? {
        try move(MDB_LAST)
    }

    /// Moves to the next entry (`MDB_NEXT`); from an unpositioned cursor, to the first.
    public func next() throws(LMDBError) -> Entry? {
        try move(MDB_NEXT)
    }

    /// Moves to the previous entry (`MDB_PREV`).
    public func previous() throws(LMDBError) -> Entry? {
        try move(MDB_PREV)
    }

    /// Moves to the first entry whose key is greater than or equal to `key` (`MDB_SET_RANGE`).
    public func seek(atOrAfter key: [UInt8]) throws(LMDBError) -> Entry? {
        try withValue(key) { (rawKey: inout MDB_val) throws(LMDBError) -> Entry? in
            var value = MDB_val()
            do throws(LMDBError) {
                try lmdbCall { mdb_cursor_get(handle, &rawKey, &value, MDB_SET_RANGE) }
            } catch .notFound {
                return nil
            }
            // On success LMDB points rawKey at the key found, inside the map.
            return (copyBytes(rawKey), copyBytes(value))
        }
    }

    private func move(_ operation: MDB_cursor_op) throws(LMDBError) -> Entry? {
        var key = MDB_val()
        var value = MDB_val()
        do throws(LMDBError) {
            try lmdbCall { mdb_cursor_get(handle, &key, &value, operation) }
        } catch .notFound {
            return nil
        }
        return (copyBytes(key), copyBytes(value))
    }
}
