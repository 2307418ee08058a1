import AccountStore
import LMDB
import StoredRecords

// An account is its record in `accounts` plus, when logins changed it since the record was last written
// whole, its login state in `logins` (StoredRecords/LoginStateRecord.swift). A login that changes nothing
// else writes only the login state: a small entry in a dense database, where the record would be a leaf
// page of a large one (docs/performance.md, "the login state apart"). The rules that keep the two one account:
// - every read of an account goes through `decodeAccount`, which applies the login state to the record;
// - every write of a whole record goes through `putRecord`, which removes the login state: the record,
//   written from an account read through `decodeAccount`, now holds it;
// - a login state is written only by `save(_:changedFrom:in:)`, from an account read through
//   `decodeAccount`, so its authenticators are always the record's.
extension LMDBAccountStore {
    /// The account stored under `key`: its record with its login state applied.
    func decodeAccount(_ record: [UInt8], key: [UInt8], in transaction: borrowing Transaction) throws -> Account {
        decodedRecords.add(1, ordering: .relaxed)
        let account = try Self.decodeRecord(record, key: key)
        guard let bytes = try transaction.get(key, in: databases.logins) else { return account }
        guard let state = try? LoginStateRecord.decode(bytes), let applied = state.applied(to: account) else {
            throw AccountStoreError.corruptRecord(key: "logins/" + String(decoding: key, as: UTF8.self))
        }
        return applied
    }

    /// The account named `name`, or `.notFound`.
    func loadAccount(_ name: AccountName, in transaction: borrowing Transaction) throws -> Account {
        guard let bytes = try transaction.get(Self.key(name), in: accounts) else {
            throw AccountStoreError.notFound(name)
        }
        return try decodeAccount(bytes, key: Self.key(name), in: transaction)
    }

    /// Writes a whole account record (of an account read through `decodeAccount`, or a new one) and removes
    /// the login state it now holds.
    func putRecord(
        _ record: [UInt8],
        for key: [UInt8],
        in transaction: borrowing Transaction,
        flags: PutFlags = []
    ) throws(LMDBError) {
        try transaction.put(record, for: key, in: accounts, flags: flags)
        _ = try transaction.delete(key, in: databases.logins)
    }

    /// Writes what a login changed in `before` (read through `decodeAccount`): only the login state when
    /// nothing else changed, else the whole record.
    func save(_ account: Account, changedFrom before: Account, in transaction: borrowing Transaction) throws {
        let state = LoginState(of: account)
        if state.applied(to: before) == account {
            try transaction.put(LoginStateRecord.encode(state), for: Self.key(account.name), in: databases.logins)
        } else {
            try putRecord(AccountRecord.encode(account), for: Self.key(account.name), in: transaction)
        }
    }
}
