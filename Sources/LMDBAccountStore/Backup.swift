import AccountStore
import Glibc
import LMDB
import StoredRecords

/// Backup, check and restore. The MUSTs:
/// - a backup is one consistent, compacted copy (`mdb_env_copyfd2` with `MDB_CP_COMPACT`): free pages,
///   where an old secret could linger, are not copied; secrets in it stay sealed, and the key is not in it;
/// - `twofactord --backup` changes nothing in the state directory: it opens no store (no schema upgrade, no
///   record decoded, no key read or made), only the LMDB environment, read-only (`MDB_RDONLY`), and it is
///   refused where there is no store to copy, as the store's own checks refuse the directory;
/// - the backup file gets its name only once it is whole and synced (written into an unnamed file of its
///   directory, `O_TMPFILE`, then linked), in a directory that group and others cannot write: an existing
///   file or a planted link at that name is refused, never followed or overwritten, and a backup that fails
///   or is killed leaves no file (on a file system without unnamed files: created new with
///   `O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600, and removed when the backup fails);
/// - a restore only fills a state directory without a database, only with a whole backup of a known schema
///   sealed with the key it will be opened with, and only by renaming a synced copy into place: a failed
///   restore leaves the directory as it was;
/// - the copy's replay steps are raised before that rename, every enrolled account's past the current one,
///   so a code used after the backup was taken cannot be accepted again: a `data.mdb` that a restore put in
///   place, even one that was killed right after, never holds the backup's steps.
extension LMDBAccountStore {
    /// Writes a consistent, compacted copy of the store in `directory` to a new file at `path`, and returns the
    /// schema version it holds, without opening the store: the environment alone is opened read-only, and read
    /// in one LMDB read transaction, so a daemon may serve the store meanwhile, and a store of an older schema
    /// is copied as it is (a restore upgrades it). Refused, writing nothing, where the directory holds no store,
    /// an empty or truncated `data.mdb`, or what an unfinished restore left.
    ///
    /// A process that has the store open backs it up with `backup(to:)` instead: LMDB allows one environment
    /// per file per process.
    public static func backup(of directory: String, to path: String) throws(AccountStoreError) -> UInt32 {
        try refuseSharedParent(of: path, what: "the backup")
        try refuseExisting(path)
        let source = try StateDirectory.ReadOnlySource(directory, for: "back up")
        // The environment is closed before the directory (and a shared lock on it) is let go.
        return try withExtendedLifetime(source) { () throws(AccountStoreError) -> UInt32 in
            let environment: Environment
            do throws(LMDBError) {
                // Map size 0: the size the daemon last recorded in the data file.
                environment = try Environment(
                    path: directory,
                    mapSize: 0,
                    maxDatabases: Self.maxDatabases,
                    flags: source.hasLockFile ? [.readOnly] : [.readOnly, .noLock]
                )
            } catch {
                throw storageFailure(error, directory: directory)
            }
            let version = try Schema.version(of: environment, directory: directory)
            try writeBackup(of: environment, in: directory, to: path)
            return version
        }
    }

    /// Writes a consistent, compacted copy of the database to a new file at `path`, while the store keeps serving.
    public func backup(to path: String) throws(AccountStoreError) {
        try Self.refuseSharedParent(of: path, what: "the backup")
        try Self.refuseExisting(path)
        try Self.writeBackup(of: environment, in: directory, to: path)
    }

    /// Refuses a backup file name that is taken, before anything is copied (linking the whole copy to it
    /// refuses it again, atomically).
    private static func refuseExisting(_ path: String) throws(AccountStoreError) {
        var info = stat()
        guard lstat(path, &info) != 0 else { throw cannotCreateBackup(path, EEXIST) }
    }

    private static func cannotCreateBackup(_ path: String, _ code: Int32) -> AccountStoreError {
        .storageFailure(
            "cannot create the backup \(path): \(FileText.systemMessage(code)): "
                + "give a new file name in a directory only you can write"
        )
    }

