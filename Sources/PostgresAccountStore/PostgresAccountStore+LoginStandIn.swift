import AccountStore
import StoredRecords

// A login reads the same for every name, as on LMDB (LMDBAccountStore+LoginStandIn.swift): the same query, then
// the stand-in decoded and opened where no row came back, and its secret opened for an account with none.
extension PostgresAccountStore {
    public func accountForLogin(named name: AccountName) throws(AccountStoreError) -> Account? {
        guard let account = try account(named: name, trimmed: \.forLogin) else {
            try openStandIn()
            return nil
        }
        if account.hasNoSecrets {
            _ = try opened(loginStandIn.credential, of: LoginStandIn.name, authenticator: .enrolled)
        }
        return account
    }

    public func readStandInForLogin() throws(AccountStoreError) {
        _ = try read { transaction in
            try transaction.rows("SELECT record FROM accounts WHERE name = \(LoginStandIn.name.value)").first
        }
        try openStandIn()
    }

    private func openStandIn() throws(AccountStoreError) {
        _ = try opened(Self.decode(loginStandIn.record, name: LoginStandIn.name.value).forLogin)
    }
}
