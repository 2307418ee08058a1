import AccountStore
import Dispatch
import Glibc
import OneTimePassword
import Synchronization
import Testing
import TestSupport

@testable import LMDBAccountStore
@testable import StoredRecords

// TOTP secrets are sealed with AES-256-GCM under a key kept outside the database (issue 7, point 6).

/// Recognisable secrets: if any of their bytes reach data.mdb in the clear, the scan finds them.
private let enrolledSecret = Array("ENROLLED-SECRET-0001".utf8)
private let pendingSecret = Array("PENDING-SECRET-00002".utf8)
private let recoveryDigest = Array("RECOVERY-CODE-HASH-0000000000003".utf8)

private func enrolledAccount(_ name: String) -> Account {
    var account = makeAccount(name)
    account.twoFactor = .on(.self)
    account.totp = TOTPCredential(secret: enrolledSecret, parameters: .standard)
    account.lastAcceptedStep = 7
    account.pendingEnrollment = PendingEnrollment(
        credential: TOTPCredential(secret: pendingSecret, parameters: .standard),
        expiresAt: 2_000
    )
    account.recoveryCodes = [RecoveryCodeHash(salt: Array(repeating: 9, count: 16), digest: recoveryDigest)]
    return account
}

private func fileBytes(_ path: String) -> [UInt8] {
    let file = open(path, O_RDONLY)
    defer { close(file) }
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
        guard count > 0 else { return result }
        result += buffer.prefix(count)
    }
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard haystack.count >= needle.count else { return false }
    return (0...(haystack.count - needle.count)).contains { haystack[$0..<$0 + needle.count].elementsEqual(needle) }
}

private func key(_ byte: UInt8, _ fixture: StoreFixture) throws -> SecretsKey {
    try SecretsKey(bytes: Array(repeating: byte, count: 32), path: fixture.directory.path + "/key-\(byte)")
}

@Test func dataFile_holdsNoPlaintextSecret_andSecretsReadBack() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(enrolledAccount("alice"))
        // A disabled account's old secret must not linger in free pages either.
        try store.create(enrolledAccount("bob"))
        try store.update(accountName("bob")) { account in
            account.twoFactor = .off
            account.totp = nil
            account.pendingEnrollment = nil
        }
    }
    let data = fileBytes(fixture.path + "/data.mdb")
    #expect(data.count > 0)
    #expect(contains(data, Array("alice".utf8)), "the scan reads the records")
    #expect(!contains(data, enrolledSecret))
    #expect(!contains(data, pendingSecret))
    #expect(!contains(data, recoveryDigest), "recovery-code hashes are sealed too")
    // Not even a third of a secret in the clear.
    #expect(!contains(data, Array(enrolledSecret.prefix(8))))

    let store = try fixture.open()
    let alice = try #require(try store.account(named: accountName("alice")))
    #expect(alice.totp?.secret == enrolledSecret)
    #expect(alice.pendingEnrollment?.credential.secret == pendingSecret)
    #expect(alice.recoveryCodes.first?.digest == recoveryDigest)
    #expect(alice == enrolledAccount("alice"))
}

@Test func newStore_createsItsKeyFileWithMode0600() throws {
    let fixture = StoreFixture()
    _ = try fixture.open()
    var info = stat()
    #expect(lstat(fixture.path + "/secrets.key", &info) == 0)
    #expect(info.st_mode & 0o777 == 0o600)
    #expect(info.st_size == 32)
}

@Test func wrongKey_isRefusedAtOpen_namingTheKeyFile() throws {
    let fixture = StoreFixture()
    do {
        let store = try LMDBAccountStore(directory: fixture.path, secretsKey: try key(1, fixture))
        try store.create(enrolledAccount("alice"))
    }
    let error = storeError { try LMDBAccountStore(directory: fixture.path, secretsKey: try key(2, fixture)) }
    guard case .storageFailure(let message) = error else { Issue.record("got \(String(describing: error))"); return }
    #expect(message.contains("\(fixture.directory.path)/key-2 is not the key"))
    // The right key still opens it.
    let store = try LMDBAccountStore(directory: fixture.path, secretsKey: try key(1, fixture))
    #expect(try store.account(named: accountName("alice"))?.totp?.secret == enrolledSecret)
}

