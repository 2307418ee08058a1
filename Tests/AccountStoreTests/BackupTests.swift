import AccountStore
import Glibc
import LMDB
import Testing
import TestSupport

@testable import LMDBAccountStore
@testable import StoredRecords

// Backup, check and restore (issue 7, point 13).

private func fileSize(_ path: String) -> Int {
    var info = stat()
    return lstat(path, &info) == 0 ? Int(info.st_size) : -1
}

@Test func backup_isCompactedRestorable_andRestoreRaisesReplaySteps() throws {
    let fixture = StoreFixture()
    let backup = fixture.directory.path + "/store.backup"
    let key = try SecretsKey(bytes: Array(repeating: 9, count: 32), path: fixture.directory.path + "/key")
    do {
        let store = try LMDBAccountStore(directory: fixture.path, secretsKey: key)
        try store.create(makeAccount("alice"))
        _ = try store.recordAcceptedStep(7, for: accountName("alice"), credential: enrolledCredential, at: 1_000)
        // Free pages: accounts created and removed again.
        for index in 0..<300 { try store.create(makeAccount("gone\(index)")) }
        for index in 0..<300 { try store.remove(accountName("gone\(index)")) }
        try store.backup(to: backup)
        #expect(try store.check().accounts == 1)
    }
    var info = stat()
    #expect(lstat(backup, &info) == 0 && info.st_mode & 0o777 == 0o600)
    #expect(fileSize(backup) < fileSize(fixture.path + "/data.mdb"), "the copy is compacted")

    let restored = fixture.directory.path + "/restored"
    // At time 3000 with a 30 s period the current step is 100: 111 (the largest drift, 10, and the window's one
    // step) may have been used.
    #expect(try LMDBAccountStore.restore(from: backup, into: restored, secretsKey: key, now: 3_000) == 1)
    let store = try LMDBAccountStore(directory: restored, secretsKey: key)
    #expect(try store.check().accounts == 1)
    #expect(try store.account(named: accountName("alice"))?.totp == enrolledCredential)
    let alice = accountName("alice")
    #expect(try store.recordAcceptedStep(111, for: alice, credential: enrolledCredential, at: 3_000) == .replayed)
    #expect(try store.recordAcceptedStep(112, for: alice, credential: enrolledCredential, at: 3_330) == .accepted)
}

/// A resync (or codes learning the drift) after the backup moves an authenticator's window ahead of what the
/// backup holds: a code used that far ahead must stay refused after the restore, whatever drift the backup had.
@Test func restore_raisesReplayStepsPastADriftLearnedAfterTheBackup() throws {
    let fixture = StoreFixture()
    let backup = fixture.directory.path + "/store.backup"
    let alice = accountName("alice")
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        try store.backup(to: backup)
        // At time 3000 the current step is 100; a resync found the phone's clock 10 steps ahead, and its next
        // code (drift 10, one step ahead in the window) was accepted.
        let accepted = try store.recordAcceptedStep(
            111,
            for: alice,
            authenticator: .enrolled,
            credential: enrolledCredential,
            drift: 10,
            at: 3_000
        )
        #expect(accepted == .accepted)
    }
    let restored = fixture.directory.path + "/restored"
    let key = try SecretsKey.load(path: fixture.path + "/secrets.key", create: false)
    try LMDBAccountStore.restore(from: backup, into: restored, secretsKey: key, now: 3_000)
    let store = try LMDBAccountStore(directory: restored, secretsKey: key)
    // With the backup's drift (0) the window reaches step 111 at time 3300: the code used above must be refused.
    #expect(try store.recordAcceptedStep(111, for: alice, credential: enrolledCredential, at: 3_300) == .replayed)
    #expect(try store.recordAcceptedStep(112, for: alice, credential: enrolledCredential, at: 3_330) == .accepted)
}

