import Glibc
import LMDB
import Testing
import TestSupport

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func openEnvironment(_ directory: TemporaryDirectory, mapSize: Int = 1 << 20) throws -> Environment {
    try Environment(path: directory.path, mapSize: mapSize, maxDatabases: 4)
}

/// Opens (creating) the database `name` in its own committed write transaction.
private func openDatabase(_ environment: Environment, _ name: String = "test") throws -> Database {
    let transaction = try environment.beginTransaction()
    let database = try transaction.openDatabase(named: name)
    try transaction.commit()
    return database
}

@Test func put_thenGet_returnsTheValue() throws {
    let directory = TemporaryDirectory()
    let environment = try openEnvironment(directory)
    let database = try openDatabase(environment)
    let write = try environment.beginTransaction()
    try write.put(bytes("one"), for: bytes("k1"), in: database)
    #expect(try write.get(bytes("k1"), in: database) == bytes("one"))
    try write.commit()

    let read = try environment.beginTransaction(readOnly: true)
    #expect(try read.get(bytes("k1"), in: database) == bytes("one"))
    #expect(try read.get(bytes("missing"), in: database) == nil)
    read.abort()
}

@Test func put_emptyValue_roundTrips() throws {
    let directory = TemporaryDirectory()
    let environment = try openEnvironment(directory)
    let database = try openDatabase(environment)
    let write = try environment.beginTransaction()
    try write.put([], for: bytes("k"), in: database)
    #expect(try write.get(bytes("k"), in: database) == [])
    try write.commit()
}

@Test func delete_removesTheKey_andReportsMissingKeys() throws {
    let directory = TemporaryDirectory()
    let environment = try openEnvironment(directory)
    let database = try openDatabase(environment)
    let write = try environment.beginTransaction()
    try write.put(bytes("v"), for: bytes("k"), in: database)
    #expect(try write.delete(bytes("k"), in: database) == true)
    #expect(try write.delete(bytes("k"), in: database) == false)
    #expect(try write.get(bytes("k"), in: database) == nil)
    try write.commit()
}

@Test func abort_discardsChanges() throws {
    let directory = TemporaryDirectory()
    let environment = try openEnvironment(directory)
    let database = try openDatabase(environment)
    let write = try environment.beginTransaction()
    try write.put(bytes("v"), for: bytes("k"), in: database)
    write.abort()
    let read = try environment.beginTransaction(readOnly: true)
    #expect(try read.get(bytes("k"), in: database) == nil)
}

@Test func transaction_droppedWithoutCommit_isAborted() throws {
    let directory = TemporaryDirectory()
    let environment = try openEnvironment(directory)
    let database = try openDatabase(environment)
    do {
        let write = try environment.beginTransaction()
        try write.put(bytes("v"), for: bytes("k"), in: database)
    }
    // A second write transaction can only begin if the first released LMDB's writer lock.
    let write = try environment.beginTransaction()
    #expect(try write.get(bytes("k"), in: database) == nil)
    write.abort()
}

@Test func commit_survivesClosingAndReopening() throws {
    let directory = TemporaryDirectory()
    do {
        let environment = try openEnvironment(directory)
        let database = try openDatabase(environment)
        let write = try environment.beginTransaction()
        try write.put(bytes("kept"), for: bytes("k"), in: database)
        try write.commit()
    }
    let environment = try openEnvironment(directory)
    let read = try environment.beginTransaction(readOnly: true)
    let database = try read.openDatabase(named: "test", create: false)
    #expect(try read.get(bytes("k"), in: database) == bytes("kept"))
}

@Test func put_noOverwrite_onExistingKey_throwsKeyExists() throws {
    let directory = TemporaryDirectory()
    let environment = try openEnvironment(directory)
    let database = try openDatabase(environment)
    let write = try environment.beginTransaction()
    try write.put(bytes("first"), for: bytes("k"), in: database, flags: .noOverwrite)
    #expect(throws: LMDBError.keyExists) {
        try write.put(bytes("second"), for: bytes("k"), in: database, flags: .noOverwrite)
    }
    #expect(try write.get(bytes("k"), in: database) == bytes("first"))
    try write.commit()
}

