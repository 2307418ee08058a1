import AccountStore
import LMDB
import StoredRecords

// A login reads the same for every name (StoredRecords/LoginStandIn.swift): a name without an account reads the
// stand-in where its record would be (a lookup in `logins`, the record decoded and trimmed, its one secret
// opened), and an account with no secret to open opens the stand-in's, so that neither the time of a denial
// nor that of a `codeNeeded` answer tells whether an account exists or has 2FA on.
extension LMDBAccountStore {
    public func accountForLogin(named name: AccountName) throws(AccountStoreError) -> Account? {
        try read { transaction in
            guard let bytes = try transaction.get(Self.key(name), in: accounts) else {
                try readStandIn(in: transaction)
                return nil
            }
            let account = try opened(decodeAccount(bytes, key: Self.key(name), in: transaction).forLogin)
            if account.hasNoSecrets { try openStandInSecret() }
            return account
        }
    }

    public func readStandInForLogin() throws(AccountStoreError) {
        try read { transaction in
            _ = try transaction.get(Self.key(LoginStandIn.name), in: accounts)
            try readStandIn(in: transaction)
        }
    }

    /// What reading an account with 2FA for a login does (`decodeAccount`: the record, then its login state
    /// applied), done with the stand-in. Its login state is looked up under a key no account has, so that an
    /// account named as the stand-in changes nothing, and applied from the stand-in's own.
    private func readStandIn(in transaction: borrowing Transaction) throws {
        _ = try transaction.get([0] + Self.key(LoginStandIn.name), in: databases.logins)
        let standIn = try standIn()
        let record = try Self.decodeRecord(standIn.record, key: Self.key(LoginStandIn.name))
        let account = (try? LoginStateRecord.decode(standIn.loginState)).flatMap { $0.applied(to: record) } ?? record
        _ = try opened(account.forLogin)
    }

    private func openStandInSecret() throws(AccountStoreError) {
        _ = try opened(try standIn().credential, of: LoginStandIn.name, authenticator: .enrolled)
    }

    /// The stand-in sealed with the key in use, sealed again after a key rotation.
    private func standIn() throws(AccountStoreError) -> SealedStandIn {
        let key = secretsKey
        if let sealed = loginStandIn.withLock({ $0 }), sealed.isSealed(with: key) { return sealed }
        let sealed = try SealedStandIn(sealedWith: key)
        loginStandIn.withLock { $0 = sealed }
        return sealed
    }
}
