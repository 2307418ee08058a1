import AccountStore
import Glibc
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
    try LMDBAccountStore.restore(from: backup, into: restored)
    let store = try LMDBAccountStore(directory: restored, secretsKey: key)
    #expect(try store.check().accounts == 1)
    #expect(try store.account(named: accountName("alice"))?.totp == enrolledCredential)
    // At time 3000 with a 30 s period the current step is 100: 101 (one step of drift) may have been used.
    #expect(try store.raiseReplaySteps(now: 3_000) == 1)
    let alice = accountName("alice")
    #expect(try store.recordAcceptedStep(101, for: alice, credential: enrolledCredential, at: 3_000) == .replayed)
    #expect(try store.recordAcceptedStep(102, for: alice, credential: enrolledCredential, at: 3_030) == .accepted)
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
            try LMDBAccountStore.restore(from: backup, into: fixture.path)
        })
    else { return }
    #expect(message.contains("already holds a database"))
    #expect(fileSize(fixture.path + "/data.mdb") == before)
}
