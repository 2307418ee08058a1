import AccountStore

// MUSTs of a login whose write found its password rehashed (docs/security.md, "A login that raced a rehash of its
// own password is decided once more"):
// - it is decided again only when its password was right for the hash it read, that hash is one a login upgrades
//   (made at another scrypt cost than the configured one), the account as stored now differs from the one read in
//   its password hash alone (`CredentialStamp`), and the password is right for that hash too: only then, in this
//   rare case, is the password hashed a second time;
// - it is decided again at most once, as the attempt the refused write already counted: the second write checks
//   the account as the first did, counts nothing, and a refusal of it is a denial as the first one's was. A
//   password that is wrong for the account as it now is (a real password change) is denied and counted once;
// - a login that may be decided again (`mayBeDecidedAgain`) leaves its denial out of the write that may refuse it, and
//   writes it only once it is denied: one decided again and let in leaves only its success in the audit trail, and a
//   denied one a single denial;
// - a login that got in, and whose own upgrade of the hash found it upgraded by another meanwhile, opens its session
//   on the record as stored only under the same conditions, else on the account as it found it.

extension AccountService {
    /// The account as stored now, when a login decided on `account` with `password` was refused by its write because
    /// a login of the same user rehashed the password meanwhile (`upgradePasswordHashIfNeeded`): only its password
    /// hash changed, and `password` is right for the new one. Nil otherwise, and always for a nil `password` (a
    /// login decided again already). `stillDecides` says whether the login's decision holds on the account now
    /// (a code not yet taken), so that no hash is spent on one that does not.
    func rehashedDuringTheLogin(
        _ account: Account,
        password: [UInt8]?,
        stillDecides: (Account) -> Bool = { _ in true }
    ) throws(ServiceError) -> Account? {
        guard let password, mayBeDecidedAgain(account, password: password) else { return nil }
        let current = try storing { () throws(AccountStoreError) in try store.accountForLogin(named: account.name) }
        guard let current, current.passwordHash != account.passwordHash else { return nil }
        var asRead = current
        asRead.passwordHash = account.passwordHash
        guard CredentialStamp(asRead) == CredentialStamp(account), stillDecides(current),
            (try? hasher.verify(password, against: current.passwordHash)) == true
        else { return nil }
        logger.info("login decided again: its password was rehashed meanwhile", metadata: ["user": "\(account.name)"])
        return current
    }

    /// Whether a login decided on `account` with `password` is decided again should its write be refused for an
    /// account changed meanwhile, when only a rehash changed it (`rehashedDuringTheLogin`): its password was checked
    /// against a hash that a login upgrades. Such a login audits its denial only once it is one.
    func mayBeDecidedAgain(_ account: Account, password: [UInt8]?) -> Bool {
        password != nil && hasher.needsRehash(account.passwordHash)
    }

    /// For `rehashedDuringTheLogin`: whether `code` is still to be accepted on the account as it is now (its step
    /// not taken meanwhile).
    func stillAccepts(_ code: String, at now: UnixTime) -> (Account) -> Bool {
        { account in
            guard case .accepted = self.configuration.drift.match(code, among: account.authenticators, at: now) else {
                return false
            }
            return true
        }
    }
}
