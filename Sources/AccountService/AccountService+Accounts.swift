import AccountStore
import Authentication

extension AccountService {
    /// Creates an account. An admin creates agents of its own organization (the default when
    /// `organization` is nil); an operator creates anything, in `default` when none is named. A member of
    /// an organization that requires two-factor authentication starts in `pending`.
    public func addAccount(
        caller: Caller,
        name: String,
        organization: String?,
        role: Role,
        requireTwoFactor: Bool,
        password: [UInt8]
    ) throws(ServiceError) -> Account {
        let accountName = try validated { () throws(InvalidValue) in try AccountName(name) }
        let organizationName = try validated { () throws(InvalidValue) in
            if let organization { return try OrganizationName(organization) }
            if case .account(let admin) = caller { return admin.organization }
            return OrganizationName.default
        }
        let (capacity, actor) = try authorize(
            caller,
            .createAccount(organization: organizationName, role: role),
            target: nil,
            requested: "\(accountName) in \(organizationName)",
            action: .accountAdd
        )
        guard
            let rules = try storing({ () throws(AccountStoreError) in
                try store.organization(named: organizationName)
            })
        else { throw ServiceError.from(.organizationNotFound(organizationName)) }
        // Before anything that could tell whether the name is taken: the refusal is the same either way. Checked
        // again in the write that creates the account, on the rules as stored then (an `org set` during the hash).
        if capacity == .admin, !rules.adminMayAdd(accountName) {
            throw agentNameRefusal(accountName, rules: rules, caller: caller)
        }
        // Checked again by the store in the write (another admin created during the hash).
        if role == .admin, let admin = try admin(of: organizationName) {
            throw ServiceError.from(.organizationHasAdmin(organizationName, admin: admin.name))
        }
        try validatePassword(password, for: accountName)
        try spendAdminChange(capacity, by: actor, .accountAdd)
        let now = clock()
        let required = requireTwoFactor || rules.requiresTwoFactor
        let hashed = Account(
            name: accountName,
            organization: organizationName,
            role: role,
            passwordHash: try hash(password),
            twoFactor: required ? .pending : .off,
            createdAt: now,
            updatedAt: now,
            twoFactorChange: required ? StateChange(actor: actor, time: now) : nil
        )
        let account: Account
        do {
            // The organization's rules as stored in this write, not as read before the hash.
            account = try store.create(hashed) { (new, stored) throws(AgentNameRefused) in
                if capacity == .admin, !stored.adminMayAdd(accountName) { throw AgentNameRefused(rules: stored) }
                if stored.requiresTwoFactor, new.twoFactor == .off {
                    new.twoFactor = .pending
                    new.twoFactorChange = StateChange(actor: actor, time: now)
                }
            }
        } catch {
            switch error {
            case .rejected(let refused): throw agentNameRefusal(accountName, rules: refused.rules, caller: caller)
            case .store(let error): throw reported(error)
            }
        }
        audit(
            actor,
            .accountAdd,
            .ok,
            target: accountName,
            organization: organizationName,
            detail: account.twoFactor == .pending ? "two-factor required" : ""
        )
        logger.notice("account created", metadata: ["user": "\(accountName)", "org": "\(organizationName)"])
        return account
    }

    /// The refusal of an admin's new account whose name the organization's agent names (`rules`) do not allow.
    private func agentNameRefusal(_ name: AccountName, rules: Organization, caller: Caller) -> ServiceError {
        let allowed =
            rules.agentNames.isEmpty
            ? "an operator adds its accounts, or lets its admin add some names with "
            : "the names its admin may add are " + rules.agentNames.map(\.value).joined(separator: " ")
                + "; an operator adds others, or changes them with "
        return refusal(
            "an admin of '\(rules.name)' may not add '\(name)': \(allowed)"
                + "twofactorctl org set \(rules.name) --agent-name PATTERN",
            of: caller,
            action: .accountAdd,
            target: nil,
            requested: "\(name) in \(rules.name)"
        )
    }