@Test func secretMovedToAnotherAccount_doesNotOpen() throws {
    let fixture = StoreFixture()
    do {
        let store = try fixture.open()
        try store.create(enrolledAccount("alice"))
        try store.create(makeAccount("mallory"))
    }
    // Mallory's record gets Alice's sealed secret: the name bound as associated data refuses it.
    let secretKey = try SecretsKey.load(path: fixture.path + "/secrets.key", create: false)
    try fixture.withRawWrite { transaction in
        let accounts = try transaction.openDatabase(named: "accounts", create: false)
        let alice = try AccountRecord.decode(try #require(try transaction.get(Array("alice".utf8), in: accounts)))
        var mallory = try AccountRecord.decode(try #require(try transaction.get(Array("mallory".utf8), in: accounts)))
        mallory.twoFactor = .on(.self)
        mallory.totp = alice.totp
        try transaction.put(AccountRecord.encode(mallory), for: Array("mallory".utf8), in: accounts)
    }
    let store = try LMDBAccountStore(directory: fixture.path, secretsKey: secretKey)
    guard case .corruptRecord(let key) = storeError({ try store.account(named: accountName("mallory")) }) else {
        Issue.record("a secret sealed for another account was accepted")
        return
    }
    #expect(key == "accounts/mallory")
}

@Test func plaintextStoreFromBeforeSealing_isSealedInPlace() throws {
    let fixture = StoreFixture()
    do { _ = try fixture.open() }
    // A store as the first version wrote it: a plaintext record and no key check.
    try fixture.withRawWrite { transaction in
        let meta = try transaction.openDatabase(named: "meta", create: false)
        _ = try transaction.delete(LMDBAccountStore.secretsKeyCheckKey, in: meta)
        let accounts = try transaction.openDatabase(named: "accounts", create: false)
        try transaction.put(AccountRecord.encode(enrolledAccount("old")), for: Array("old".utf8), in: accounts)
    }
    #expect(contains(fileBytes(fixture.path + "/data.mdb"), enrolledSecret))
    do {
        let store = try fixture.open()
        #expect(try store.account(named: accountName("old")) == enrolledAccount("old"))
    }
    let store = try fixture.open()
    #expect(try store.account(named: accountName("old"))?.totp?.secret == enrolledSecret)
}

@Suite struct KeyFileTests {
    @Test func symlinkedKeyFile_isRefused() throws {
        let fixture = StoreFixture()
        let real = fixture.directory.path + "/real.key"
        try SecretsKey.write(try key(3, fixture), to: real)
        #expect(symlink(real, fixture.directory.path + "/link.key") == 0)
        let error = storeError { try SecretsKey.load(path: fixture.directory.path + "/link.key", create: true) }
        guard case .storageFailure(let message) = error else { return }
        #expect(message.contains("symbolic link"))
        #expect(message.contains("--secrets-key-file"))
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o620] as [mode_t])
    func keyFileOthersCanReadOrWrite_isRefused(mode: mode_t) throws {
        let fixture = StoreFixture()
        let path = fixture.directory.path + "/loose.key"
        try SecretsKey.write(try key(4, fixture), to: path)
        #expect(chmod(path, mode) == 0)
        let error = storeError { try SecretsKey.load(path: path, create: true) }
        guard case .storageFailure(let message) = error else { return }
        #expect(message.contains("chmod 600 \(path)"))
    }

    @Test func keyFileOwnedByAnotherUser_isRefused() throws {
        guard geteuid() == 0 else { return }
        let fixture = StoreFixture()
        let path = fixture.directory.path + "/foreign.key"
        try SecretsKey.write(try key(5, fixture), to: path)
        #expect(chown(path, 65534, 65534) == 0)
        let error = storeError { try SecretsKey.load(path: path, create: true) }
        guard case .storageFailure(let message) = error else { return }
        #expect(message.contains("owned by uid 65534"))
    }

    @Test func newKeyFile_inAnotherUsersDirectory_isRefused() throws {
        guard geteuid() == 0 else { return }
        let fixture = StoreFixture()
        let theirs = fixture.directory.path + "/theirs"
        #expect(mkdir(theirs, 0o755) == 0 && chown(theirs, 1000, 1000) == 0)
        let error = storeError { try SecretsKey.write(try key(6, fixture), to: theirs + "/new.key") }
        guard case .storageFailure(let message) = error else {
            Issue.record("a key was written into another user's directory")
            return
        }
        #expect(message.contains("belongs to another user"), "\(message)")
        #expect(access(theirs + "/new.key", F_OK) != 0)
    }

    @Test func keyFileOfWrongLength_isRefused() throws {
        let fixture = StoreFixture()
        let path = fixture.directory.path + "/short.key"
        let file = open(path, O_CREAT | O_WRONLY, 0o600)
        #expect(write(file, "too short", 9) == 9)
        close(file)
        let error = storeError { try SecretsKey.load(path: path, create: true) }
        guard case .storageFailure(let message) = error else { return }
        #expect(message.contains("exactly 32 bytes"))
    }

    @Test func newKeyFile_inADirectoryOthersCanWrite_isRefused() throws {
        let fixture = StoreFixture()
        let shared = fixture.directory.path + "/shared"
        #expect(mkdir(shared, 0o777) == 0)
        #expect(chmod(shared, 0o1777) == 0)
        let error = storeError { try SecretsKey.load(path: shared + "/new.key", create: true) }
        guard case .storageFailure(let message) = error else { return }
        #expect(message.contains("writable by group or others"))
        #expect(access(shared + "/new.key", F_OK) != 0)
    }

    @Test func missingKeyFile_isCreatedOnceWithAFreshKey() throws {
        let fixture = StoreFixture()
        let path = fixture.directory.path + "/made.key"
        let first = try SecretsKey.load(path: path, create: true)
        let again = try SecretsKey.load(path: path, create: true)
        #expect(first.bytes == again.bytes)
        #expect(first.bytes != Array(repeating: 0, count: 32))
        let other = try SecretsKey.load(path: fixture.directory.path + "/other.key", create: true)
        #expect(other.bytes != first.bytes)
    }
}

@Test func rotateSecretsKey_resealsEverySecret_replacesTheKeyFile_andOnlyTheNewKeyOpens() throws {
    let fixture = StoreFixture()
    let oldKey = try key(1, fixture)
    try SecretsKey.write(oldKey, to: oldKey.path)
    do {
        let store = try LMDBAccountStore(directory: fixture.path, secretsKey: oldKey)
        try store.create(enrolledAccount("alice"))
        try store.create(makeAccount("bob"))
        let rotation = try store.rotateSecretsKey()
        #expect(rotation == KeyRotation(accounts: 2, keyFile: oldKey.path))
        #expect(access(oldKey.path + ".new", F_OK) != 0)
        // The same store goes on serving: it reads what it re-sealed and seals new writes with the new key.
        #expect(try store.account(named: accountName("alice")) == enrolledAccount("alice"))
        try store.create(enrolledAccount("carol"))
    }
    let fileKey = try SecretsKey.load(path: oldKey.path, create: false)
    #expect(fileKey.bytes != oldKey.bytes)
    guard case .storageFailure = storeError({ try LMDBAccountStore(directory: fixture.path, secretsKey: oldKey) })
    else {
        Issue.record("the old key still opens the store")
        return
    }
    let store = try LMDBAccountStore(directory: fixture.path, secretsKey: fileKey)
    #expect(try store.account(named: accountName("alice")) == enrolledAccount("alice"))
    #expect(try store.account(named: accountName("bob"))?.totp == enrolledCredential)
    #expect(try store.account(named: accountName("carol")) == enrolledAccount("carol"))
}

@Test func rotateSecretsKey_refusesWhenAStagedKeyIsInTheWay_andChangesNothing() throws {
    let fixture = StoreFixture()
    let oldKey = try key(1, fixture)
    try SecretsKey.write(oldKey, to: oldKey.path)
    try SecretsKey.write(try key(7, fixture), to: oldKey.path + ".new")
    let store = try LMDBAccountStore(directory: fixture.path, secretsKey: oldKey)
    try store.create(enrolledAccount("alice"))
    guard case .storageFailure(let message) = storeError({ _ = try store.rotateSecretsKey() }) else {
        Issue.record("a rotation over a leftover KEY.new must be refused")
        return
    }
    // The store opened with KEY, so KEY.new is from a rotation stopped before its commit.
    #expect(
        message.contains("\(oldKey.path).new is left over from a key rotation that was stopped before"),
        "\(message)"
    )
    #expect(message.contains("safe to remove: rm \(oldKey.path).new"), "\(message)")
    #expect(try SecretsKey.load(path: oldKey.path, create: false).bytes == oldKey.bytes)
    #expect(try SecretsKey.load(path: oldKey.path + ".new", create: false).bytes == key(7, fixture).bytes)
    #expect(try store.account(named: accountName("alice")) == enrolledAccount("alice"))
}

