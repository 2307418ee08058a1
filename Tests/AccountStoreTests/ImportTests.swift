import AccountStore
import LMDB
import LMDBAccountStore
import OneTimePassword
import StoredRecords
import Testing

/// An enrolled account with a secret of its own, as the load generator's bulk loader builds them.
private func importedAccount(_ index: Int, organization: String = "default") -> Account {
    var account = makeAccount("bulk\(index)", organization: organization)
    let secret = (0..<20).map { UInt8(truncatingIfNeeded: index &* 31 &+ $0) }
    account.authenticators = [
        Authenticator(
            label: .enrolled,
            credential: TOTPCredential(secret: secret, parameters: .standard),
            lastAcceptedStep: 7,
            enrolledAt: 1_000
        )
    ]
    return account
}

/// The names of the members of `organization`, through the member index.
private func members(_ store: LMDBAccountStore, _ organization: String) throws -> [String] {
    try store.accounts(in: try OrganizationName(organization), after: nil, limit: .max).map(\.name.value)
}

@Suite struct ImportTests {
    @Test func importAccounts_inChunks_writesEveryAccount_readableAndIndexed() throws {
        let fixture = StoreFixture()
        let accounts = (0..<5_000).map { importedAccount($0, organization: $0 % 5 == 0 ? "five" : "default") }
        do {
            let store = try fixture.open()
            try store.addOrganizations("five")
            try store.create(makeAccount("before"))
            for start in stride(from: 0, to: accounts.count, by: 2_000) {
                try store.importAccounts(Array(accounts[start..<min(start + 2_000, accounts.count)]))
            }
            #expect(try store.accountCount() == 5_001)
        }
        // Reopened: the chunks were durable, and each account reads back as it was given, secrets opened.
        let store = try fixture.open()
        #expect(try store.accountCount() == 5_001)
        for index in [0, 1, 1_999, 2_000, 4_999] {
            #expect(try store.account(named: accounts[index].name) == accounts[index])
        }
        #expect(try members(store, "five").count == 1_000)
        #expect(try members(store, "default").count == 4_001)
        #expect(try members(store, "five").allSatisfy { Int($0.dropFirst(4))! % 5 == 0 })
    }

    @Test func importAccounts_sealsSecrets_likeCreate() throws {
        let fixture = StoreFixture()
        let account = importedAccount(3)
        do {
            let store = try fixture.open()
            try store.importAccounts([account])
        }
        var stored: [UInt8]?
        try fixture.withRawWrite { transaction in
            let accounts = try transaction.openDatabase(named: "accounts")
            stored = try transaction.get(Array(account.name.value.utf8), in: accounts)
        }
        let record = try AccountRecord.decode(try #require(stored))
        #expect(record.name == account.name)
        #expect(record.totp?.secret != account.totp?.secret, "the stored secret is sealed, not in the clear")
        #expect(try fixture.open().account(named: account.name) == account)
    }

    @Test func importAccounts_existingName_rollsBackTheWholeChunk() throws {
        let fixture = StoreFixture()
        let store = try fixture.open()
        let first = makeAccount("bulk2")
        try store.create(first)
        let chunk = (0..<10).map { importedAccount($0) }
        let error = storeError { try store.importAccounts(chunk) }
        guard case .alreadyExists(let name) = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(name == first.name)
        #expect(try store.accountCount() == 1)
        #expect(try store.account(named: chunk[0].name) == nil, "an account before the refused one was rolled back")
        #expect(try store.account(named: chunk[9].name) == nil)
        #expect(try store.account(named: first.name) == first)
        #expect(try members(store, "default") == ["bulk2"], "no member index entry was left behind")
    }

    @Test func importAccounts_nameRepeatedInTheChunk_writesNone() throws {
        let fixture = StoreFixture()
        let store = try fixture.open()
        let chunk = [importedAccount(1), importedAccount(2), importedAccount(1)]
        guard case .alreadyExists(let name) = storeError({ try store.importAccounts(chunk) }) else {
            Issue.record("a repeated name was not refused")
            return
        }
        #expect(name == chunk[0].name)
        #expect(try store.accountCount() == 0)
        #expect(try members(store, "default").isEmpty)
    }

    @Test func importAccounts_unknownOrganization_writesNone() throws {
        let fixture = StoreFixture()
        let store = try fixture.open()
        let chunk = [importedAccount(1), importedAccount(2, organization: "missing")]
        guard case .organizationNotFound = storeError({ try store.importAccounts(chunk) }) else {
            Issue.record("an unknown organization was not refused")
            return
        }
        #expect(try store.accountCount() == 0)
        #expect(try members(store, "default").isEmpty)
    }
}