    /// Creates the file `path` (mode 0600) holding a compacted copy of `environment`, synced; see the MUSTs
    /// above. The name appears only once the file is whole.
    private static func writeBackup(
        of environment: Environment,
        in directory: String,
        to path: String
    ) throws(AccountStoreError) {
        let parent = ParentDirectory.of(path)
        var file: Int32 = -1
        // linkat(2) names an unnamed file through its /proc/self/fd link, so /proc must be there.
        if let unnamedFile, access("/proc/self/fd", X_OK) == 0 {
            file = Glibc.open(parent, unnamedFile | O_WRONLY | O_CLOEXEC, 0o600)
            guard file >= 0 || errno == EOPNOTSUPP || errno == EISDIR else { throw cannotCreateBackup(path, errno) }
        }
        let unnamed = file >= 0
        if !unnamed {
            file = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard file >= 0 else { throw cannotCreateBackup(path, errno) }
        }
        defer { close(file) }
        do throws(AccountStoreError) {
            do throws(LMDBError) {
                try environment.copy(toDescriptor: file, compact: true)
            } catch {
                // Mostly the backup's own file system (full, failing); else a damaged page of the store.
                let advice =
                    error.code == ENOSPC || error.code == EDQUOT
                    ? ": free space there or give a file elsewhere" : ""
                throw .storageFailure("cannot copy \(directory) to the backup \(path): \(error)" + advice)
            }
            guard fsync(file) == 0 else {
                throw .storageFailure("cannot write the backup \(path): \(FileText.systemMessage(errno))")
            }
            // Fails with EEXIST when anything took the name meanwhile, a link too: nothing is overwritten or followed.
            if unnamed && linkat(AT_FDCWD, "/proc/self/fd/\(file)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0 {
                throw cannotCreateBackup(path, errno)
            }
        } catch {
            if !unnamed { unlink(path) }
            throw error
        }
        StateDirectory.syncEntries(parent)
    }

    /// `O_TMPFILE`, which Glibc's Swift module leaves out (it needs `_GNU_SOURCE`): `020000000 | O_DIRECTORY`
    /// where Linux takes the generic value (asm-generic/fcntl.h); elsewhere nil, and backups are written under
    /// their own name.
    private static var unnamedFile: Int32? {
        #if os(Linux) && (arch(x86_64) || arch(arm64))
            0o20000000 | O_DIRECTORY
        #else
            nil
        #endif
    }

    /// A compacted copy in an unlinked file of the state directory (which only the daemon's user can read),
    /// for a client to read through the socket (`twofactorctl backup`).
    public func snapshot() throws(AccountStoreError) -> StoreSnapshot {
        var template = Array((directory + "/backup-snapshot.XXXXXX").utf8CString)
        let file = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard file >= 0 else {
            throw .storageFailure(
                "cannot create a snapshot file in \(directory): \(FileText.systemMessage(errno)): "
                    + "check that the state directory is writable and has room for a copy of data.mdb"
            )
        }
        _ = fcntl(file, F_SETFD, FD_CLOEXEC)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        do throws(AccountStoreError) {
            try copyCompacted(into: file)
        } catch {
            close(file)
            throw error
        }
        var info = stat()
        guard fstat(file, &info) == 0 else {
            close(file)
            throw .storageFailure("cannot inspect the snapshot file: \(FileText.systemMessage(errno))")
        }
        return StoreSnapshot(descriptor: file, size: UInt64(info.st_size))
    }

    private func copyCompacted(into file: Int32) throws(AccountStoreError) {
        do throws(LMDBError) {
            try environment.copy(toDescriptor: file, compact: true)
        } catch {
            throw storageFailure(error)
        }
    }

