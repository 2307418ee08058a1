import AccountStore
import Authentication
import Synchronization

// MUSTs of the per-account limits (security review of 2026-12-06, findings B and D; re-review, N3 and N4):
// - an account causes at most `refusalRecordsPerAccount` audit records of refused or failed requests per
//   `interval`, and the accounts of one organization together at most `refusalRecordsPerOrganization`; beyond
//   that a refusal is logged, not audited, and counted, and the account's next audited refusal says how many
//   were not: so a flood of refusals cannot push other records out of the capped trail, and the accounts of
//   one organization can hold back the refusal records of that organization only, never another's;
// - an account changes its own password, enrollment, authenticators being added or recovery codes at most
//   `selfServiceChangesPerAccount` times per `interval`, and an admin changes the accounts of its organization
//   (its own excepted) at most `adminChangesPerAccount` times; beyond that the change is refused (and logged,
//   not audited), so a flood of changes that each write cannot keep the disk syncing or the trail filling;
// - the denied logins of one origin (a uid, a remote host, local logins) in one organization get at most
//   `denialRecordsPerOrigin` audit records per `denialInterval`, the last of them saying so; beyond that a
//   denial is logged and counted, and the origin's next record in that organization says how many were not
//   audited: so a stranger who knows account names cannot push the rest of an organization's capped trail out
//   with denied logins (each still counted by the throttle and written as a record's write would be);
// - operators are never limited, as their log lines are never dropped;
// - a decision depends only on the account, its organization and the time, never on the target of the
//   request: a refusal costs the same whether the account it names exists;
// - the counts live in memory: a restart forgets them, a SIGHUP reload keeps them (the new service is given
//   the same `AccountLimits`); the denials counted and not yet audited are audited when the daemon stops
//   cleanly (`AccountService.auditUnauditedDenials`), so that only a crash loses them.

/// What each account may still cause in the current minute: audit records of refusals, and changes to itself
/// or, for an admin, to its organization's accounts. One per daemon, shared by every `AccountService` it builds.
public final class AccountLimits: Sendable {
    /// Seconds of one window.
    public static let interval: Int64 = 60
    /// Audit records of refused or failed requests one account causes per window.
    public static let refusalRecordsPerAccount = 5
    /// Such records the accounts of one organization together cause per window.
    public static let refusalRecordsPerOrganization = 100
    /// Changes an account makes to itself per window (`AccountService.spendSelfServiceChange`).
    public static let selfServiceChangesPerAccount = 10
    /// Changes an admin makes to other accounts of its organization per window (`AccountService.spendAdminChange`):
    /// one a second on average, more than a person at `twofactorctl` makes, and at most 60 `ok` records a minute:
    /// one admin alone would take more than a day to turn the 100,000-record trail over.
    public static let adminChangesPerAccount = 60

    /// Audit records of denied logins from one origin in one organization per `denialInterval`: more than a
    /// person mistyping makes, and at most 21 records an hour (with the one that counts the rest), so one uid
    /// needs more than half a year to turn over a 100,000-record trail, instead of a day.
    public static let denialRecordsPerOrigin = 20
    /// Seconds of one window of `denialRecordsPerOrigin`.
    public static let denialInterval: Int64 = 3600

    /// Where denied logins come from, within the organization whose trail their records go to.
    struct DenialSource: Hashable, Sendable {
        var origin: ThrottleOrigin
        var organization: OrganizationName
    }

    private struct RefusalBudgets: Sendable {
        var accounts: WindowBudget<AccountName>
        var organizations: WindowBudget<OrganizationName>
    }

    private let refusals: Mutex<RefusalBudgets>
    private let changes: Mutex<WindowBudget<AccountName>>
    private let adminChanges: Mutex<WindowBudget<AccountName>>
    private let denials: Mutex<WindowBudget<DenialSource>>

    public init() {
        refusals = Mutex(
            RefusalBudgets(
                accounts: WindowBudget(interval: Self.interval, perKey: Self.refusalRecordsPerAccount),
                organizations: WindowBudget(interval: Self.interval, perKey: Self.refusalRecordsPerOrganization)
            )
        )
        changes = Mutex(WindowBudget(interval: Self.interval, perKey: Self.selfServiceChangesPerAccount))
        adminChanges = Mutex(WindowBudget(interval: Self.interval, perKey: Self.adminChangesPerAccount))
        denials = Mutex(WindowBudget(interval: Self.denialInterval, perKey: Self.denialRecordsPerOrigin))
    }