@Test func backup_overAnExistingFileOrALink_isRefusedAndNothingFollowed() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    let existing = fixture.directory.path + "/existing"
    close(open(existing, O_CREAT | O_WRONLY, 0o600))
    guard case .storageFailure = storeError({ try store.backup(to: existing) }) else { return }
    #expect(fileSize(existing) == 0)

    let victim = fixture.directory.path + "/victim"
    let link = fixture.directory.path + "/link"
    #expect(symlink(victim, link) == 0)
    guard case .storageFailure = storeError({ try store.backup(to: link) }) else { return }
    #expect(access(victim, F_OK) != 0, "the link was followed")
}

@Test func backup_intoADirectoryOthersCanWrite_isRefused() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    let shared = fixture.directory.path + "/shared"
    #expect(mkdir(shared, 0o700) == 0 && chmod(shared, 0o1777) == 0)
    guard case .storageFailure(let message) = storeError({ try store.backup(to: shared + "/backup") }) else { return }
    #expect(message.contains("writable by group or others"))
    #expect(access(shared + "/backup", F_OK) != 0)
}

@Test func restore_intoAStateDirectoryWithADatabase_isRefused() throws {
    let fixture = StoreFixture()
    let backup = fixture.directory.path + "/store.backup"
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        try store.backup(to: backup)
    }
    let before = fileSize(fixture.path + "/data.mdb")
    guard
        case .storageFailure(let message) = storeError({
            try LMDBAccountStore.restore(from: backup, into: fixture.path, secretsKey: nil, now: 3_000)
        })
    else { return }
    #expect(message.contains("already holds a database"))
    #expect(fileSize(fixture.path + "/data.mdb") == before)
}

/// A backup of a store with 200 accounts, and its key, for the restore refusals below.
private func takeBackup(_ fixture: StoreFixture) throws -> (backup: String, key: SecretsKey) {
    let backup = fixture.directory.path + "/store.backup"
    let store = try fixture.open()
    for index in 0..<200 { try store.create(makeAccount("user\(index)")) }
    try store.backup(to: backup)
    return (backup, try SecretsKey.load(path: fixture.path + "/secrets.key", create: false))
}

private func copy(_ source: String, to target: String, length: Int? = nil) throws {
    let input = open(source, O_RDONLY)
    var bytes = [UInt8](repeating: 0, count: fileSize(source))
    #expect(bytes.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) } == bytes.count)
    close(input)
    let descriptor = open(target, O_CREAT | O_EXCL | O_WRONLY, 0o600)
    let kept = Array(bytes.prefix(length ?? bytes.count))
    #expect(kept.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } == kept.count)
    close(descriptor)
}

private func isEmptyDirectory(_ path: String) -> Bool {
    guard let stream = opendir(path) else { return false }
    defer { closedir(stream) }
    var count = 0
    while readdir(stream) != nil { count += 1 }
    return count == 2
}

@Test func restore_truncatedBackup_isRefusedAndLeavesTheDirectoryAsItWas_thenTheGoodOneRestores() throws {
    let fixture = StoreFixture()
    let (backup, key) = try takeBackup(fixture)
    let truncated = fixture.directory.path + "/truncated.backup"
    try copy(backup, to: truncated, length: fileSize(backup) / 2)
    let restored = fixture.directory.path + "/restored"
    guard
        case .storageFailure(let message) = storeError({
            try LMDBAccountStore.restore(from: truncated, into: restored, secretsKey: key, now: 3_000)
        })
    else { return }
    #expect(message.contains("cannot restore the backup \(truncated): it is truncated"), "\(message)")
    #expect(isEmptyDirectory(restored), "the failed restore left files behind")

    try LMDBAccountStore.restore(from: backup, into: restored, secretsKey: key, now: 3_000)
    #expect(try LMDBAccountStore(directory: restored, secretsKey: key).check().accounts == 200)
}