    /// Reads every account (decoding each record with its login state and opening its secrets, which checks
    /// the key), every organization, every login state and the audit trail with its index. Returns how many
    /// accounts, organizations and audit records; throws at the first damaged record.
    public func check() throws(AccountStoreError) -> (accounts: Int, organizations: Int, auditRecords: Int) {
        var accountCount = 0
        var after: AccountName?
        while true {
            let page = try accounts(in: nil, after: after, limit: 500)
            accountCount += page.count
            guard page.count == 500, let last = page.last else { break }
            after = last.name
        }
        var organizationCount = 0
        var afterOrganization: OrganizationName?
        while true {
            let page = try organizations(after: afterOrganization, limit: 500)
            organizationCount += page.count
            guard page.count == 500, let last = page.last else { break }
            afterOrganization = last.name
        }
        // Reading the accounts applied every login state that has an account; one without is damage too.
        let orphan = try read { transaction in
            try transaction.withCursor(in: databases.logins) { (cursor) throws(LMDBError) -> [UInt8]? in
                var entry = try cursor.first()
                while let current = entry {
                    if try transaction.get(current.key, in: accounts) == nil { return current.key }
                    entry = try cursor.next()
                }
                return nil
            }
        }
        if let orphan {
            throw AccountStoreError.corruptRecord(key: "logins/" + String(decoding: orphan, as: UTF8.self))
        }
        let auditRecords = try checkAuditTrail()
        return (accountCount, organizationCount, auditRecords)
    }

    /// Every audit record decodes and is indexed under its organization's part, every index entry has its
    /// record, and each part's count is its number of records. Returns how many records.
    private func checkAuditTrail() throws(AccountStoreError) -> Int {
        let audit = databases.audit
        let index = databases.auditByOrganization
        return try read { transaction in
            var counts: [[UInt8]: UInt64] = [:]
            var after: [UInt8]?
            while true {
                let page = try Self.range(in: audit, of: transaction, prefix: [], after: after, limit: 1000)
                for (key, value) in page {
                    let sequence = Self.decodeCounter(key)
                    guard let record = try? AuditRecordCodec.decode(value) else {
                        throw AccountStoreError.corruptRecord(key: "audit/\(sequence)")
                    }
                    let part = Self.auditPart(record.organization)
                    guard try transaction.get(part + key, in: index) != nil else {
                        throw AccountStoreError.corruptRecord(key: "audit-organizations/\(sequence)")
                    }
                    counts[part, default: 0] += 1
                }
                guard page.count == 1000 else { break }
                after = page.last?.key
            }
            // Every record has its entry, so an entry more than its part's records is one without a record.
            let total = counts.values.reduce(0, +)
            guard try transaction.count(in: index) == total else {
                throw AccountStoreError.corruptRecord(key: "audit-organizations")
            }
            let countKeys = try Self.range(
                in: meta,
                of: transaction,
                prefix: Self.auditCountPrefix,
                after: nil,
                limit: .max
            )
            for (key, _) in countKeys {
                let part = Array(key.dropFirst(Self.auditCountPrefix.count))
                guard try Self.counter(key, in: transaction, meta: meta) == counts[part, default: 0] else {
                    throw AccountStoreError.corruptRecord(
                        key: "meta/" + String(decoding: key.dropLast(), as: UTF8.self)
                    )
                }
                counts[part] = nil
            }
            guard counts.isEmpty else { throw AccountStoreError.corruptRecord(key: "meta/audit-count") }
            return Int(total)
        }
    }

    /// For a restore's copy: sets the last accepted step of every enrolled authenticator to the latest step a
    /// code could have been accepted for since the backup, the current one plus the largest drift and the code
    /// window's step, so codes used since the backup are refused. Returns how many accounts were raised.
    func raiseReplaySteps(now: UnixTime) throws(AccountStoreError) -> Int {
        let accounts = databases.accounts
        return try write { transaction in
            let entries = try Self.range(in: accounts, of: transaction, prefix: [], after: nil, limit: .max)
            var raised = 0
            for (key, value) in entries {
                var account = try decodeAccount(value, key: key, in: transaction)
                // Every authenticator, each with its own period. Its drift may have changed since the backup (a
                // resync, codes of a clock running ahead), so a code ahead by the largest drift plus the window's
                // one step may have been accepted, not only one ahead by the drift the backup holds.
                var authenticators = account.authenticators
                var changed = false
                for index in authenticators.indices {
                    let period = authenticators[index].credential.parameters.period
                    guard period > 0 else { continue }
                    let ahead = UInt64(max(Authenticator.largestDrift, authenticators[index].drift)) + 1
                    let step = UInt64(max(0, now)) / UInt64(period) + ahead
                    if authenticators[index].lastAcceptedStep.map({ $0 < step }) ?? true {
                        authenticators[index].lastAcceptedStep = step
                        changed = true
                    }
                }
                if changed {
                    account.authenticators = authenticators
                    account.updatedAt = now
                    try putRecord(AccountRecord.encode(account), for: key, in: transaction)
                    raised += 1
                }
            }
            return raised
        }
    }

