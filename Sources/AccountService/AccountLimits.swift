import AccountStore
import Authentication
import Synchronization

// MUSTs of the per-account limits (security review of 2026-12-06, findings B and D):
// - an account causes at most `refusalRecordsPerAccount` audit records of refused or failed requests per
//   `interval`, and all accounts together at most `refusalRecordsInAll`; beyond that a refusal is logged,
//   not audited, and counted, and the account's next audited refusal says how many were not: so a flood of
//   refusals cannot push other records out of the capped trail;
// - an account changes its own password, enrollment, authenticators being added or recovery codes at most
//   `selfServiceChangesPerAccount` times per `interval`; beyond that the change is refused (and logged), so a
//   flood of changes that each write cannot keep the disk syncing or the trail filling;
// - operators are never limited, as their log lines are never dropped;
// - a decision depends only on the account and the time, never on the target of the request: a refusal
//   costs the same whether the account it names exists;
// - the counts live in memory: a restart forgets them, a SIGHUP reload keeps them (the new service is given
//   the same `AccountLimits`).

/// What each account may still cause in the current minute: audit records of refusals, and changes to itself.
/// One per daemon, shared by every `AccountService` it builds.
public final class AccountLimits: Sendable {
    /// Seconds of one window.
    public static let interval: Int64 = 60
    /// Audit records of refused or failed requests one account causes per window.
    public static let refusalRecordsPerAccount = 5
    /// Such records all accounts together cause per window.
    public static let refusalRecordsInAll = 100
    /// Changes an account makes to itself per window (`AccountService.spendSelfServiceChange`).
    public static let selfServiceChangesPerAccount = 10

    private let refusals: Mutex<WindowBudget<AccountName>>
    private let changes: Mutex<WindowBudget<AccountName>>

    public init() {
        refusals = Mutex(
            WindowBudget(
                interval: Self.interval,
                perKey: Self.refusalRecordsPerAccount,
                inAll: Self.refusalRecordsInAll
            )
        )
        changes = Mutex(
            WindowBudget(interval: Self.interval, perKey: Self.selfServiceChangesPerAccount, inAll: .max)
        )
    }

    /// Whether `account` may cause one more audit record of a refusal or failure at `now`.
    func spendRefusalRecord(of account: AccountName, now: UnixTime) -> WindowBudget<AccountName>.Decision {
        refusals.withLock { $0.spend(account, now: now) }
    }

    /// Whether `account` may make one more change to itself at `now`.
    func spendSelfServiceChange(of account: AccountName, now: UnixTime) -> WindowBudget<AccountName>.Decision {
        changes.withLock { $0.spend(account, now: now) }
    }
}

extension AccountService {
    /// Counts a change an account makes to itself (`capacity` `.ownAccount`) against its budget, and refuses it
    /// past the budget: logged, not audited, as a locked login is. Changes by an admin or operator are not counted.
    func spendSelfServiceChange(_ capacity: Capacity, by actor: Actor, _ change: String) throws(ServiceError) {
        guard capacity == .ownAccount, case .account(let name) = actor else { return }
        guard case .exhausted(let wait) = limits.spendSelfServiceChange(of: name, now: clock()) else { return }
        logger.notice("change refused: too many this minute", metadata: ["user": "\(name)", "change": "\(change)"])
        throw ServiceError(
            .notPermitted,
            "'\(name)' changed its own password or two-factor settings \(AccountLimits.selfServiceChangesPerAccount) "
                + "times within a minute: try again in \(wait) seconds"
        )
    }
}
