/// An organization: one admin and its agents, and the rules that hold for all of them.
public struct Organization: Sendable, Hashable {
    public var name: OrganizationName
    /// Every member must use two-factor authentication: members in `off` are moved to `pending`,
    /// and new members start in `pending`.
    public var requiresTwoFactor: Bool
    public var createdAt: UnixTime
    public var updatedAt: UnixTime
    /// Seconds of grace after a login that checked a code; nil: the daemon's `--grace-period`.
    public var gracePeriod: Int64? = nil
    /// Networks whose remote hosts log in without a code (IPNetwork.swift); empty: none.
    public var trustedNetworks: [IPNetwork] = []
    /// The names its admin may give new agents; empty: only an operator adds accounts to it. An account's
    /// name is its login on the hosts that ask twofactord, so an admin that could choose any name could
    /// claim the login of any user without an account yet, root too.
    public var agentNames: [AccountNamePattern] = []

    /// Whether its admin may add an agent called `name`.
    public func adminMayAdd(_ name: AccountName) -> Bool {
        agentNames.contains { $0.matches(name) }
    }

    public init(name: OrganizationName, requiresTwoFactor: Bool = false, createdAt: UnixTime, updatedAt: UnixTime) {
        self.name = name
        self.requiresTwoFactor = requiresTwoFactor
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
