import AccountStore
import Glibc
import Testing
import TestSupport

@testable import LMDBAccountStore
@testable import StoredRecords

// A store is made only in a directory holding neither data.mdb nor secrets.key; a lost, emptied or truncated
// database, or a database without its key, is refused with what to do, and nothing is written (audit round b,
// findings 1 to 3).

private func refusal(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ open: () throws -> LMDBAccountStore
)
    -> String
{
    guard case .storageFailure(let message) = storeError(sourceLocation: sourceLocation, open) else { return "" }
    return message
}

private func names(in directory: String) -> [String] {
    guard let stream = opendir(directory) else { return [] }
    defer { closedir(stream) }
    var names: [String] = []
    while let entry = readdir(stream) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) {
            String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

private func populated(_ fixture: StoreFixture) throws {
    let store = try fixture.open()
    for index in 0..<200 { try store.create(makeAccount("user\(index)")) }
}

@Test func open_emptyDataFileBesideItsKey_isRefused_andNotMadeANewStore() throws {
    let fixture = StoreFixture()
    try populated(fixture)
    #expect(truncate(fixture.path + "/data.mdb", 0) == 0)
    let message = refusal { try fixture.open() }
    #expect(message.contains("\(fixture.path)/data.mdb is empty"), "\(message)")
    #expect(message.contains("--restore-from"))
    var info = stat()
    #expect(stat(fixture.path + "/data.mdb", &info) == 0 && info.st_size == 0, "a new store was made")
}

@Test func open_missingDataFileBesideItsKey_isRefused_andNotMadeANewStore() throws {
    let fixture = StoreFixture()
    try populated(fixture)
    #expect(unlink(fixture.path + "/data.mdb") == 0)
    let message = refusal { try fixture.open() }
    #expect(
        message.contains("data.mdb is missing but \(fixture.path)/secrets.key and \(fixture.path)/lock.mdb are there"),
        "\(message)"
    )
    #expect(message.contains("move secrets.key and lock.mdb out of"))
    #expect(access(fixture.path + "/data.mdb", F_OK) != 0, "a new store was made")
}

@Test func open_missingDataFile_withTheKeyElsewhere_isRefusedByItsLockFile() throws {
    let fixture = StoreFixture()
    // As with a systemd credential: the directory never holds the key.
    let key = try SecretsKey(bytes: Array(repeating: 5, count: 32), path: fixture.directory.path + "/credential")
    do {
        let store = try LMDBAccountStore(directory: fixture.path, secretsKey: key)
        try store.create(makeAccount("alice"))
    }
    #expect(unlink(fixture.path + "/data.mdb") == 0)
    let message = refusal { try LMDBAccountStore(directory: fixture.path, secretsKey: key) }
    #expect(message.contains("data.mdb is missing but \(fixture.path)/lock.mdb is there"), "\(message)")
    #expect(message.contains("move lock.mdb out of"))
    #expect(access(fixture.path + "/data.mdb", F_OK) != 0, "a new store was made")
}

@Test func open_truncatedDataFile_isRefused_sayingToRestore() throws {
    let fixture = StoreFixture()
    try populated(fixture)
    #expect(truncate(fixture.path + "/data.mdb", 3 * 4096) == 0)
    let message = refusal { try fixture.open() }
    #expect(message.contains("\(fixture.path)/data.mdb is truncated"), "\(message)")
    #expect(message.contains("restore it from a backup"))
    #expect(refusal { try LMDBAccountStore(directory: fixture.path, readOnly: true) }.contains("is truncated"))
}

@Test func open_databaseWithoutItsKey_isRefused_andNoKeyIsWritten() throws {
    let fixture = StoreFixture()
    try populated(fixture)
    #expect(unlink(fixture.path + "/secrets.key") == 0)
    for readOnly in [false, true] {
        let message = refusal { try LMDBAccountStore(directory: fixture.path, readOnly: readOnly) }
        #expect(message.contains("\(fixture.path)/secrets.key is missing"), "\(message)")
        #expect(access(fixture.path + "/secrets.key", F_OK) != 0, "a new key was written beside the database")
    }
}

@Test func openReadOnly_createsNothing_andWritesFail() throws {
    let fixture = StoreFixture()
    #expect(refusal { try LMDBAccountStore(directory: fixture.path, readOnly: true) }.contains("there is no store"))
    #expect(access(fixture.path, F_OK) != 0, "the state directory was created")
    #expect(mkdir(fixture.path, 0o700) == 0)
    #expect(refusal { try LMDBAccountStore(directory: fixture.path, readOnly: true) }.contains("there is no store"))
    #expect(names(in: fixture.path).isEmpty)

    try populated(fixture)
    // Without lock.mdb no process has the store open, and a read-only open does not make one.
    #expect(unlink(fixture.path + "/lock.mdb") == 0)
    let store = try LMDBAccountStore(directory: fixture.path, readOnly: true)
    #expect(try store.check().accounts == 200)
    #expect(names(in: fixture.path) == ["data.mdb", "secrets.key"])
    guard case .storageFailure = storeError({ try store.create(makeAccount("new")) }) else { return }
}

@Test func open_freshDirectory_makesAStoreWithItsKey_andAnInterruptedFirstStartIsSetUp() throws {
    let fixture = StoreFixture()
    do { _ = try fixture.open() }
    #expect(names(in: fixture.path) == ["data.mdb", "lock.mdb", "secrets.key"])

    // A first start that died between LMDB's first pages and the schema: an empty environment beside the key.
    let interrupted = StoreFixture()
    do { _ = try interrupted.open() }
    #expect(unlink(interrupted.path + "/data.mdb") == 0 && unlink(interrupted.path + "/lock.mdb") == 0)
    try interrupted.withRawWrite { _ in }
    let store = try interrupted.open()
    #expect(try store.organizations(after: nil, limit: 10).map(\.name) == [.default])
}