@Test func restore_emptyBackup_orOneWithoutASchemaVersion_isRefused() throws {
    let fixture = StoreFixture()
    let key = try SecretsKey(bytes: Array(repeating: 9, count: 32), path: fixture.directory.path + "/key")
    let empty = fixture.directory.path + "/empty.backup"
    close(open(empty, O_CREAT | O_EXCL | O_WRONLY, 0o600))
    let restored = fixture.directory.path + "/restored"
    guard
        case .storageFailure(let emptyMessage) = storeError({
            try LMDBAccountStore.restore(from: empty, into: restored, secretsKey: key, now: 3_000)
        })
    else { return }
    #expect(emptyMessage.contains("the backup \(empty) is empty"), "\(emptyMessage)")

    // An LMDB file that is not a twofactord store: no meta database, no schema version.
    let foreign = fixture.directory.path + "/foreign.backup"
    do {
        let environment = try Environment(path: foreign, mapSize: 1 << 20, maxDatabases: 2, flags: [.noSubdirectory])
        let transaction = try environment.beginTransaction()
        try transaction.put([1], for: [1], in: try transaction.openDatabase(named: "other"))
        try transaction.commit()
    }
    guard
        case .storageFailure(let foreignMessage) = storeError({
            try LMDBAccountStore.restore(from: foreign, into: restored, secretsKey: key, now: 3_000)
        })
    else { return }
    #expect(foreignMessage.contains("holds no schema version"), "\(foreignMessage)")
    #expect(isEmptyDirectory(restored))
}

@Test func restore_withAnotherKeyOrWithoutOne_isRefusedBeforeAnythingIsWritten() throws {
    let fixture = StoreFixture()
    let (backup, _) = try takeBackup(fixture)
    let restored = fixture.directory.path + "/restored"
    let other = try SecretsKey(bytes: Array(repeating: 1, count: 32), path: fixture.directory.path + "/other.key")
    guard
        case .storageFailure(let wrong) = storeError({
            try LMDBAccountStore.restore(from: backup, into: restored, secretsKey: other, now: 3_000)
        })
    else { return }
    #expect(wrong.contains("was sealed with another key than \(other.path)"), "\(wrong)")
    guard
        case .storageFailure(let missing) = storeError({
            try LMDBAccountStore.restore(from: backup, into: restored, secretsKey: nil, now: 3_000)
        })
    else { return }
    #expect(missing.contains("a restore needs the key"), "\(missing)")
    #expect(isEmptyDirectory(restored))
}

@Test func restore_overAnEmptiedDataFile_withTheDirectoryKey_bringsTheStoreBack() throws {
    let fixture = StoreFixture()
    let (backup, _) = try takeBackup(fixture)
    #expect(truncate(fixture.path + "/data.mdb", 0) == 0)
    try LMDBAccountStore.restore(from: backup, into: fixture.path, secretsKey: nil, now: 3_000)
    #expect(try fixture.open().check().accounts == 200)
}

/// The daemon, killed at any moment of `--restore-from`, must never find the backup's replay steps in place:
/// the file a restore renames to `data.mdb` already has them raised. Read-only first, so that nothing but the
/// restore can have raised them, then as the daemon opens it.
@Test func restore_putsInPlaceADataFileWhoseReplayStepsAreAlreadyRaised() throws {
    let fixture = StoreFixture()
    let backup = fixture.directory.path + "/store.backup"
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        try store.create(makeAccount("bob"))
        _ = try store.recordAcceptedStep(7, for: accountName("alice"), credential: enrolledCredential, at: 1_000)
        let bob = accountName("bob")
        _ = try store.recordAcceptedStep(
            8,
            for: bob,
            authenticator: .enrolled,
            credential: enrolledCredential,
            drift: 2,
            at: 1_000
        )
        try store.backup(to: backup)
    }
    #expect(truncate(fixture.path + "/data.mdb", 0) == 0)
    try LMDBAccountStore.restore(from: backup, into: fixture.path, secretsKey: nil, now: 3_000)
    // LMDB must not have one file open twice in a process: the staged store was closed before the rename.
    #expect(!openFiles().contains { $0.hasPrefix(fixture.path + "/restoring/") }, "\(openFiles())")

    // At time 3000 the current step is 100: the largest drift (10) and one step more may have been used, whatever
    // drift the backup holds (bob's is 2).
    let expected = ["alice": UInt64(111), "bob": 111]
    for readOnly in [true, false] {
        let store = try LMDBAccountStore(directory: fixture.path, readOnly: readOnly)
        for (name, step) in expected {
            #expect(
                try store.account(named: accountName(name))?.lastAcceptedStep == step,
                "\(name), read-only \(readOnly)"
            )
        }
    }
    #expect(access(fixture.path + "/restoring", F_OK) != 0, "the restore left its staging directory")
}