@Test func rotateSecretsKey_whenKEYnewIsTheKeyInUse_saysToMoveIt_notToRemoveIt() throws {
    let fixture = StoreFixture()
    let oldKey = try key(1, fixture)
    try SecretsKey.write(oldKey, to: oldKey.path)
    let store = try LMDBAccountStore(directory: fixture.path, secretsKey: oldKey)
    try store.create(enrolledAccount("alice"))
    _ = try store.rotateSecretsKey()
    // As if the rotation's rename had failed: the key the store now seals with is (also) in KEY.new.
    try SecretsKey.write(try SecretsKey.load(path: oldKey.path, create: false), to: oldKey.path + ".new")
    guard case .storageFailure(let message) = storeError({ _ = try store.rotateSecretsKey() }) else {
        Issue.record("a rotation over KEY.new must be refused")
        return
    }
    #expect(message.contains("mv \(oldKey.path).new \(oldKey.path)"), "\(message)")
    #expect(!message.contains("safe to remove"), "\(message)")
    #expect(try store.account(named: accountName("alice")) == enrolledAccount("alice"))
}

@Test func open_afterARotationStoppedBetweenCommitAndRename_saysToMoveKEYnewOverKEY() throws {
    let fixture = StoreFixture()
    let oldKey = try key(1, fixture)
    try SecretsKey.write(oldKey, to: oldKey.path)
    do {
        let store = try LMDBAccountStore(directory: fixture.path, secretsKey: oldKey)
        try store.create(enrolledAccount("alice"))
        _ = try store.rotateSecretsKey()
    }
    // What a kill between the commit and the rename leaves: the old key in KEY, the new one in KEY.new.
    #expect(rename(oldKey.path, oldKey.path + ".new") == 0)
    try SecretsKey.write(oldKey, to: oldKey.path)
    let error = storeError {
        _ = try LMDBAccountStore(
            directory: fixture.path,
            secretsKey: try SecretsKey.load(path: oldKey.path, create: false)
        )
    }
    guard case .storageFailure(let message) = error else {
        Issue.record("expected a storage failure, got \(String(describing: error))")
        return
    }
    #expect(message.contains("a key rotation committed but was stopped before it renamed"), "\(message)")
    #expect(message.contains("mv \(oldKey.path).new \(oldKey.path)"), "\(message)")

    #expect(rename(oldKey.path + ".new", oldKey.path) == 0)
    let store = try LMDBAccountStore(
        directory: fixture.path,
        secretsKey: try SecretsKey.load(path: oldKey.path, create: false)
    )
    #expect(try store.account(named: accountName("alice")) == enrolledAccount("alice"))
}

