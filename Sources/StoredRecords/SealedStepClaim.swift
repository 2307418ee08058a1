import AccountStore

extension Account {
    /// `acceptStep` for an account as a store keeps it, with its secrets sealed, refused as `.replayed` when the
    /// claim's password hash is no longer the account's (`StepClaim.passwordHash`): `open` opens the sealed
    /// credential of the claimed authenticator (no other secret of the account), and is called only once the
    /// step is known to be later than the authenticator's last one, so a replay costs no decryption. Every
    /// backend runs this inside the write transaction that then stores the account.
    package mutating func acceptSealed(
        _ claim: StepClaim,
        at time: UnixTime,
        opening open: (TOTPCredential) throws(AccountStoreError) -> TOTPCredential
    ) throws(AccountStoreError) -> StepAcceptance {
        // A login whose password was checked against a hash the account no longer has: changed, or the
        // account removed and made again, while it was hashed.
        guard stillAcceptsLogin(passwordCheckedAgainst: claim.passwordHash) else { return .replayed }
        var openFailure: AccountStoreError?
        let acceptance = acceptStep(
            claim.step,
            authenticator: claim.authenticator,
            credentialMatches: { sealed in
                do throws(AccountStoreError) {
                    return try open(sealed) == claim.credential
                } catch {
                    openFailure = error
                    return false
                }
            },
            drift: claim.drift,
            offset: claim.offset,
            at: time
        )
        if let openFailure { throw openFailure }
        return acceptance
    }
}