/// What this process's file descriptors point at.
private func openFiles() -> [String] {
    var targets: [String] = []
    guard let stream = opendir("/proc/self/fd") else { return targets }
    defer { closedir(stream) }
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/fd/" + name, &buffer, buffer.count - 1)
        if length > 0 {
            targets.append(String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }
    return targets
}

/// The names and sizes of the files in `path` and one level below.
private func listing(_ path: String) -> [String: Int] {
    var found: [String: Int] = [:]
    guard let stream = opendir(path) else { return found }
    defer { closedir(stream) }
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != ".", name != ".." else { continue }
        found[name] = fileSize(path + "/" + name)
        for (inner, size) in listing(path + "/" + name) { found[name + "/" + inner] = size }
    }
    return found
}

/// What a restore killed before its rename leaves: its staged copy, with the backup's replay steps, and no
/// `data.mdb`. Neither the daemon nor `--check` may take that for a directory without a store (the daemon
/// would make a new, empty one); both say to restore again, and `--check` writes nothing.
@Test func restore_killedBeforeItsRename_isRefusedAtOpenAndCheck_sayingToRestoreAgain() throws {
    let fixture = StoreFixture()
    let (backup, key) = try takeBackup(fixture)
    let target = fixture.directory.path + "/target"
    #expect(mkdir(target, 0o700) == 0 && mkdir(target + "/restoring", 0o700) == 0)
    try copy(backup, to: target + "/restoring/data.mdb")
    let left = listing(target)

    for readOnly in [true, false] {
        guard
            case .storageFailure(let message) = storeError({
                try LMDBAccountStore(directory: target, secretsKey: key, readOnly: readOnly)
            })
        else { return }
        #expect(message.contains("a restore into \(target) did not finish"), "\(message)")
        #expect(message.contains("--restore-from"), "\(message)")
        #expect(listing(target) == left, "read-only \(readOnly) changed the directory")
    }

    // A retry that fails (a mistyped backup path, a damaged backup) keeps the mark: the directory is still
    // refused, never taken for a new store.
    for bad in [fixture.directory.path + "/no-such.backup", fixture.directory.path + "/empty.backup"] {
        if bad.hasSuffix("empty.backup") { #expect(creat(bad, 0o600) >= 0) }
        #expect(
            storeError({ try LMDBAccountStore.restore(from: bad, into: target, secretsKey: key, now: 3_000) }) != nil
        )
        guard
            case .storageFailure(let message) = storeError({ try LMDBAccountStore(directory: target, secretsKey: key) })
        else { return }
        #expect(message.contains("a restore into \(target) did not finish"), "\(message)")
    }

    #expect(try LMDBAccountStore.restore(from: backup, into: target, secretsKey: key, now: 3_000) == 200)
    #expect(listing(target).keys.sorted() == ["data.mdb"])
    #expect(try LMDBAccountStore(directory: target, secretsKey: key).check().accounts == 200)
}

/// The bytes of every file in `path` but LMDB's lock file, whose reader table every reader uses.
private func contents(_ path: String) -> [String: [UInt8]] {
    var found: [String: [UInt8]] = [:]
    for name in listing(path).keys {
        guard name != "lock.mdb" else {
            found[name] = []
            continue
        }
        let input = open(path + "/" + name, O_RDONLY)
        var bytes = [UInt8](repeating: 0, count: max(0, fileSize(path + "/" + name)))
        if input >= 0 {
            _ = bytes.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            close(input)
        }
        found[name] = bytes
    }
    return found
}