@Test func open_withAWrongKey_andAKEYnewThatIsWrongToo_doesNotSayToMoveIt() throws {
    let fixture = StoreFixture()
    let rightKey = try key(1, fixture)
    do {
        let store = try LMDBAccountStore(directory: fixture.path, secretsKey: rightKey)
        try store.create(enrolledAccount("alice"))
    }
    let wrongKey = try key(2, fixture)
    try SecretsKey.write(wrongKey, to: wrongKey.path)
    try SecretsKey.write(try key(3, fixture), to: wrongKey.path + ".new")
    guard
        case .storageFailure(let message) = storeError({
            try LMDBAccountStore(directory: fixture.path, secretsKey: wrongKey)
        })
    else {
        Issue.record("a wrong key must be refused")
        return
    }
    #expect(message.contains("\(wrongKey.path) is not the key this database's secrets were sealed with"), "\(message)")
    #expect(!message.contains(".new"), "\(message)")
}

/// A login of a name without an account reads a stand-in sealed with the store's key (LoginStandIn.swift): after
/// key rotations it is sealed again, so such a login never fails for a key the stand-in was sealed with before.
@Test func loginReads_ofEveryName_goOnAcrossKeyRotations() throws {
    let fixture = StoreFixture()
    let key = try key(1, fixture)
    try SecretsKey.write(key, to: key.path)
    let store = try LMDBAccountStore(directory: fixture.path, secretsKey: key)
    try store.create(enrolledAccount("alice"))
    var bob = makeAccount("bob")
    (bob.twoFactor, bob.authenticators) = (.off, [])
    try store.create(bob)
    for rotation in 0...2 {
        if rotation > 0 { _ = try store.rotateSecretsKey() }
        let opened = store.accountRecordsOpened
        #expect(try store.accountForLogin(named: accountName("nobody")) == nil, "rotation \(rotation)")
        try store.readStandInForLogin()
        #expect(try store.accountForLogin(named: accountName("bob"))?.twoFactor == .off)
        #expect(try store.accountForLogin(named: accountName("alice"))?.authenticators.count == 1)
        // One record opened by each read, the stand-in's included.
        #expect(store.accountRecordsOpened - opened == 4, "rotation \(rotation)")
    }
}

