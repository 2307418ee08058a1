import CLMDB
import Glibc

/// An LMDB environment: one data file plus its lock file, holding named databases.
///
/// The environment is opened with `MDB_NOTLS`, so a read transaction is tied to its `Transaction`
/// value rather than to the thread that began it, and transactions can be used from any pool thread.
/// It is never opened with `MDB_NOSYNC`, `MDB_NOMETASYNC` or `MDB_MAPASYNC`: a commit that returned
/// is on disk.
///
/// Open one `Environment` per file per process: LMDB's locks are per process, and closing a second
/// handle to the same file releases the first one's locks.
///
/// Thread safety: LMDB's environment handle may be shared between threads. Use `read(_:)` and `write(_:)`
/// (GroupCommit.swift): they keep LMDB's hardest rule, that the map may only grow while no transaction is
/// active in this process, and grow it when it fills up. `beginTransaction(readOnly:)` bypasses that rule and
/// is only for code that runs while nothing else uses the environment (opening, tests).
public final class Environment: @unchecked Sendable {
    /// Options for opening an environment. `MDB_NOTLS` is always added.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// `MDB_NOSUBDIR`: `path` names the data file itself; the lock file is `path` + `-lock`.
        public static let noSubdirectory = Flags(rawValue: UInt32(MDB_NOSUBDIR))
        /// `MDB_RDONLY`: open read-only; write transactions fail.
        public static let readOnly = Flags(rawValue: UInt32(MDB_RDONLY))
        /// `MDB_NORDAHEAD`: turn off OS read-ahead, useful when the database is larger than RAM.
        public static let noReadAhead = Flags(rawValue: UInt32(MDB_NORDAHEAD))
        /// `MDB_NOLOCK`: use no lock file; only for a file no other process can have open (a backup being
        /// checked), since readers and writers then no longer see each other.
        public static let noLock = Flags(rawValue: UInt32(MDB_NOLOCK))
    }

    /// Sizes and counters of an open environment, from `mdb_env_info`.
    public struct Info: Sendable, Hashable {
        /// The current size of the memory map in bytes.
        public var mapSize: Int
        /// The number of the last page used in the data file.
        public var lastPageNumber: Int
        /// The id of the last committed transaction.
        public var lastTransactionID: Int
        /// The number of reader slots.
        public var maxReaders: Int
        /// The number of reader slots in use.
        public var readersInUse: Int
    }

    let handle: OpaquePointer
    /// The size `write(_:)` grows the map to at most; beyond it a write fails with `.mapFull`.
    public let maximumMapSize: Int
    /// Held shared by every transaction `read(_:)` and `write(_:)` run, exclusively while the map changes size.
    let mapLock = ReadWriteLock()
    let writeQueue = WriteQueue()

    /// Creates and opens an environment.
    ///
    /// The corresponding C functions are `mdb_env_create`, `mdb_env_set_mapsize`, `mdb_env_set_maxdbs`,
    /// `mdb_env_set_maxreaders` and `mdb_env_open`. On any failure the handle is closed with
    /// `mdb_env_close`, as the C docs require ("If this function fails, mdb_env_close() must be called").
    ///
    /// A data file shorter than the pages its meta page lists throws `.truncated` before any of those pages
    /// is read: liblmdb maps them past the end of the file, and the first read of one kills the process
    /// with SIGBUS.
    ///
    /// - Parameters:
    ///   - path: The directory holding `data.mdb` and `lock.mdb` (it must exist), or the data file itself
    ///     with `.noSubdirectory`.
    ///   - mapSize: The initial map size in bytes; the largest the database can grow before `.mapFull`. 0 takes
    ///     the size an existing data file's meta page records (its writer's), never less than its data.
    ///   - maxDatabases: How many named databases may be opened.
    ///   - maxReaders: How many read transactions may be live at once.
    ///   - flags: Extra options.
    ///   - permissions: The mode of newly created files, e.g. `0o600`.
    ///   - maximumMapSize: How large `write(_:)` lets the map grow (doubling it each time it fills up).
    public init(
        path: String,
        mapSize: Int,
        maximumMapSize: Int = 1 << 40,
        maxDatabases: Int,
        maxReaders: Int = 126,
        flags: Flags = [],
        permissions: UInt32 = 0o600
    ) throws(LMDBError) {
        var created: OpaquePointer?
        try lmdbCall { mdb_env_create(&created) }
        guard let created else { throw LMDBError(code: outOfMemoryCode) }
        do throws(LMDBError) {
            try lmdbCall { mdb_env_set_mapsize(created, mapSize) }
            try lmdbCall { mdb_env_set_maxdbs(created, MDB_dbi(maxDatabases)) }
            try lmdbCall { mdb_env_set_maxreaders(created, UInt32(maxReaders)) }
            let allFlags = flags.rawValue | UInt32(MDB_NOTLS)
            try lmdbCall { mdb_env_open(created, path, allFlags, permissions) }
            try Self.refuseTruncatedDataFile(created)
        } catch {
            mdb_env_close(created)
            throw error
        }
        handle = created
        self.maximumMapSize = maximumMapSize
    }

    deinit {
        mdb_env_close(handle)
    }

    /// Throws `.truncated` when the data file is shorter than (last page number + 1) × page size, the size
    /// the newest meta page says it has. The corresponding C functions are `mdb_env_info`, `mdb_env_stat`
    /// and `mdb_env_get_fd`.
    private static func refuseTruncatedDataFile(_ handle: OpaquePointer) throws(LMDBError) {
        var info = MDB_envinfo()
        try lmdbCall { mdb_env_info(handle, &info) }
        var statistics = MDB_stat()
        try lmdbCall { mdb_env_stat(handle, &statistics) }
        var descriptor: mdb_filehandle_t = -1
        try lmdbCall { mdb_env_get_fd(handle, &descriptor) }
        var file = stat()
        guard fstat(descriptor, &file) == 0 else { throw LMDBError(code: errno) }
        let (needed, overflow) = (info.me_last_pgno + 1).multipliedReportingOverflow(by: Int(statistics.ms_psize))
        if overflow || file.st_size < needed { throw .truncated }
    }

    /// Clears reader slots left behind by processes that died, and returns how many it cleared.
    /// The corresponding C function is `mdb_reader_check`.
    @discardableResult
    public func readerCheck() throws(LMDBError) -> Int {
        var dead: Int32 = 0
        try lmdbCall { mdb_reader_check(handle, &dead) }
        return Int(dead)
    }

    /// Changes the map size. Pass 0 to adopt a size another process set.
    ///
    /// The corresponding C function is `mdb_env_set_mapsize`, which "may be called at later times if no
    /// transactions are active in this process. Note that the library does not check for this condition,
    /// the caller must ensure it explicitly." This waits until no `read(_:)` or `write(_:)` is running.
    public func setMapSize(_ size: Int) throws(LMDBError) {
        try mapLock.withExclusive { () throws(LMDBError) in
            try lmdbCall { mdb_env_set_mapsize(handle, size) }
        }
    }

    /// The environment's current sizes and counters. The corresponding C function is `mdb_env_info`.
    public func info() throws(LMDBError) -> Info {
        var raw = MDB_envinfo()
        try lmdbCall { mdb_env_info(handle, &raw) }
        return Info(
            mapSize: raw.me_mapsize,
            lastPageNumber: raw.me_last_pgno,
            lastTransactionID: raw.me_last_txnid,
            maxReaders: Int(raw.me_maxreaders),
            readersInUse: Int(raw.me_numreaders)
        )
    }

    /// Flushes the data file to disk. Commits already do this; this is for `force` after bulk work.
    /// The corresponding C function is `mdb_env_sync`.
    public func sync() throws(LMDBError) {
        try lmdbCall { mdb_env_sync(handle, 1) }
    }

    /// Writes a consistent copy of the environment (as of one read transaction) to the open file
    /// `descriptor`; with `compact`, free pages are left out and pages renumbered, so nothing freed (an old
    /// secret, a removed account) reaches the copy. The caller opens, syncs and closes the file.
    /// The corresponding C function is `mdb_env_copyfd2` (with `MDB_CP_COMPACT`).
    /// The copy's read transaction keeps the map from growing meanwhile. In a process that only reads (a backup
    /// beside the daemon), the writer may have grown the data past this process's map: the copy's
    /// `mdb_txn_begin` then fails with `MDB_MAP_RESIZED` before anything is written, and the copy adopts the
    /// new size and begins again.
    public func copy(toDescriptor descriptor: Int32, compact: Bool) throws(LMDBError) {
        let start = lseek(descriptor, 0, SEEK_CUR)
        while true {
            do throws(LMDBError) {
                try mapLock.withShared { () throws(LMDBError) in
                    try lmdbCall { mdb_env_copyfd2(handle, descriptor, compact ? UInt32(MDB_CP_COMPACT) : 0) }
                }
                return
            } catch {
                // Begun again only when nothing reached the file, which LMDB's copy functions guarantee for this
                // error; the check keeps a partial copy from being written twice should that ever change.
                guard error == .mapResized, lseek(descriptor, 0, SEEK_CUR) == start else { throw error }
                try adoptMapSize()
            }
        }
    }

    /// Begins a transaction. A write transaction waits for any other write transaction (in any process)
    /// to end, and must be committed or aborted on the thread that began it.
    /// The corresponding C function is `mdb_txn_begin`.
    public func beginTransaction(readOnly: Bool = false) throws(LMDBError) -> Transaction {
        var raw: OpaquePointer?
        let flags: UInt32 = readOnly ? UInt32(MDB_RDONLY) : 0
        try lmdbCall { mdb_txn_begin(handle, nil, flags, &raw) }
        guard let raw else { throw LMDBError(code: outOfMemoryCode) }
        return Transaction(handle: raw, environment: self, isReadOnly: readOnly)
    }
}

/// `ENOMEM` (12 on Linux and macOS), for the C calls that report success yet return no handle.
let outOfMemoryCode: Int32 = 12