/// The schema version in the `meta` database of the store in `path`, read without a lock file.
private func schemaVersion(in path: String) throws -> [UInt8]? {
    let environment = try Environment(path: path, mapSize: 1 << 20, maxDatabases: 8, flags: [.readOnly, .noLock])
    let transaction = try environment.beginTransaction(readOnly: true)
    return try transaction.get(
        Array("schema-version".utf8),
        in: try transaction.openDatabase(named: "meta", create: false)
    )
}

/// `twofactord --backup` of a store of schema 2, which opening it would upgrade: the state directory stays
/// byte for byte as it was (no lock.mdb is made where there is none), the backup holds schema 2, and a
/// restore upgrades the copy it restores.
@Test func backupOfAStateDirectory_ofAnOlderSchema_changesNothingThere_andRestoresUpgraded() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        _ = try store.recordAcceptedStep(7, for: accountName("alice"), credential: enrolledCredential, at: 1_000)
    }
    try fixture.withRawWrite { transaction in
        let meta = try transaction.openDatabase(named: "meta", create: false)
        try transaction.put([0, 0, 0, 2], for: Array("schema-version".utf8), in: meta)
    }
    let key = try SecretsKey.load(path: fixture.path + "/secrets.key", create: false)
    for withLockFile in [true, false] {
        if !withLockFile { #expect(unlink(fixture.path + "/lock.mdb") == 0) }
        let before = contents(fixture.path)
        let backup = fixture.directory.path + "/schema-2-\(withLockFile).backup"
        #expect(try LMDBAccountStore.backup(of: fixture.path, to: backup) == 2)
        #expect(contents(fixture.path) == before, "the backup changed the state directory")
        #expect(try schemaVersion(in: fixture.path) == [0, 0, 0, 2])
        var info = stat()
        #expect(lstat(backup, &info) == 0 && info.st_mode & 0o777 == 0o600)

        let restored = fixture.directory.path + "/restored-\(withLockFile)"
        #expect(try LMDBAccountStore.restore(from: backup, into: restored, secretsKey: key, now: 3_000) == 1)
        #expect(try schemaVersion(in: restored) == [0, 0, 0, 4])
        let store = try LMDBAccountStore(directory: restored, secretsKey: key)
        #expect(try store.account(named: accountName("alice"))?.lastAcceptedStep == 111)
    }
}

/// A compacted backup has no free page, so a store opened on it has a map no larger than its data when that is
/// more than the initial map: the schema upgrade that opening it runs needs new pages, and must grow the map as
/// every other write does, not fail as if the database had reached its largest size.
@Test func restore_ofAnOlderSchemaBackupLargerThanTheInitialMap_growsTheMapAndUpgrades() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
    }
    do {
        // 24 MiB of data (standing in for a long audit trail), more than the store's initial 16 MiB map.
        let environment = try Environment(path: fixture.path, mapSize: 64 << 20, maxDatabases: 12)
        let transaction = try environment.beginTransaction()
        let filler = try transaction.openDatabase(named: "filler")
        for index in 0..<24 {
            try transaction.put([UInt8](repeating: 1, count: 1 << 20), for: [UInt8(index)], in: filler)
        }
        let meta = try transaction.openDatabase(named: "meta", create: false)
        try transaction.put([0, 0, 0, 3], for: Array("schema-version".utf8), in: meta)
        try transaction.commit()
    }
    let key = try SecretsKey.load(path: fixture.path + "/secrets.key", create: false)
    let backup = fixture.directory.path + "/schema-3.backup"
    #expect(try LMDBAccountStore.backup(of: fixture.path, to: backup) == 3)
    #expect(fileSize(backup) > 16 << 20)

    let restored = fixture.directory.path + "/restored"
    #expect(try LMDBAccountStore.restore(from: backup, into: restored, secretsKey: key, now: 3_000) == 1)
    #expect(try schemaVersion(in: restored) == [0, 0, 0, 4])
    let store = try LMDBAccountStore(directory: restored, secretsKey: key)
    #expect(try store.check().accounts == 1)
}