@Test func cursor_iteratesInKeyOrder_andSeeksToTheFirstKeyAtOrAfter() throws {
    let directory = TemporaryDirectory()
    let environment = try openEnvironment(directory)
    let database = try openDatabase(environment)
    let write = try environment.beginTransaction()
    for key in ["delta", "alpha", "charlie", "bravo", "echo"] {
        try write.put(bytes(key.uppercased()), for: bytes(key), in: database)
    }
    try write.commit()

    let read = try environment.beginTransaction(readOnly: true)
    let all = try read.withCursor(in: database) { (cursor: borrowing Cursor) throws(LMDBError) in
        var keys: [String] = []
        var entry = try cursor.first()
        while let (key, value) = entry {
            #expect(value == Array(String(decoding: key, as: UTF8.self).uppercased().utf8))
            keys.append(String(decoding: key, as: UTF8.self))
            entry = try cursor.next()
        }
        return keys
    }
    #expect(all == ["alpha", "bravo", "charlie", "delta", "echo"])

    try read.withCursor(in: database) { (cursor: borrowing Cursor) throws(LMDBError) in
        #expect(try cursor.seek(atOrAfter: bytes("charlie"))?.key == bytes("charlie"))
        #expect(try cursor.next()?.key == bytes("delta"))
        #expect(try cursor.seek(atOrAfter: bytes("c"))?.key == bytes("charlie"))
        #expect(try cursor.seek(atOrAfter: bytes("zulu")) == nil)
        #expect(try cursor.last()?.key == bytes("echo"))
        #expect(try cursor.previous()?.key == bytes("delta"))
    }
    #expect(try read.count(in: database) == 5)
}

@Test func cursor_onEmptyDatabase_findsNothing() throws {
    let directory = TemporaryDirectory()
    let environment = try openEnvironment(directory)
    let database = try openDatabase(environment)
    let read = try environment.beginTransaction(readOnly: true)
    try read.withCursor(in: database) { (cursor: borrowing Cursor) throws(LMDBError) in
        #expect(try cursor.first() == nil)
        #expect(try cursor.seek(atOrAfter: bytes("a")) == nil)
    }
}

@Test func put_pastTheMapSize_throwsMapFull_andSucceedsAfterGrowing() throws {
    let directory = TemporaryDirectory()
    let environment = try openEnvironment(directory, mapSize: 64 << 10)
    let database = try openDatabase(environment)
    let value = [UInt8](repeating: 7, count: 1000)
    let write = try environment.beginTransaction()
    #expect(throws: LMDBError.mapFull) {
        for index in 0..<1000 {
            try write.put(value, for: bytes("key\(index)"), in: database)
        }
    }
    write.abort()

    let before = try environment.info().mapSize
    try environment.setMapSize(before * 32)
    #expect(try environment.info().mapSize == before * 32)
    let retry = try environment.beginTransaction()
    for index in 0..<1000 {
        try retry.put(value, for: bytes("key\(index)"), in: database)
    }
    try retry.commit()
}

@Test func writeInReadOnlyTransaction_isRefused() throws {
    let directory = TemporaryDirectory()
    let environment = try openEnvironment(directory)
    let database = try openDatabase(environment)
    let read = try environment.beginTransaction(readOnly: true)
    let error = #expect(throws: LMDBError.self) {
        try read.put(bytes("v"), for: bytes("k"), in: database)
    }
    #expect(error?.code == EACCES)
}

@Test func open_missingDirectory_throwsENOENT_andDescribesIt() throws {
    let error = #expect(throws: LMDBError.self) {
        _ = try Environment(path: "/nonexistent-twofactord-test/dir", mapSize: 1 << 20, maxDatabases: 1)
    }
    #expect(error?.code == ENOENT)
    #expect(error?.description.contains("No such file or directory") == true)
}