    /// Copies the backup at `backup` into `directory`, which must hold no database yet (a new or empty
    /// state directory, or one whose `data.mdb` is empty), with every replay step raised for the time `now`.
    /// Returns how many accounts were raised.
    ///
    /// The backup is checked before anything is written, and its copy again before it is opened: it must be a
    /// whole LMDB file (not truncated) with a schema version this build reads, sealed with `secretsKey` (nil:
    /// the directory's own `secrets.key`, which must exist). The copy goes to `restoring/data.mdb` in
    /// `directory` and is synced; opened there as a store (which upgrades an older schema), it gets its replay
    /// steps raised in one durable commit; only then is it renamed to `data.mdb`. So a restore that fails or
    /// is killed leaves no `data.mdb` behind (the state directory refuses to open while `restoring` is there,
    /// saying to restore again), and a `data.mdb` it leaves is one whose steps are raised.
    @discardableResult
    public static func restore(
        from backup: String,
        into directory: String,
        secretsKey: SecretsKey?,
        now: UnixTime
    ) throws(AccountStoreError) -> Int {
        let unfinished = try StateDirectory.prepareForRestore(directory)
        let key: SecretsKey
        if let secretsKey { key = secretsKey } else { key = try restoringKey(directory) }
        try checkBackup(backup, sealedWith: key)
        let staging = directory + "/" + StateDirectory.restoringDirectory
        let staged = staging + "/" + StateDirectory.dataFile
        let raised: Int
        do throws(AccountStoreError) {
            try StateDirectory.startStaging(staging, in: directory)
            try copyFile(backup, to: staged)
            try checkBackup(staged, sealedWith: key, named: backup)
            // The staged store is closed when this statement ends, before its file becomes data.mdb.
            raised = try LMDBAccountStore(directory: staging, secretsKey: key).raiseReplaySteps(now: now)
        } catch {
            StateDirectory.removeStaging(staging, keepingTheMark: unfinished)
            throw error
        }
        // Removed first, so a restore killed after its rename leaves at most an empty directory.
        unlink(staging + "/" + StateDirectory.lockFile)
        guard rename(staged, directory + "/" + StateDirectory.dataFile) == 0 else {
            let message = FileText.systemMessage(errno)
            StateDirectory.removeStaging(staging, keepingTheMark: unfinished)
            throw .storageFailure("cannot move the restored copy into \(directory)/data.mdb: \(message)")
        }
        rmdir(staging)
        StateDirectory.syncEntries(directory)
        return raised
    }

    /// The key a restore into `directory` opens the backup with when none is given: the directory's own, which
    /// must be there, since a new key could not open the backup's secrets.
    private static func restoringKey(_ directory: String) throws(AccountStoreError) -> SecretsKey {
        let path = directory + "/" + SecretsKey.defaultFileName
        guard access(path, F_OK) == 0 else {
            throw .storageFailure(
                "a restore needs the key the backup's secrets were sealed with: put it at \(path) (mode 0600), "
                    + "or give it with --secrets-key-file"
            )
        }
        return try SecretsKey.load(path: path, create: false)
    }