    /// The first admin of `organization`, read page by page; nil when it has none.
    private func admin(of organization: OrganizationName) throws(ServiceError) -> Account? {
        try firstMember(of: organization) { $0.role == .admin }
    }

    /// The first member of `organization`, in name order, that `matches`, read a page at a time; nil when none.
    func firstMember(
        of organization: OrganizationName,
        where matches: (Account) -> Bool
    ) throws(ServiceError) -> Account? {
        var after: AccountName?
        while true {
            let page = try storing { () throws(AccountStoreError) in
                try store.accounts(in: organization, after: after, limit: 500)
            }
            if let found = page.first(where: matches) { return found }
            guard let last = page.last else { return nil }
            after = last.name
        }
    }

    /// Sets the account's password; returns the account as the change left it (a session that changed its own
    /// password goes on with it: `AccountSession.continued(after:)`). An account's own new password counts as a
    /// change of it to itself (`spendSelfServiceChange`), an admin's to an agent as one of the admin's changes
    /// (`spendAdminChange`).
    @discardableResult
    public func setPassword(caller: Caller, name: String, password: [UInt8]) throws(ServiceError) -> Account {
        let target = try target(name, for: caller, action: .passwordChange)
        let (capacity, actor) = try authorize(caller, .setPassword, target: target, action: .passwordChange)
        try validatePassword(password, for: target.name)
        try spendSelfServiceChange(capacity, by: actor, "password")
        try spendAdminChange(capacity, by: actor, .passwordChange)
        let newHash = try hash(password)
        let now = clock()
        let changed = try updating(target, as: caller) { account in
            account.passwordHash = newHash
            // Whoever knew the old password must not ride a grace it earned (issue 11), nor hold the secret of an
            // enrollment or authenticator it was offered: the next login or `2fa add` draws a new one.
            account.graces = []
            account.pendingEnrollment = nil
            account.pendingAuthenticator = nil
            account.updatedAt = now
        }
        audit(actor, .passwordChange, .ok, target: target.name, organization: target.organization)
        logger.notice("password changed", metadata: ["user": "\(target.name)"])
        return changed
    }

    /// The account and its locks: the account-wide one, and up to `originLocksShown` of the origins locked out.
    public func status(caller: Caller, name: String, originLocksShown: Int) throws(ServiceError) -> AccountStatus {
        let target = try target(name, for: caller, action: nil)
        try authorize(caller, .showAccount, target: target, action: nil)
        return try statuses(of: [target], originLocksShown: originLocksShown)[0]
    }

    /// The accounts' statuses at one instant, their origins' locks read in one store call.
    func statuses(of accounts: [Account], originLocksShown: Int) throws(ServiceError) -> [AccountStatus] {
        let now = clock()
        let policy = configuration.throttle
        // A key below the free failures, or whose last failure is older than the longest delay, holds no lock.
        let filter = ThrottleFilter(
            minimumFailures: policy.freeFailures,
            failedSince: now - policy.maximumDelay,
            accepts: { policy.retryAfter(failures: $0.failures, lastFailure: $0.lastFailureAt, now: now) != nil }
        )
        let listings = try storing { () throws(AccountStoreError) in
            try store.throttleRecords(of: accounts.map(\.name.value), matching: filter, limit: originLocksShown)
        }
        return accounts.map { account in
            let wait = policy.retryAfter(for: account, now: now)
            let listing = listings[account.name.value] ?? ThrottleListing()
            let originLocks = listing.records.map { listed in
                let remaining = policy.retryAfter(
                    failures: listed.record.failures,
                    lastFailure: listed.record.lastFailureAt,
                    now: now
                )
                return OriginLock(
                    origin: listed.origin,
                    failures: listed.record.failures,
                    lockedUntil: now + (remaining ?? 0)
                )
            }
            return AccountStatus(
                account: account,
                // A hard lock has no end: `.max` says "until unlocked".
                lockedUntil: wait.map { $0 == .max ? .max : now + $0 },
                originLocks: originLocks,
                lockedOrigins: listing.total
            )
        }
    }

