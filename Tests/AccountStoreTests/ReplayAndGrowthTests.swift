import AccountStore
import Dispatch
import Glibc
import LMDB
import LMDBAccountStore
import OneTimePassword
import Synchronization
import Testing
import TestSupport

@Test func recordAcceptedStep_acceptsOnlyLaterSteps() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    let alice = accountName("alice")
    try store.create(makeAccount("alice"))
    try store.update(alice) { account in
        account.failureCount = 1
        account.lastFailureAt = 1_500
    }

    #expect(try store.recordAcceptedStep(100, for: alice, credential: enrolledCredential, at: 3_000) == .accepted)
    var stored = try #require(try store.account(named: alice))
    #expect(stored.lastAcceptedStep == 100 && stored.failureCount == 0 && stored.updatedAt == 3_000)

    #expect(try store.recordAcceptedStep(100, for: alice, credential: enrolledCredential, at: 3_001) == .replayed)
    #expect(try store.recordAcceptedStep(99, for: alice, credential: enrolledCredential, at: 3_002) == .replayed)
    #expect(try store.recordAcceptedStep(0, for: alice, credential: enrolledCredential, at: 3_003) == .replayed)
    stored = try #require(try store.account(named: alice))
    #expect(stored.lastAcceptedStep == 100 && stored.updatedAt == 3_000)

    #expect(try store.recordAcceptedStep(101, for: alice, credential: enrolledCredential, at: 3_030) == .accepted)
    #expect(try store.account(named: alice)?.lastAcceptedStep == 101)
}

@Test func recordAcceptedStep_afterTheCredentialChanged_isRefused() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    let alice = accountName("alice")
    try store.create(makeAccount("alice"))
    let other = TOTPCredential(secret: Array(repeating: 7, count: 20), parameters: .standard)
    // A reset or re-enrollment between the code check and the write: the code was for the old secret.
    #expect(try store.recordAcceptedStep(100, for: alice, credential: other, at: 3_000) == .replayed)
    #expect(try store.account(named: alice)?.lastAcceptedStep == nil)
    #expect(try store.recordAcceptedStep(100, for: alice, credential: enrolledCredential, at: 3_000) == .accepted)
}

@Test func recordAcceptedStep_unknownName_throwsNotFound() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    guard case .notFound = storeError({ try store.recordAcceptedStep(1, for: accountName("ghost"), credential: enrolledCredential, at: 1) }) else {
        Issue.record("an unknown name did not throw notFound")
        return
    }
}

@Test func recordAcceptedStep_replayGuardSurvivesRestart() throws {
    let fixture = StoreFixture()
    let alice = accountName("alice")
    do {
        let store = try fixture.open()
        try store.create(makeAccount("alice"))
        #expect(try store.recordAcceptedStep(5_000, for: alice, credential: enrolledCredential, at: 1) == .accepted)
    }
    let store = try fixture.open()
    #expect(try store.recordAcceptedStep(5_000, for: alice, credential: enrolledCredential, at: 2) == .replayed)
    #expect(try store.recordAcceptedStep(4_999, for: alice, credential: enrolledCredential, at: 2) == .replayed)
    #expect(try store.recordAcceptedStep(5_001, for: alice, credential: enrolledCredential, at: 2) == .accepted)
}

@Test func recordAcceptedStep_sameStepFromManyThreads_isAcceptedExactlyOnce() throws {
    let fixture = StoreFixture()
    let store = try fixture.open()
    let alice = accountName("alice")
    try store.create(makeAccount("alice"))
    for step in UInt64(1)...5 {
        let accepted = Atomic(0)
        let replayed = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: 32) { _ in
            switch try? store.recordAcceptedStep(step * 10, for: alice, credential: enrolledCredential, at: 1) {
            case .accepted: accepted.add(1, ordering: .relaxed)
            case .replayed: replayed.add(1, ordering: .relaxed)
            case nil: break
            }
        }
        #expect(accepted.load(ordering: .relaxed) == 1)
        #expect(replayed.load(ordering: .relaxed) == 31)
    }
}

@Test func smallMap_growsAsAccountsAreAdded() throws {
    let fixture = StoreFixture()
    let count = 2_000
    do {
        let store = try fixture.open(initialMapSize: 64 << 10)
        for index in 0..<count {
            try store.create(makeAccount("user\(index)"))
        }
        // Updates copy pages too, so they must also survive a full map.
        for index in stride(from: 0, to: count, by: 7) {
            try store.update(accountName("user\(index)")) { $0.passwordHash = String(repeating: "x", count: 200) }
        }
        #expect(try store.accounts(in: nil, after: nil, limit: count + 1).count == count)
        #expect(try store.account(named: accountName("user1999"))?.name.value == "user1999")
    }
    let environment = try Environment(path: fixture.path, mapSize: 0, maxDatabases: 8)
    #expect(try environment.info().mapSize > 64 << 10)
}

@Test func smallMap_growsWhileOtherThreadsRead() throws {
    let fixture = StoreFixture()
    let store = try fixture.open(initialMapSize: 64 << 10)
    try store.create(makeAccount("reader"))
    let failures = Atomic(0)
    DispatchQueue.concurrentPerform(iterations: 8) { worker in
        for index in 0..<150 {
            do {
                if worker.isMultiple(of: 2) {
                    try store.create(makeAccount("w\(worker)-\(index)"))
                } else if try store.account(named: accountName("reader")) == nil {
                    failures.add(1, ordering: .relaxed)
                }
            } catch {
                failures.add(1, ordering: .relaxed)
            }
        }
    }
    #expect(failures.load(ordering: .relaxed) == 0)
    #expect(try store.accounts(in: nil, after: nil, limit: 10_000).count == 4 * 150 + 1)
}

@Test func open_createsAMissingDirectoryWithMode0700() throws {
    let fixture = StoreFixture()
    _ = try fixture.open()
    var info = stat()
    #expect(stat(fixture.path, &info) == 0)
    #expect(info.st_mode & 0o777 == 0o700)
}

@Test(arguments: [0o777, 0o770, 0o702] as [mode_t])
func open_directoryWritableByOthers_isRefused(mode: mode_t) throws {
    let fixture = StoreFixture()
    #expect(mkdir(fixture.path, 0o700) == 0)
    #expect(chmod(fixture.path, mode) == 0)
    let error = storeError { try fixture.open() }
    guard case .storageFailure(let message) = error else { Issue.record("got \(String(describing: error))"); return }
    #expect(message.contains("chmod 700 \(fixture.path)"))
    // Nothing was created in the refused directory.
    #expect(access(fixture.path + "/data.mdb", F_OK) != 0)
}

@Test func open_pathThatIsAFile_isRefused() throws {
    let fixture = StoreFixture()
    let descriptor = open(fixture.path, O_CREAT | O_WRONLY, 0o600)
    close(descriptor)
    guard case .storageFailure(let message) = storeError({ try fixture.open() }) else {
        Issue.record("a file was accepted as the state directory")
        return
    }
    #expect(message.contains("not a directory"))
}