/// A missing or empty state directory, an empty data.mdb, and what an unfinished restore left: `--backup`
/// refuses each, saying why, and creates nothing, neither a store to copy nor the backup.
@Test func backupOfAStateDirectory_withoutAStore_isRefused_andCreatesNothing() throws {
    let fixture = StoreFixture()
    let backup = fixture.directory.path + "/store.backup"
    let missing = fixture.directory.path + "/missing"
    let empty = fixture.directory.path + "/empty"
    let emptied = fixture.directory.path + "/emptied"
    let unfinished = fixture.directory.path + "/unfinished"
    for path in [empty, emptied, unfinished] { #expect(mkdir(path, 0o700) == 0) }
    #expect(creat(emptied + "/data.mdb", 0o600) >= 0)
    #expect(mkdir(unfinished + "/restoring", 0o700) == 0)
    let cases = [
        (missing, "there is no store in \(missing): the directory does not exist"),
        (empty, "there is no store in \(empty) (no data.mdb): check --state-dir"),
        (emptied, "\(emptied)/data.mdb is empty"),
        (unfinished, "a restore into \(unfinished) did not finish"),
    ]
    for (path, expected) in cases {
        let before = listing(path)
        guard case .storageFailure(let message) = storeError({ try LMDBAccountStore.backup(of: path, to: backup) })
        else { continue }
        #expect(message.contains(expected), "\(message)")
        #expect(listing(path) == before, "\(path) changed")
        #expect(access(missing, F_OK) != 0, "the missing state directory was created")
        #expect(access(backup, F_OK) != 0, "a backup was written")
    }
}

/// Without `lock.mdb` a backup reads without LMDB's lock file, so no writer may start meanwhile: it holds the
/// state directory's lock shared while it copies, and is refused while a daemon or writing job holds it.
/// With `lock.mdb` (a daemon serving) it registers as a reader there, and runs beside the lock's holder.
/// `--check` opens the store read-only; without `lock.mdb` it reads without LMDB's lock file, so it locks the
/// directory shared as a backup does.
@Test func aReadOnlyStore_withoutItsLockFile_isRefusedWhileAWriterHoldsTheDirectory_andHoldsItOffWhileOpen() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
    }
    #expect(unlink(fixture.path + "/lock.mdb") == 0)
    var held: StateDirectoryLock? = try StateDirectoryLock(fixture.path)
    guard
        case .storageFailure(let message) = storeError({
            _ = try LMDBAccountStore(directory: fixture.path, readOnly: true)
        })
    else { return }
    #expect(message.contains("another twofactord is using \(fixture.path)"), "\(message)")
    #expect(message.contains("check it once it is serving or done"), "\(message)")

    #expect(held != nil)
    held = nil
    do {
        let checked = try LMDBAccountStore(directory: fixture.path, readOnly: true)
        #expect(try checked.account(named: accountName("alice")) != nil)
        guard case .storageFailure(let refused) = storeError({ _ = try StateDirectoryLock(fixture.path) }) else {
            return
        }
        #expect(refused.contains("another twofactord is using"), "\(refused)")
    }
    // The read-only store let the directory go: a writer may take it again.
    #expect(throws: Never.self) { _ = try StateDirectoryLock(fixture.path) }
}

