import AccountStore
import Authentication

extension AccountService {
    /// The longest grace period an organization may set: one day, as for the daemon's `--grace-period`.
    public static let maximumGracePeriod: Int64 = 86_400
    /// The most networks an organization may trust (as many as one OrganizationAccessSet carries).
    public static let maximumTrustedNetworks = 16
    /// The most agent name patterns an organization may have (as many as one OrganizationAccessSet carries).
    public static let maximumAgentNames = 16

    /// Changes an organization's grace period, trusted networks and agent names (operators only). `gracePeriod`:
    /// nil leaves it, `.some(nil)` returns to the daemon's, a value sets it (0: off for this organization); in the
    /// same write, every member's running grace that lasts longer from its start than the new period ends then
    /// (at once for 0).
    /// `trustedNetworks` and `agentNames`: nil leaves them, a list replaces them (empty: none). When that changes
    /// nothing (each setting given is the current one), nothing is written or audited.
    public func setOrganizationAccess(
        caller: Caller,
        name: String,
        gracePeriod: Int64??,
        trustedNetworks: [String]?,
        agentNames: [String]? = nil
    ) throws(ServiceError) -> Organization {
        let organizationName = try validated { () throws(InvalidValue) in try OrganizationName(name) }
        let (_, actor) = try authorize(
            caller,
            .manageOrganizations,
            target: nil,
            requested: organizationName.value,
            action: .organizationSet
        )
        if case .some(.some(let seconds)) = gracePeriod, !(0...Self.maximumGracePeriod).contains(seconds) {
            throw ServiceError(
                .invalidArgument,
                "the grace period must be 0 (off) to \(Self.maximumGracePeriod) seconds"
            )
        }
        let networks = try trustedNetworks.map { texts throws(ServiceError) in
            try distinct(texts, atMost: Self.maximumTrustedNetworks, of: "trusted networks") {
                (text) throws(InvalidValue) in try IPNetwork(text)
            }
        }
        let patterns = try agentNames.map { texts throws(ServiceError) in
            try distinct(texts, atMost: Self.maximumAgentNames, of: "agent name patterns") {
                (text) throws(InvalidValue) in try AccountNamePattern(text)
            }
        }
        guard
            let current = try storing({ () throws(AccountStoreError) in
                try store.organization(named: organizationName)
            })
        else { throw ServiceError.from(.organizationNotFound(organizationName)) }
        if gracePeriod.map({ $0 == current.gracePeriod }) ?? true,
            networks.map({ $0 == current.trustedNetworks }) ?? true,
            patterns.map({ $0 == current.agentNames }) ?? true
        {
            return current
        }
        let now = clock()
        // The period its members' graces now have: a shorter one ends or shortens those running, at once.
        let cap = gracePeriod.map { $0 ?? configuration.gracePeriod }
        let organization = try updatingOrganization(organizationName) { organization in
            if let gracePeriod { organization.gracePeriod = gracePeriod }
            if let networks { organization.trustedNetworks = networks }
            if let patterns { organization.agentNames = patterns }
            organization.updatedAt = now
        } eachMember: { member in
            guard let cap else { return false }
            return member.capGraces(at: cap, now: now)
        }
        var details: [String] = []
        if gracePeriod != nil {
            details.append("grace period " + (organization.gracePeriod.map { "\($0)s" } ?? "the daemon's"))
        }
        if let networks {
            details.append(
                networks.isEmpty
                    ? "no trusted networks" : "trusted networks " + networks.map(\.description).joined(separator: " ")
            )
        }
        if let patterns {
            details.append(
                patterns.isEmpty
                    ? "no agent names" : "agent names " + patterns.map(\.value).joined(separator: " ")
            )
        }
        audit(
            actor,
            .organizationSet,
            .ok,
            target: nil,
            organization: organizationName,
            detail: String(details.joined(separator: ", ").utf8.prefix(128)) ?? ""
        )
        logger.notice("organization access changed", metadata: ["org": "\(organizationName)"])
        return organization
    }

    /// `texts` parsed, each value once, in their order; at most `maximum` of them.
    private func distinct<Value: Equatable>(
        _ texts: [String],
        atMost maximum: Int,
        of kind: String,
        parse: (String) throws(InvalidValue) -> Value
    ) throws(ServiceError) -> [Value] {
        guard texts.count <= maximum else {
            throw ServiceError(.invalidArgument, "an organization has \(maximum) \(kind) at most")
        }
        var values: [Value] = []
        for text in texts {
            let value = try validated { () throws(InvalidValue) in try parse(text) }
            if !values.contains(value) { values.append(value) }
        }
        return values
    }
}
