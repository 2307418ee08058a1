import AccountStore
import Authentication

// MUSTs of grace and exemption administration:
// - who may do what is `AccessPolicy`'s decision (`.revokeGraces`, `.manageExemptions`, `.showAccount`);
// - an exemption names one PAM service, ends at a time in the future no further than a year ahead, and is
//   audited when added, removed and used; expired ones are swept whenever the account is written here;
// - a request that would change nothing writes nothing and is not audited (a revoke without a running grace, an
//   exemption added again as it is), and an admin's changes are bounded per minute (`spendAdminChange`).

/// One exemption with the account it belongs to, as `exempt list` shows it.
public struct AccountExemption: Sendable, Hashable {
    public var account: AccountName
    public var exemption: Exemption
}

extension AccountService {
    /// The longest an exemption may run: a year. Automation that needs longer should be given a key instead.
    public static let maximumExemptionLength: Int64 = 366 * 86_400

    /// Ends every grace period of the account at once. With none running, nothing is written or audited.
    public func revokeGraces(caller: Caller, name: String) throws(ServiceError) {
        let target = try target(name, for: caller, action: .graceRevoke)
        let (capacity, actor) = try authorize(caller, .revokeGraces, target: target, action: .graceRevoke)
        let now = clock()
        guard !target.activeGraces(at: now).isEmpty else { return }
        try spendAdminChange(capacity, by: actor, .graceRevoke)
        var ended = 0
        try updating(target, as: caller) { account in
            ended = account.activeGraces(at: now).count
            account.graces = []
            account.updatedAt = now
        }
        audit(
            actor,
            .graceRevoke,
            .ok,
            target: target.name,
            organization: target.organization,
            detail: "\(ended) ended"
        )
        logger.notice("graces revoked", metadata: ["user": "\(target.name)", "ended": "\(ended)"])
    }

    /// The account's running graces and exemptions, for `user show` and `exempt list NAME`.
    public func accessGrants(
        caller: Caller,
        name: String
    ) throws(ServiceError) -> (graces: [Grace], exemptions: [Exemption]) {
        let target = try target(name, for: caller, action: nil)
        try authorize(caller, .showAccount, target: target, action: nil)
        let now = clock()
        return (
            target.activeGraces(at: now, underPeriod: try gracePeriod(of: target)), target.activeExemptions(at: now)
        )
    }

    /// The grace period that holds for `account` now: its organization's, else the daemon's.
    private func gracePeriod(of account: Account) throws(ServiceError) -> Int64 {
        CodeWaiverPolicy.gracePeriod(
            organization: try accessOrganization(of: account),
            defaultPeriod: configuration.gracePeriod
        )
    }

    /// Adds (or replaces) the account's exemption for `service`. The same exemption (service, uid and end) already
    /// there: nothing is written or audited, and it keeps who granted it when.
    public func addExemption(
        caller: Caller,
        name: String,
        service: String,
        until: UnixTime,
        fromUID: UInt32?
    ) throws(ServiceError) {
        let target = try target(name, for: caller, action: .exemptionAdd)
        let (capacity, actor) = try authorize(caller, .manageExemptions, target: target, action: .exemptionAdd)
        try Self.validateService(service)
        let now = clock()
        guard until > now else { throw ServiceError(.invalidArgument, "the exemption must end in the future") }
        guard until - now <= Self.maximumExemptionLength else {
            throw ServiceError(.invalidArgument, "an exemption may last a year at most: give an earlier --until")
        }
        guard !target.exemptions.contains(where: { Self.isSame($0, service: service, fromUID: fromUID, until: until) })
        else { return }
        try spendAdminChange(capacity, by: actor, .exemptionAdd)
        let exemption = Exemption(service: service, fromUID: fromUID, until: until, grantedBy: actor, grantedAt: now)
        try updating(target, as: caller) { (account: inout Account) throws(ServiceError) in
            account.sweepExpiredGrants(at: now)
            account.exemptions.removeAll { $0.service == service }
            guard account.exemptions.count < Account.maximumExemptions else {
                throw ServiceError(
                    .invalidArgument,
                    "'\(account.name)' already has \(Account.maximumExemptions) exemptions: remove one first"
                )
            }
            account.exemptions.append(exemption)
            account.updatedAt = now
        }
        let scope = "service \(service)" + (fromUID.map { " from uid \($0)" } ?? "") + " until \(until)"
        audit(actor, .exemptionAdd, .ok, target: target.name, organization: target.organization, detail: scope)
        logger.notice("exemption added", metadata: ["user": "\(target.name)", "scope": "\(scope)"])
    }

    /// Removes the account's exemption for `service`; refuses when there is none, writing and auditing nothing.
    public func removeExemption(caller: Caller, name: String, service: String) throws(ServiceError) {
        let target = try target(name, for: caller, action: .exemptionRemove)
        let (capacity, actor) = try authorize(caller, .manageExemptions, target: target, action: .exemptionRemove)
        guard target.exemptions.contains(where: { $0.service == service }) else {
            throw Self.noSuchExemption(service, of: target.name)
        }
        try spendAdminChange(capacity, by: actor, .exemptionRemove)
        let now = clock()
        try updating(target, as: caller) { (account: inout Account) throws(ServiceError) in
            let before = account.exemptions.count
            account.exemptions.removeAll { $0.service == service }
            guard account.exemptions.count < before else { throw Self.noSuchExemption(service, of: account.name) }
            account.sweepExpiredGrants(at: now)
            account.updatedAt = now
        }
        audit(
            actor,
            .exemptionRemove,
            .ok,
            target: target.name,
            organization: target.organization,
            detail: "service \(service)"
        )
        logger.notice("exemption removed", metadata: ["user": "\(target.name)", "service": "\(service)"])
    }

    /// Running exemptions of one page of the accounts the caller may list, in name order.
    public func exemptions(
        caller: Caller,
        after: String?,
        limit: Int
    ) throws(ServiceError) -> (exemptions: [AccountExemption], next: AccountName?) {
        let page = try accounts(caller: caller, organization: nil, after: after, limit: limit)
        let now = clock()
        let found = page.accounts.flatMap { status in
            status.account.activeExemptions(at: now).map {
                AccountExemption(account: status.account.name, exemption: $0)
            }
        }
        return (found, page.next)
    }

    private static func isSame(_ exemption: Exemption, service: String, fromUID: UInt32?, until: UnixTime) -> Bool {
        exemption.service == service && exemption.fromUID == fromUID && exemption.until == until
    }

    private static func noSuchExemption(_ service: String, of name: AccountName) -> ServiceError {
        ServiceError(
            .invalidArgument,
            "'\(name)' has no exemption for service '\(service)': see `exempt list \(name)`"
        )
    }

    static func validateService(_ service: String) throws(ServiceError) {
        let bytes = Array(service.utf8)
        guard (1...64).contains(bytes.count), bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw ServiceError(
                .invalidArgument,
                "a PAM service name is 1 to 64 printable characters without spaces, such as sshd or sudo"
            )
        }
    }
}
