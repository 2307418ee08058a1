import AccountStore
import Foundation
import Glibc
import LMDBAccountStore
import Testing
import TestSupport

// The state directory and the LMDB files are checked before LMDB opens anything: no link is followed,
// and files or directories of another user, or readable by others, are refused (issue 7, point 7).

private func refusal(_ fixture: StoreFixture, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    guard case .storageFailure(let message) = storeError(sourceLocation: sourceLocation, { try fixture.open() })
    else { return "" }
    return message
}

@Test func open_symlinkedStateDirectory_isRefusedAndTargetUntouched() throws {
    let fixture = StoreFixture()
    let target = fixture.directory.path + "/elsewhere"
    #expect(mkdir(target, 0o700) == 0)
    #expect(symlink(target, fixture.path) == 0)
    let message = refusal(fixture)
    #expect(message.contains("symbolic link"))
    #expect(message.contains("--state-dir"))
    #expect(access(target + "/data.mdb", F_OK) != 0)
}

@Test func open_plantedDataFileSymlink_isRefusedAndNotFollowed() throws {
    let fixture = StoreFixture()
    #expect(mkdir(fixture.path, 0o700) == 0)
    // A file an attacker wants the daemon to overwrite, and the link planted in its place.
    let victim = fixture.directory.path + "/victim"
    let descriptor = open(victim, O_CREAT | O_WRONLY, 0o644)
    #expect(write(descriptor, "precious", 8) == 8)
    close(descriptor)
    #expect(symlink(victim, fixture.path + "/data.mdb") == 0)
    let message = refusal(fixture)
    #expect(message.contains("data.mdb is a symbolic link"))
    var info = stat()
    #expect(stat(victim, &info) == 0)
    #expect(info.st_size == 8)
}

@Test func open_danglingLockFileSymlink_isRefusedAndNothingCreated() throws {
    let fixture = StoreFixture()
    #expect(mkdir(fixture.path, 0o700) == 0)
    let target = fixture.directory.path + "/created-through-link"
    #expect(symlink(target, fixture.path + "/lock.mdb") == 0)
    #expect(refusal(fixture).contains("lock.mdb is a symbolic link"))
    #expect(access(target, F_OK) != 0)
}

@Test func open_dataFileOwnedByAnotherUser_isRefused() throws {
    let fixture = StoreFixture()
    _ = try fixture.open()
    // The test runs as root in CI; as another user it cannot give a file away, so it checks what it can.
    guard geteuid() == 0 else { return }
    #expect(chown(fixture.path + "/data.mdb", 65534, 65534) == 0)
    let message = refusal(fixture)
    #expect(message.contains("data.mdb is owned by uid 65534"))
    #expect(message.contains("chown 0"))
}

@Test(arguments: [0o644, 0o640, 0o604, 0o700] as [mode_t])
func open_dataFileWithLooseMode_isRefused(mode: mode_t) throws {
    let fixture = StoreFixture()
    _ = try fixture.open()
    #expect(chmod(fixture.path + "/data.mdb", mode) == 0)
    #expect(refusal(fixture).contains("chmod 600 \(fixture.path)/data.mdb"))
}

@Test func open_lockFileWithLooseMode_isRefused() throws {
    let fixture = StoreFixture()
    _ = try fixture.open()
    #expect(chmod(fixture.path + "/lock.mdb", 0o666) == 0)
    #expect(refusal(fixture).contains("lock.mdb has mode 0666"))
}

@Test func open_dataFileWithASecondHardLink_isRefused() throws {
    let fixture = StoreFixture()
    _ = try fixture.open()
    #expect(link(fixture.path + "/data.mdb", fixture.directory.path + "/second-name") == 0)
    #expect(refusal(fixture).contains("single link"))
}

@Test func open_directoryOwnedByAnotherUser_isRefused() throws {
    guard geteuid() == 0 else { return }
    let fixture = StoreFixture()
    #expect(mkdir(fixture.path, 0o700) == 0)
    #expect(chown(fixture.path, 65534, 65534) == 0)
    let message = refusal(fixture)
    #expect(message.contains("owned by uid 65534"))
    #expect(access(fixture.path + "/data.mdb", F_OK) != 0)
}

@Test(arguments: [0o750, 0o755, 0o500] as [mode_t])
func open_directoryWithModeOtherThan0700_isRefused(mode: mode_t) throws {
    let fixture = StoreFixture()
    #expect(mkdir(fixture.path, 0o700) == 0)
    #expect(chmod(fixture.path, mode) == 0)
    #expect(refusal(fixture).contains("chmod 700 \(fixture.path)"))
    #expect(access(fixture.path + "/data.mdb", F_OK) != 0)
}

@Test func open_missingParent_namesTheFlagThatExists() throws {
    let fixture = StoreFixture()
    let error = storeError { try LMDBAccountStore(directory: fixture.directory.path + "/no/such/state") }
    guard case .storageFailure(let message) = error else { return }
    #expect(message.contains("--state-dir"))
    #expect(!message.contains("--state-directory"))
}

@Test func open_newStore_createsFilesWithMode0600() throws {
    let fixture = StoreFixture()
    _ = try fixture.open()
    for name in ["data.mdb", "lock.mdb"] {
        var info = stat()
        #expect(lstat(fixture.path + "/" + name, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600, "\(name)")
        #expect(info.st_uid == geteuid())
    }
}

@Test func stateDirectoryLock_isHeldByOneAtATime_andReleasedWithItsHolder() throws {
    let fixture = StoreFixture()
    var first: StateDirectoryLock? = try StateDirectoryLock(fixture.path)
    // flock locks belong to an open file description, so a second open in this process conflicts too.
    let error = storeError { _ = try StateDirectoryLock(fixture.path) }
    guard case .storageFailure(let message) = error else {
        Issue.record("expected a storage failure, got \(String(describing: error))")
        return
    }
    #expect(message.contains("another twofactord is using \(fixture.path)"))
    #expect(message.contains("stop it first"))
    withExtendedLifetime(first) {}
    first = nil
    #expect(throws: Never.self) { _ = try StateDirectoryLock(fixture.path) }
}

@Test func stateDirectoryLock_addsNoFile_andRefusesALinkedDirectory() throws {
    let fixture = StoreFixture()
    let lock = try StateDirectoryLock(fixture.path)
    #expect(try FileManager.default.contentsOfDirectory(atPath: fixture.path).isEmpty)
    withExtendedLifetime(lock) {}
    let elsewhere = fixture.directory.path + "/elsewhere"
    #expect(mkdir(elsewhere, 0o700) == 0)
    #expect(symlink(elsewhere, fixture.directory.path + "/linked") == 0)
    let error = storeError { _ = try StateDirectoryLock(fixture.directory.path + "/linked") }
    guard case .storageFailure(let message) = error else {
        Issue.record("expected a storage failure, got \(String(describing: error))")
        return
    }
    #expect(message.contains("symbolic link"))
}