@Test func errorDescription_comesFromMdbStrerror() {
    #expect(LMDBError.notFound.description.contains("MDB_NOTFOUND"))
    #expect(LMDBError.mapFull.description.contains("MDB_MAP_FULL"))
    #expect(LMDBError.keyExists.code == -30799)
}

@Test func readerCheck_onAFreshEnvironment_clearsNothing() throws {
    let directory = TemporaryDirectory()
    let environment = try openEnvironment(directory)
    #expect(try environment.readerCheck() == 0)
    let read = try environment.beginTransaction(readOnly: true)
    #expect(try environment.info().readersInUse >= 1)
    read.abort()
}

@Test func tooManyNamedDatabases_throwsDatabasesFull() throws {
    let directory = TemporaryDirectory()
    let environment = try Environment(path: directory.path, mapSize: 1 << 20, maxDatabases: 1)
    let write = try environment.beginTransaction()
    _ = try write.openDatabase(named: "one")
    #expect(throws: LMDBError.databasesFull) { _ = try write.openDatabase(named: "two") }
}

@Test func open_truncatedDataFile_throwsTruncated_insteadOfMappingPagesPastItsEnd() throws {
    let directory = TemporaryDirectory()
    do {
        let environment = try openEnvironment(directory)
        let database = try openDatabase(environment)
        let write = try environment.beginTransaction()
        for index in 0..<200 { try write.put(Array(repeating: 7, count: 500), for: bytes("key\(index)"), in: database) }
        try write.commit()
    }
    var info = stat()
    #expect(stat(directory.path + "/data.mdb", &info) == 0 && info.st_size > 8 * 4096)
    // Two pages: the meta pages survive, the pages they list do not; reading one would be SIGBUS.
    #expect(truncate(directory.path + "/data.mdb", 2 * 4096) == 0)
    #expect(throws: LMDBError.truncated) { _ = try openEnvironment(directory) }
    #expect(throws: LMDBError.truncated) {
        _ = try Environment(path: directory.path, mapSize: 1 << 20, maxDatabases: 4, flags: [.readOnly])
    }
    #expect(LMDBError.truncated.description.contains("truncated"))
}

/// A copy by a handle that only reads (a backup beside the daemon, in a process of its own) after the writer
/// grew the data past that handle's map: LMDB refuses the copy's read transaction (`MDB_MAP_RESIZED`) before
/// anything is written, and the copy adopts the writer's map size and is made whole.
@Test func copy_afterTheWriterGrewTheDataPastTheReadersMap_adoptsTheNewSizeAndCopiesEverything() throws {
    let directory = TemporaryDirectory()
    let writer = try openEnvironment(directory)
    let database = try openDatabase(writer)
    // Without the lock file: one process must not open LMDB's lock file through two handles.
    let reader = try Environment(path: directory.path, mapSize: 0, maxDatabases: 4, flags: [.readOnly, .noLock])
    #expect(try reader.info().mapSize == 1 << 20)
    let big = [UInt8](repeating: 1, count: 600 << 10)
    for index in 0..<4 {
        try writer.write { (transaction: borrowing Transaction) throws(LMDBError) in
            try transaction.put(big, for: bytes("big\(index)"), in: database)
        }
    }
    #expect(try writer.info().mapSize > 1 << 20)

    let copyPath = directory.path + "/copy.mdb"
    let file = open(copyPath, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    try #require(file >= 0)
    try reader.copy(toDescriptor: file, compact: true)
    close(file)
    let copy = try Environment(
        path: copyPath,
        mapSize: 0,
        maxDatabases: 4,
        flags: [.noSubdirectory, .readOnly, .noLock]
    )
    let read = try copy.beginTransaction(readOnly: true)
    let copied = try read.openDatabase(named: "test", create: false)
    for index in 0..<4 { #expect(try read.get(bytes("big\(index)"), in: copied) == big) }
}