/// Code checks whose callers do not wait for the write go on through key rotations: each is applied before the
/// rotation's write or after the store seals with the new key, so none fails to open its account's secret.
@Test func checkAttemptsWhenDurable_duringKeyRotations_allOpenTheirSecrets() throws {
    let fixture = StoreFixture()
    let firstKey = try key(1, fixture)
    try SecretsKey.write(firstKey, to: firstKey.path)
    let store = try LMDBAccountStore(directory: fixture.path, secretsKey: firstKey)
    let names = (0..<4).map { accountName("user\($0)") }
    for name in names { try store.create(enrolledAccount(name.value)) }
    let stop = Atomic(false)
    let accepted = Atomic(0)
    let failed = Atomic(0)
    let threads = names.map { name in
        startThread {
            var step: UInt64 = 8
            while !stop.load(ordering: .relaxed) {
                let heard = DispatchSemaphore(value: 0)
                store.checkAttempt(
                    ThrottleKey(subject: name.value, origin: .local),
                    claiming: .step(
                        StepClaim(
                            step: step,
                            authenticator: .enrolled,
                            credential: TOTPCredential(secret: enrolledSecret, parameters: .standard),
                            drift: 0,
                            offset: 0
                        ),
                        of: name
                    ),
                    alongside: nil,
                    at: 100,
                    decide: { _, _ in .allowed },
                    audit: AttemptAudit(accepted: nil, denied: .none),
                    whenDurable: { outcome in
                        if case .success(.accepted) = outcome {
                            accepted.add(1, ordering: .relaxed)
                        } else {
                            failed.add(1, ordering: .relaxed)
                        }
                        heard.signal()
                    }
                )
                heard.wait()
                step += 1
            }
        }
    }
    for _ in 0..<20 {
        _ = try store.rotateSecretsKey()
        usleep(2_000)
    }
    stop.store(true, ordering: .relaxed)
    for thread in threads { pthread_join(thread, nil) }
    #expect(failed.load(ordering: .relaxed) == 0)
    #expect(accepted.load(ordering: .relaxed) > 20)
    for name in names { #expect(try store.account(named: name)?.totp?.secret == enrolledSecret) }
}