    /// One page of accounts in name order; `next` is where the following page starts, nil at the end.
    /// An admin sees its own organization only.
    public func accounts(
        caller: Caller,
        organization: String?,
        after: String?,
        limit: Int
    ) throws(ServiceError) -> (accounts: [AccountStatus], next: AccountName?) {
        var organizationName = try validated { () throws(InvalidValue) -> OrganizationName? in
            guard let organization else { return nil }
            return try OrganizationName(organization)
        }
        let start = try validated { () throws(InvalidValue) -> AccountName? in
            guard let after else { return nil }
            return try AccountName(after)
        }
        guard limit > 0 else { throw ServiceError(.invalidArgument, "the page size must be at least 1") }
        let (capacity, _) = try authorize(
            caller,
            .listAccounts(organization: organizationName),
            target: nil,
            action: nil
        )
        if capacity == .admin, case .account(let admin) = caller { organizationName = admin.organization }
        if let organizationName {
            guard
                try storing({ () throws(AccountStoreError) in try store.organization(named: organizationName) })
                    != nil
            else { throw ServiceError.from(.organizationNotFound(organizationName)) }
        }
        var page = try storing { () throws(AccountStoreError) in
            try store.accounts(in: organizationName, after: start, limit: limit + 1)
        }
        // A list tells only whether origins are locked, not which.
        guard page.count > limit else { return (try statuses(of: page, originLocksShown: 0), nil) }
        page.removeLast(page.count - limit)
        return (try statuses(of: page, originLocksShown: 0), page.last?.name)
    }

    /// Removes the account, and the failure counts of its name (its logins' and resyncs of it).
    public func removeAccount(caller: Caller, name: String) throws(ServiceError) {
        let target = try target(name, for: caller, action: .accountRemove)
        let (capacity, actor) = try authorize(caller, .removeAccount, target: target, action: .accountRemove)
        try spendAdminChange(capacity, by: actor, .accountRemove)
        // Only the account the request was decided on: not another made under its name since.
        do {
            try store.remove(target.name, ifStill: target.identity)
        } catch {
            guard case .notFound = error else { throw reported(error) }
            throw Self.removedMeanwhile(target.name)
        }
        // Its failed logins and resyncs go with it: an account made again under the name, perhaps in another
        // organization, is not locked by them, nor shown the uids and hosts that failed.
        try clearFailures(of: target.name, resyncsToo: true)
        audit(actor, .accountRemove, .ok, target: target.name, organization: target.organization)
        logger.notice("account removed", metadata: ["user": "\(target.name)"])
    }

    /// Clears the failure counts, and with them the locks, the account's resync locks included, and ends the
    /// graces. With no failure counted (of a login or of a resync) and no grace running, nothing is written or
    /// audited.
    public func unlock(caller: Caller, name: String) throws(ServiceError) {
        let target = try target(name, for: caller, action: .unlock)
        let (capacity, actor) = try authorize(caller, .unlock, target: target, action: .unlock)
        let now = clock()
        let failures = try failures(of: target)
        guard failures.ofLogins || failures.ofResyncs || !target.activeGraces(at: now).isEmpty else { return }
        try spendAdminChange(capacity, by: actor, .unlock)
        // The write first: it refuses an account made again under the name since the read, whose failures are
        // then left alone too.
        try updating(target, as: caller) { account in
            // A lock means someone guessed: graces end with it, so the next login shows a code.
            account.graces = []
            account.updatedAt = now
        }
        try clearFailures(of: target.name, resyncsToo: failures.ofResyncs)
        audit(actor, .unlock, .ok, target: target.name, organization: target.organization)
        logger.notice("account unlocked", metadata: ["user": "\(target.name)"])
    }

    /// Clears every failure counted for logins of `name` and, with `resyncsToo`, for resyncs of it.
    private func clearFailures(of name: AccountName, resyncsToo: Bool) throws(ServiceError) {
        try storing { () throws(AccountStoreError) in try store.clearAllAttempts(of: name.value) }
        guard resyncsToo else { return }
        let resyncs = Self.resyncThrottleSubject(of: name)
        try storing { () throws(AccountStoreError) in try store.clearAllAttempts(of: resyncs) }
    }