    /// Whether a denied login from `origin` of an account of `organization` may be audited at `now`, and
    /// whether it is the last record that origin gets there in this window.
    func spendDenialRecord(
        from origin: ThrottleOrigin,
        in organization: OrganizationName,
        now: UnixTime
    ) -> (decision: WindowBudget<DenialSource>.Decision, last: Bool) {
        let source = DenialSource(origin: origin, organization: organization)
        return denials.withLock { budget in
            let decision = budget.spend(source, now: now)
            return (decision, budget.isSpent(source, now: now))
        }
    }

    /// The denied logins past their origin's budget that no audit record counted yet, per origin and organization,
    /// which the budget forgets.
    func takeUnauditedDenials() -> [(source: DenialSource, count: Int)] {
        denials.withLock { $0.takeSuppressed().map { (source: $0.key, count: $0.count) } }
    }

    /// Whether `account`, of `organization`, may cause one more audit record of a refusal or failure at `now`.
    func spendRefusalRecord(
        of account: AccountName,
        in organization: OrganizationName,
        now: UnixTime
    ) -> WindowBudget<AccountName>.Decision {
        refusals.withLock { budgets in
            budgets.accounts.spend(account, now: now, alongWith: organization, in: &budgets.organizations)
        }
    }

    /// Whether `account` may make one more change to itself at `now`.
    func spendSelfServiceChange(of account: AccountName, now: UnixTime) -> WindowBudget<AccountName>.Decision {
        changes.withLock { $0.spend(account, now: now) }
    }

    /// Whether the admin `account` may make one more change to another account at `now`.
    func spendAdminChange(of account: AccountName, now: UnixTime) -> WindowBudget<AccountName>.Decision {
        adminChanges.withLock { $0.spend(account, now: now) }
    }
}

extension AccountService {
    /// Counts a change an account makes to itself (`capacity` `.ownAccount`) against its budget, and refuses it
    /// past the budget: logged, not audited, as a locked login is. Changes by an admin or operator are not counted
    /// here (an admin's: `spendAdminChange`).
    func spendSelfServiceChange(_ capacity: Capacity, by actor: Actor, _ change: String) throws(ServiceError) {
        guard capacity == .ownAccount, case .account(let name) = actor else { return }
        try refuse(
            limits.spendSelfServiceChange(of: name, now: clock()),
            of: name,
            change: change,
            "changed its own password or two-factor settings \(AccountLimits.selfServiceChangesPerAccount) times"
        )
    }

    /// Counts a change an admin makes to another account of its organization (`capacity` `.admin`) against the
    /// admin's budget, and refuses it past the budget: logged, not audited, as `spendSelfServiceChange` does.
    /// Call it once the request is known to change something, just before the write (and before slow work such
    /// as hashing a password): a request that changes nothing, or that a check before it refuses, costs nothing.
    /// An operator's changes are not counted.
    func spendAdminChange(_ capacity: Capacity, by actor: Actor, _ change: AuditAction) throws(ServiceError) {
        guard capacity == .admin, case .account(let name) = actor else { return }
        try refuse(
            limits.spendAdminChange(of: name, now: clock()),
            of: name,
            change: change.rawValue,
            "changed accounts of its organization \(AccountLimits.adminChangesPerAccount) times"
        )
    }

    /// Refuses a change past its budget (`decision` exhausted): logged, not audited; `done` says what the account
    /// did too often.
    private func refuse(
        _ decision: WindowBudget<AccountName>.Decision,
        of name: AccountName,
        change: String,
        _ done: String
    ) throws(ServiceError) {
        guard case .exhausted(let wait) = decision else { return }
        logger.notice("change refused: too many this minute", metadata: ["user": "\(name)", "change": "\(change)"])
        throw ServiceError(.notPermitted, "'\(name)' \(done) within a minute: try again in \(wait) seconds")
    }
}