@Test func backupOfAStateDirectory_withoutItsLockFile_isRefusedWhileAWriterHoldsTheDirectory() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
    }
    var held: StateDirectoryLock? = try StateDirectoryLock(fixture.path)
    let served = fixture.directory.path + "/served.backup"
    #expect(try LMDBAccountStore.backup(of: fixture.path, to: served) == LMDBAccountStore.schemaVersion)

    #expect(unlink(fixture.path + "/lock.mdb") == 0)
    let backup = fixture.directory.path + "/store.backup"
    guard case .storageFailure(let message) = storeError({ try LMDBAccountStore.backup(of: fixture.path, to: backup) })
    else { return }
    #expect(message.contains("another twofactord is using \(fixture.path)"), "\(message)")
    #expect(access(backup, F_OK) != 0)

    #expect(held != nil)
    held = nil
    #expect(try LMDBAccountStore.backup(of: fixture.path, to: backup) == LMDBAccountStore.schemaVersion)
    // The backup let the directory go: a writer may take it again.
    #expect(throws: Never.self) { _ = try StateDirectoryLock(fixture.path) }
}

/// A backup whose secrets key check was taken out would be sealed again as plaintext under whatever key the
/// restore is given, its secrets lost while `--check` says ok: every backup of schema 2 and later has one.
@Test func restore_ofABackupWithoutItsKeyCheck_isRefusedBeforeAnythingIsWritten() throws {
    let fixture = StoreFixture()
    let (backup, key) = try takeBackup(fixture)
    do {
        let environment = try Environment(path: backup, mapSize: 1 << 26, maxDatabases: 16, flags: [.noSubdirectory])
        let transaction = try environment.beginTransaction()
        _ = try transaction.delete(Array("secrets-key-check".utf8), in: try transaction.openDatabase(named: "meta"))
        try transaction.commit()
    }
    let restored = fixture.directory.path + "/restored"
    guard
        case .storageFailure(let message) = storeError({
            try LMDBAccountStore.restore(from: backup, into: restored, secretsKey: key, now: 3_000)
        })
    else { return }
    #expect(message.contains("has lost its secrets key check"), "\(message)")
    #expect(isEmptyDirectory(restored))
}

/// What a restore reads becomes every account's password hash and two-factor state: a file or folder someone
/// else could write is refused.
@Test func restore_ofABackupOthersCouldHaveWritten_isRefused() throws {
    let fixture = StoreFixture()
    let (backup, key) = try takeBackup(fixture)
    let restored = fixture.directory.path + "/restored"
    func refusal() -> String {
        guard
            case .storageFailure(let message) = storeError({
                try LMDBAccountStore.restore(from: backup, into: restored, secretsKey: key, now: 3_000)
            })
        else { return "no refusal" }
        return message
    }
    #expect(chmod(backup, 0o620) == 0)
    #expect(refusal().contains("writable by group or others, who could have changed it"), "\(refusal())")
    #expect(chmod(backup, 0o600) == 0)
    if geteuid() == 0 {
        #expect(chown(backup, 1000, 1000) == 0)
        #expect(refusal().contains("owned by another user"), "\(refusal())")
        #expect(chown(backup, 0, 0) == 0)
    }
    #expect(chmod(fixture.directory.path, 0o777) == 0)
    #expect(refusal().contains("is writable by group or others, who could replace it"), "\(refusal())")
    #expect(chmod(fixture.directory.path, 0o700) == 0)
    #expect(isEmptyDirectory(restored) || access(restored, F_OK) != 0)
    #expect(try LMDBAccountStore.restore(from: backup, into: restored, secretsKey: key, now: 3_000) == 200)
}

/// Another user's directory, even one only it can write: that user could rename or replace the backup.
@Test func backup_intoAnotherUsersDirectory_isRefused() throws {
    guard geteuid() == 0 else { return }
    let fixture = StoreFixture()
    let store = try fixture.open()
    let theirs = fixture.directory.path + "/theirs"
    #expect(mkdir(theirs, 0o755) == 0 && chown(theirs, 1000, 1000) == 0)
    guard case .storageFailure(let message) = storeError({ try store.backup(to: theirs + "/backup") }) else { return }
    #expect(message.contains("belongs to another user"), "\(message)")
    #expect(access(theirs + "/backup", F_OK) != 0)
}
