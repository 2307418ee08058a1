import AccountStore

extension Account {
    /// `acceptStep` for an account as a store keeps it, with its secrets sealed: `open` opens them, and is
    /// called only once the step is known to be later than the authenticator's last one, so a replay costs
    /// no decryption. Every backend runs this inside the write transaction that then stores the account.
    package mutating func acceptSealed(
        _ claim: StepClaim,
        at time: UnixTime,
        opening open: (Account) throws(AccountStoreError) -> Account
    ) throws(AccountStoreError) -> StepAcceptance {
        let sealed = self
        var openFailure: AccountStoreError?
        let acceptance = acceptStep(
            claim.step,
            authenticator: claim.authenticator,
            credentialMatches: { _ in
                do throws(AccountStoreError) {
                    let opened = try open(sealed)
                    return opened.authenticators.first { $0.label == claim.authenticator }?.credential
                        == claim.credential
                } catch {
                    openFailure = error
                    return false
                }
            },
            drift: claim.drift,
            at: time
        )
        if let openFailure { throw openFailure }
        return acceptance
    }
}
