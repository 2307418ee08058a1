import AccountStore
import Authentication

extension AccountService {
    public func addOrganization(
        caller: Caller,
        name: String,
        requireTwoFactor: Bool
    ) throws(ServiceError) -> Organization {
        let (organizationName, actor) = try managing(name, caller: caller, action: .organizationAdd)
        let now = clock()
        let organization = Organization(
            name: organizationName,
            requiresTwoFactor: requireTwoFactor,
            createdAt: now,
            updatedAt: now
        )
        try storing { () throws(AccountStoreError) in try store.createOrganization(organization) }
        audit(actor, .organizationAdd, .ok, target: nil, organization: organizationName)
        logger.notice("organization created", metadata: ["org": "\(organizationName)"])
        return organization
    }

    /// Changes whether the organization requires two-factor authentication. Turning it on moves every
    /// member in `off` to `pending` in the same write; turning it off changes no member. When that changes
    /// nothing (the rule stands, and no member is `off` while it requires 2FA), nothing is written or audited.
    public func setOrganization(
        caller: Caller,
        name: String,
        requireTwoFactor: Bool
    ) throws(ServiceError) -> OrganizationStatus {
        let (organizationName, actor) = try managing(name, caller: caller, action: .organizationSet)
        let current = try storing { () throws(AccountStoreError) in try store.organization(named: organizationName) }
        if let current, current.requiresTwoFactor == requireTwoFactor {
            // Required already, it still moves members that were turned `off` since to `pending`.
            let movesMembers = requireTwoFactor ? try hasMemberWithoutTwoFactor(organizationName) : false
            if !movesMembers {
                return OrganizationStatus(organization: current, members: try memberCount(organizationName))
            }
        }
        let now = clock()
        let organization = try updatingOrganization(organizationName) { organization in
            organization.requiresTwoFactor = requireTwoFactor
            organization.updatedAt = now
        } eachMember: { account in
            guard requireTwoFactor, account.twoFactor == .off else { return false }
            account.twoFactor = .pending
            account.twoFactorChange = StateChange(actor: actor, time: now)
            account.updatedAt = now
            return true
        }
        audit(
            actor,
            .organizationSet,
            .ok,
            target: nil,
            organization: organizationName,
            detail: requireTwoFactor ? "two-factor required" : "two-factor not required"
        )
        logger.notice("organization changed", metadata: ["org": "\(organizationName)"])
        return OrganizationStatus(organization: organization, members: try memberCount(organizationName))
    }

    public func organization(caller: Caller, name: String) throws(ServiceError) -> OrganizationStatus {
        let organizationName = try validated { () throws(InvalidValue) in try OrganizationName(name) }
        try authorize(caller, .showOrganization(organizationName), target: nil, action: nil)
        guard
            let organization = try storing({ () throws(AccountStoreError) in
                try store.organization(named: organizationName)
            })
        else { throw ServiceError.from(.organizationNotFound(organizationName)) }
        return OrganizationStatus(organization: organization, members: try memberCount(organizationName))
    }

    /// One page of organizations in name order, for operators.
    public func organizations(
        caller: Caller,
        after: String?,
        limit: Int
    ) throws(ServiceError) -> (organizations: [OrganizationStatus], next: OrganizationName?) {
        try authorize(caller, .manageOrganizations, target: nil, action: nil)
        let start = try validated { () throws(InvalidValue) -> OrganizationName? in
            guard let after else { return nil }
            return try OrganizationName(after)
        }
        var page = try storing { () throws(AccountStoreError) in
            try store.organizations(after: start, limit: limit + 1)
        }
        let next = page.count > limit ? page[limit - 1].name : nil
        if page.count > limit { page.removeLast(page.count - limit) }
        var result: [OrganizationStatus] = []
        for organization in page {
            result.append(OrganizationStatus(organization: organization, members: try memberCount(organization.name)))
        }
        return (result, next)
    }

    public func removeOrganization(caller: Caller, name: String) throws(ServiceError) {
        let (organizationName, actor) = try managing(name, caller: caller, action: .organizationRemove)
        guard organizationName != .default else {
            throw ServiceError(.invalidArgument, "the organization 'default' cannot be removed")
        }
        try storing { () throws(AccountStoreError) in try store.removeOrganization(organizationName) }
        audit(actor, .organizationRemove, .ok, target: nil, organization: organizationName)
        logger.notice("organization removed", metadata: ["org": "\(organizationName)"])
    }

    /// Whether a member of the organization has 2FA `off`, read page by page.
    private func hasMemberWithoutTwoFactor(_ organization: OrganizationName) throws(ServiceError) -> Bool {
        try firstMember(of: organization) { $0.twoFactor == .off } != nil
    }

    private func memberCount(_ name: OrganizationName) throws(ServiceError) -> Int {
        try storing { () throws(AccountStoreError) in try store.memberCount(of: name) }
    }

    /// The organization an operator manages: its validated name, and the actor, or a refusal that is audited.
    private func managing(
        _ name: String,
        caller: Caller,
        action: AuditAction
    ) throws(ServiceError) -> (OrganizationName, Actor) {
        let organizationName = try validated { () throws(InvalidValue) in try OrganizationName(name) }
        let (_, actor) = try authorize(
            caller,
            .manageOrganizations,
            target: nil,
            requested: organizationName.value,
            action: action
        )
        return (organizationName, actor)
    }
}
