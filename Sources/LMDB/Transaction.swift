import CLMDB

/// A read or write transaction. It ends exactly once: by `commit()`, by `abort()`, or - if neither was
/// called - by an abort when the value is destroyed, so a thrown error never leaves a transaction open.
///
/// Data returned by `get` and by cursors is copied out of the map, so it stays valid after the
/// transaction ends.
public struct Transaction: ~Copyable {
    let handle: OpaquePointer
    // Unmanaged (a trivial type) rather than a strong reference so that `commit()` and `abort()` can
    // `discard self`; the retain taken here keeps the environment open until the transaction ends.
    private let environment: Unmanaged<Environment>
    /// Whether this is a read-only transaction.
    public let isReadOnly: Bool

    init(handle: OpaquePointer, environment: Environment, isReadOnly: Bool) {
        self.handle = handle
        self.environment = Unmanaged.passRetained(environment)
        self.isReadOnly = isReadOnly
    }

    deinit {
        mdb_txn_abort(handle)
        environment.release()
    }

    /// Makes every change of this transaction durable (with the environment's default sync).
    /// The transaction ends whether or not this throws.
    /// The corresponding C function is `mdb_txn_commit`: "The transaction handle is freed. It and its
    /// cursors must not be used again after this call".
    public consuming func commit() throws(LMDBError) {
        let handle = self.handle
        let environment = self.environment
        discard self
        defer { environment.release() }
        try lmdbCall { mdb_txn_commit(handle) }
    }

    /// Discards every change of this transaction. The corresponding C function is `mdb_txn_abort`.
    public consuming func abort() {
        let handle = self.handle
        let environment = self.environment
        discard self
        mdb_txn_abort(handle)
        environment.release()
    }

    /// The id of this transaction; for a write transaction, the id its commit gives the database (a nested
    /// transaction has its parent's id). The corresponding C function is `mdb_txn_id`.
    public var id: Int {
        Int(mdb_txn_id(handle))
    }

    /// Begins a transaction nested in this write transaction: until it ends, this one must not be used. Its
    /// commit makes its changes part of this transaction (durable only when this one commits); its abort
    /// leaves this transaction as it was. The corresponding C function is `mdb_txn_begin` with a parent.
    func beginNested() throws(LMDBError) -> Transaction {
        var raw: OpaquePointer?
        try lmdbCall { mdb_txn_begin(mdb_txn_env(handle), handle, 0, &raw) }
        guard let raw else { throw LMDBError(code: outOfMemoryCode) }
        return Transaction(handle: raw, environment: environment.takeUnretainedValue(), isReadOnly: false)
    }

    /// Opens the database called `name` (nil for the unnamed main database), creating it when `create` is
    /// true and this is a write transaction. The corresponding C function is `mdb_dbi_open`.
    public func openDatabase(named name: String?, create: Bool = true) throws(LMDBError) -> Database {
        var dbi: MDB_dbi = 0
        let flags: UInt32 = create ? UInt32(MDB_CREATE) : 0
        if let name {
            try lmdbCall { mdb_dbi_open(handle, name, flags, &dbi) }
        } else {
            try lmdbCall { mdb_dbi_open(handle, nil, flags, &dbi) }
        }
        return Database(handle: dbi)
    }

    /// The value stored under `key`, copied out of the map, or nil when there is none.
    /// The corresponding C function is `mdb_get`.
    public func get(_ key: [UInt8], in database: Database) throws(LMDBError) -> [UInt8]? {
        var value = MDB_val()
        do throws(LMDBError) {
            try withValue(key) { (rawKey: inout MDB_val) throws(LMDBError) in
                try lmdbCall { mdb_get(handle, database.handle, &rawKey, &value) }
            }
        } catch .notFound {
            return nil
        }
        return copyBytes(value)
    }

    /// Stores `value` under `key`. With `.noOverwrite` an existing key throws `.keyExists`.
    /// The corresponding C function is `mdb_put`.
    public func put(_ value: [UInt8], for key: [UInt8], in database: Database, flags: PutFlags = []) throws(LMDBError) {
        try withValue(key) { (rawKey: inout MDB_val) throws(LMDBError) in
            try withValue(value) { (rawValue: inout MDB_val) throws(LMDBError) in
                try changing { mdb_put(handle, database.handle, &rawKey, &rawValue, flags.rawValue) }
            }
        }
    }

    /// Removes `key`, returning false when it was not there. The corresponding C function is `mdb_del`.
    @discardableResult
    public func delete(_ key: [UInt8], in database: Database) throws(LMDBError) -> Bool {
        do throws(LMDBError) {
            try withValue(key) { (rawKey: inout MDB_val) throws(LMDBError) in
                try changing { mdb_del(handle, database.handle, &rawKey, nil) }
            }
        } catch .notFound {
            return false
        }
        return true
    }

    /// `lmdbCall` for an operation that changes the database. A full map (`MDB_MAP_FULL`) is also reported to
    /// the environment's writer (GroupCommit.swift), which grows the map and applies the batch again, so a
    /// body need not pass the error on unchanged.
    private func changing(_ body: () -> Int32) throws(LMDBError) {
        do throws(LMDBError) {
            try lmdbCall(body)
        } catch {
            if error == .mapFull { environment.takeUnretainedValue().noteMapFull() }
            throw error
        }
    }

    /// The number of entries in `database`. The corresponding C function is `mdb_stat`.
    public func count(in database: Database) throws(LMDBError) -> Int {
        var stat = MDB_stat()
        try lmdbCall { mdb_stat(handle, database.handle, &stat) }
        return stat.ms_entries
    }

    /// Runs `body` with a cursor over `database`, closing the cursor afterwards. The cursor cannot
    /// outlive the call, so it can never outlive the transaction.
    /// The corresponding C functions are `mdb_cursor_open` and `mdb_cursor_close`.
    public func withCursor<Result>(
        in database: Database,
        _ body: (borrowing Cursor) throws(LMDBError) -> Result
    ) throws(LMDBError) -> Result {
        var raw: OpaquePointer?
        try lmdbCall { mdb_cursor_open(handle, database.handle, &raw) }
        guard let raw else { throw LMDBError(code: outOfMemoryCode) }
        let cursor = Cursor(handle: raw)
        defer { mdb_cursor_close(raw) }
        return try body(cursor)
    }
}
