import AccountStore
import Authentication

// MUSTs of a login without a code (CodeWaiver.swift decides which; this file carries it out):
// - the waiver is checked again inside the write that records the login, against the stored account and its
//   organization as that write reads them: a grace revoked, an exemption removed, a trusted network removed or
//   a password changed meanwhile makes the login ask for a code;
// - a grace starts only in the write that accepts a code's step (the replay guard's write), never from a
//   login that skipped the code: a grace is never extended without a code; it lasts as long as the organization
//   as that write reads it says, never longer than the one read before the login's password hash;
// - every login without a code is audited with the waiver that allowed it.

extension AccountService {
    /// The organization whose access rules apply to `account` (`default` for an unknown user, read all the
    /// same so that the work does not tell the two apart).
    func accessOrganization(of account: Account?) throws(ServiceError) -> Organization? {
        let name = account?.organization ?? .default
        return try storing { () throws(AccountStoreError) in try store.organization(named: name) }
    }

    /// Records a login that `waiver` lets skip the code; false when the waiver no longer holds in the store (the
    /// account and its organization as the write reads them). A login's `password`, when given, lets it be decided
    /// once more if the password was rehashed meanwhile (AccountService+RehashedLogin).
    func useWaiver(
        _ waiver: CodeWaiver,
        account: Account,
        password: [UInt8]? = nil,
        context: LoginContext,
        now: UnixTime
    ) throws(ServiceError) -> Bool {
        do {
            // The organization as stored in this write, not as read before the hash: a trusted network removed
            // meanwhile no longer lets the login in.
            try store.updateWithOrganization(account.name) {
                (stored: inout Account, storedOrganization: Organization?) throws(WaiverWithdrawn) in
                let current = CodeWaiverPolicy.waiver(
                    for: stored,
                    passwordMatches: stored.passwordHash == account.passwordHash,
                    organization: storedOrganization,
                    defaultGracePeriod: configuration.gracePeriod,
                    context: context,
                    now: now
                )
                guard current != nil else { throw WaiverWithdrawn() }
                stored.sweepExpiredGrants(at: now)
                stored.failureCount = 0
                stored.lastLoginAt = now
                stored.updatedAt = now
            }
        } catch {
            switch error {
            case .rejected:
                guard let current = try rehashedDuringTheLogin(account, password: password) else { return false }
                return try useWaiver(waiver, account: current, context: context, now: now)
            case .store(let error): throw ServiceError.from(error)
            }
        }
        return true
    }

    /// What the write accepting a code's step also does: start the grace this login earns, if any, as long as the
    /// organization as stored in that write says (a grace period shortened or turned off while the login ran is the
    /// one that applies). Nil when `organization`, as read before, gives none: a grace period turned on meanwhile
    /// starts no grace for this login, and the write reads no organization.
    func graceGrant(
        organization: Organization?,
        context: LoginContext,
        now: UnixTime
    ) -> AcceptedStepChange? {
        let defaultPeriod = configuration.gracePeriod
        guard
            CodeWaiverPolicy.graceToGrant(organization: organization, defaultPeriod: defaultPeriod, context: context)
                != nil
        else { return nil }
        return { account, stored in
            guard
                let (key, seconds) = CodeWaiverPolicy.graceToGrant(
                    organization: stored,
                    defaultPeriod: defaultPeriod,
                    context: context
                )
            else { return }
            account.sweepExpiredGrants(at: now)
            account.grantGrace(key, seconds: seconds, now: now)
        }
    }
}

private struct WaiverWithdrawn: Error {}