    /// Throws unless the file at `path` is a whole twofactord database sealed with `key`. Opened read-only,
    /// without a lock file, so the check writes nothing; `named` is the file the operator knows it by.
    private static func checkBackup(
        _ path: String,
        sealedWith key: SecretsKey,
        named name: String? = nil
    ) throws(AccountStoreError) {
        let name = name ?? path
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw .storageFailure("cannot open the backup \(name): \(FileText.systemMessage(errno))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw .storageFailure("the backup \(name) is not a plain file (a link is not followed)")
        }
        guard info.st_size > 0 else {
            throw .storageFailure("the backup \(name) is empty: restore from another backup")
        }
        // What a restore reads becomes every account's password hash and two-factor state: only a file that no
        // one else could have written or swapped.
        guard info.st_uid == geteuid() || info.st_uid == 0, info.st_mode & (S_IWGRP | S_IWOTH) == 0 else {
            throw .storageFailure(
                "refusing to restore \(name): it is owned by another user or writable by group or others, who "
                    + "could have changed it; if you trust its contents, chown it to yourself and chmod 600 it"
            )
        }
        try refuseSharedParent(of: path, what: "the backup", doing: "restore")
        let found: (version: [UInt8]?, keyCheck: [UInt8]?)
        do throws(LMDBError) {
            let environment = try Environment(
                path: path,
                mapSize: 1 << 20,
                maxDatabases: Self.maxDatabases,
                flags: [.noSubdirectory, .readOnly, .noLock]
            )
            let transaction = try environment.beginTransaction(readOnly: true)
            do throws(LMDBError) {
                let meta = try transaction.openDatabase(named: "meta", create: false)
                found = (
                    try transaction.get(schemaVersionKey, in: meta),
                    try transaction.get(secretsKeyCheckKey, in: meta)
                )
            } catch .notFound {
                found = (nil, nil)
            }
        } catch {
            let advice =
                error == .truncated
                ? "it is truncated (shorter than the pages it lists)" : "it is damaged or not a twofactord backup"
            throw .storageFailure(
                "cannot restore the backup \(name): \(advice) (\(error)): restore from another backup"
            )
        }
        guard let versionBytes = found.version else {
            throw .storageFailure(
                "the backup \(name) holds no schema version, so it is not a twofactord backup: restore from another one"
            )
        }
        let version = versionBytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard versionBytes.count == 4, (1...schemaVersion).contains(version) else {
            throw .unsupportedSchemaVersion(found: version, supported: schemaVersion)
        }
        guard let check = found.keyCheck else {
            // Every store of schema 2 and later was opened by a twofactord that seals secrets, which writes the
            // check: without it, the store would be sealed again as if it were plaintext, its secrets lost.
            guard version < 2 else {
                throw .storageFailure(
                    "the backup \(name) has lost its secrets key check, which every twofactord backup of schema 2 "
                        + "and later holds: it was altered or damaged: restore from another backup"
                )
            }
            return
        }
        guard SecretSealing.isKeyCheck(check, of: key) else {
            throw .storageFailure(
                "the backup \(name) was sealed with another key than \(key.path): give the key file that was in "
                    + "use when the backup was taken with --secrets-key-file"
            )
        }
    }

    /// Copies `source` into a new file `target` (mode 0600, never through a link) and syncs it.
    private static func copyFile(_ source: String, to target: String) throws(AccountStoreError) {
        let input = Glibc.open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard input >= 0 else {
            throw .storageFailure("cannot open the backup \(source): \(FileText.systemMessage(errno))")
        }
        defer { close(input) }
        let output = Glibc.open(target, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else {
            throw .storageFailure("cannot create \(target): \(FileText.systemMessage(errno))")
        }
        defer { close(output) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
            guard count >= 0 else {
                throw .storageFailure("cannot read the backup \(source): \(FileText.systemMessage(errno))")
            }
            if count == 0 { break }
            let written = buffer.withUnsafeBytes { Glibc.write(output, $0.baseAddress, count) }
            guard written == count else {
                throw .storageFailure("cannot write \(target): \(FileText.systemMessage(errno))")
            }
        }
        guard fsync(output) == 0 else {
            throw .storageFailure("cannot write \(target): \(FileText.systemMessage(errno))")
        }
    }

    /// Refuses `path` when another user could replace it in its directory (to `doing` it: create it, or restore
    /// from it).
    static func refuseSharedParent(of path: String, what: String, doing: String = "create") throws(AccountStoreError) {
        try ParentDirectory.refuseShared(
            path,
            what: what,
            doing: doing,
            advice: "choose a directory only you can write"
        )
    }
}