    /// Whether a failure is counted for the account's logins (its own count, or any origin's record), and for
    /// resyncs of it (any uid's record). (A stand-in counter of its name, left from before it existed, counts for
    /// no account, and is not looked at.) Read only: a failure counted after this is one counted after the
    /// unlock.
    private func failures(of account: Account) throws(ServiceError) -> (ofLogins: Bool, ofResyncs: Bool) {
        let resyncs = Self.resyncThrottleSubject(of: account.name)
        let anyFailure = ThrottleFilter(minimumFailures: 1, failedSince: .min, accepts: { _ in true })
        let listings = try storing { () throws(AccountStoreError) in
            try store.throttleRecords(of: [account.name.value, resyncs], matching: anyFailure, limit: 0)
        }
        let counted = { (subject: String) in listings[subject].map { $0.total > 0 } ?? false }
        let ownCount = account.failureCount != 0 || account.lastFailureAt != nil
        return (ownCount || counted(account.name.value), counted(resyncs))
    }

    /// A page of the audit trail the caller may read, newest first: an agent its own records, an admin its
    /// organization's, an operator everything. A page examines a bounded number of records
    /// (`AccountStore.auditPage`), so it may hold fewer than `limit` with more to come from its `next`.
    ///
    /// Names are reused: an account removed and made again, perhaps in another organization, leaves its
    /// records under the old one's name. So an account reads the records of a name only within the
    /// organization that name is in now, and its own records only from when it was made. So are organization
    /// names: an account reads an organization's records only from when the organization was made.
    public func auditPage(
        caller: Caller,
        account: String?,
        organization: String?,
        since: UnixTime?,
        before: UInt64?,
        limit: Int
    ) throws(ServiceError) -> AuditPage {
        guard let filter = try auditFilter(caller: caller, account: account, organization: organization, since: since)
        else { return AuditPage(records: [], next: 0) }
        return try storing { () throws(AccountStoreError) in
            try store.auditPage(matching: filter, before: before, limit: limit)
        }
    }

    /// What of the trail `caller` reads for these filters (see `auditPage`), or nil when it reads nothing.
    private func auditFilter(
        caller: Caller,
        account: String?,
        organization: String?,
        since: UnixTime?
    ) throws(ServiceError) -> AuditFilter? {
        var filter = AuditFilter(since: since)
        filter.organization = try validated { () throws(InvalidValue) -> OrganizationName? in
            guard let organization else { return nil }
            return try OrganizationName(organization)
        }
        var subject: Account?
        if let account {
            let target = try target(account, for: caller, action: nil)
            try authorize(caller, .readAudit, target: target, action: nil)
            filter.target = target.name
            subject = target
        } else {
            switch caller {
            case .operator: break
            case .account(let own) where own.role == .admin:
                guard filter.organization == nil || filter.organization == own.organization else {
                    throw ServiceError(.notPermitted, "an admin reads only its own organization '\(own.organization)'")
                }
                filter.organization = own.organization
            case .account(let own):
                filter.target = own.name
                subject = own
            case .anonymous:
                try authorize(caller, .readAudit, target: nil, action: nil)
            }
        }
        if case .account(let own) = caller, let subject {
            // Another organization's records of the name are an earlier account's: nothing to read.
            guard filter.organization == nil || filter.organization == subject.organization else { return nil }
            filter.organization = subject.organization
            if subject.name == own.name { filter.since = max(filter.since ?? own.createdAt, own.createdAt) }
        }
        if case .account = caller, let name = filter.organization {
            // An organization removed and made again is a new one: the earlier one's records are not its own.
            let createdAt = try storing { () throws(AccountStoreError) in
                try store.organization(named: name)?.createdAt
            }
            if let createdAt { filter.since = max(filter.since ?? createdAt, createdAt) }
        }
        return filter
    }
}

/// The organization as stored in the write that creates an admin's new account does not allow its name.
private struct AgentNameRefused: Error {
    var rules: Organization
}
