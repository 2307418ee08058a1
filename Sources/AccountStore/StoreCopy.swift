/// Moving a host's accounts from one store to another (LMDB into PostgreSQL when a host joins a fleet, and
/// back), through the `AccountStore` interface only, so it works between any two backends. MUSTs:
/// - the target holds no account yet: a copy never merges into, or overwrites, a store in use;
/// - every account arrives whole, its replay step (`lastAcceptedStep`) included, so a code used before the
///   move is refused after it; secrets are opened by the source and sealed again by the target under its
///   own key;
/// - organizations arrive before their members, the audit trail oldest first (renumbered by the target);
/// - what the target would refuse halfway is refused before anything is written: an organization with two
///   admins (a store that got them before stores held that rule).
/// Throttle counters per origin are not copied: they expire within hours, and each account's own failure
/// count travels with the account.
public enum StoreCopy {
    /// What was copied.
    public struct Counts: Sendable, Equatable {
        public var organizations = 0
        public var accounts = 0
        public var auditRecords = 0

        public init(organizations: Int = 0, accounts: Int = 0, auditRecords: Int = 0) {
            self.organizations = organizations
            self.accounts = accounts
            self.auditRecords = auditRecords
        }
    }

    static let page = 500

    /// Copies everything from `source` into the empty `target`.
    public static func copy(
        from source: any AccountStore,
        to target: any AccountStore
    ) throws(AccountStoreError)
        -> Counts
    {
        guard try target.accounts(in: nil, after: nil, limit: 1).isEmpty else {
            throw .storageFailure(
                "the target store already holds accounts: copy only into a new, empty store "
                    + "(a copy never merges into a store in use)"
            )
        }
        try refuseSecondAdmins(in: source)
        var counts = Counts()
        var lastOrganization: OrganizationName?
        while true {
            let organizations = try source.organizations(after: lastOrganization, limit: page)
            for organization in organizations {
                if try target.organization(named: organization.name) != nil {
                    do {
                        try target.updateOrganization(
                            organization.name,
                            { $0 = organization },
                            eachMember: { _ in false }
                        )
                    } catch {
                        throw error.storeError
                    }
                } else {
                    try target.createOrganization(organization)
                }
                counts.organizations += 1
            }
            guard let last = organizations.last, organizations.count == page else { break }
            lastOrganization = last.name
        }
        try eachAccount(of: source) { (account) throws(AccountStoreError) in
            try target.create(account)
            counts.accounts += 1
        }
        var trail: [AuditRecord] = []
        var before: UInt64?
        while true {
            let records = try source.auditRecords(matching: AuditFilter(), before: before, limit: page)
            trail.append(contentsOf: records)
            guard let oldest = records.last, records.count == page else { break }
            before = oldest.sequence
        }
        for record in trail.reversed() {
            try target.appendAudit(record)
            counts.auditRecords += 1
        }
        return counts
    }

    /// Calls `body` with every account of `source`, in name order, read a page at a time.
    static func eachAccount(
        of source: any AccountStore,
        _ body: (Account) throws(AccountStoreError) -> Void
    ) throws(AccountStoreError) {
        var after: AccountName?
        while true {
            let accounts = try source.accounts(in: nil, after: after, limit: page)
            for account in accounts { try body(account) }
            guard let last = accounts.last, accounts.count == page else { break }
            after = last.name
        }
    }

    /// Throws, naming them, when an organization of `source` has more than one admin: every store refuses the
    /// second (`AccountStoreError.organizationHasAdmin`), so the copy would stop halfway.
    static func refuseSecondAdmins(in source: any AccountStore) throws(AccountStoreError) {
        var admins: [OrganizationName: [AccountName]] = [:]
        try eachAccount(of: source) { (account) throws(AccountStoreError) in
            if account.role == .admin { admins[account.organization, default: []].append(account.name) }
        }
        let doubled = admins.filter { $0.value.count > 1 }.sorted { $0.key.value < $1.key.value }
        guard let (organization, names) = doubled.first else { return }
        throw .storageFailure(
            "nothing was copied: the organization '\(organization)' has \(names.count) admins ("
                + names.map(\.value).joined(separator: ", ")
                + "), and a store takes one: remove all but one with `twofactorctl user remove NAME` (add them "
                + "again as agents if they should stay), then copy again"
                + (doubled.count > 1 ? " (\(doubled.count - 1) more organizations have more than one admin)" : "")
        )
    }
}
